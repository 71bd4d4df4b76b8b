"""``python -m esml_simulator``: the same as the ``esml-simulator`` command."""

from esml_simulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
