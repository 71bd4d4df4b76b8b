"""The ``esml-operator`` command: ``run`` (the operator) and ``simulator``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(
            "usage: esml-operator {run,simulator} [options]\n\n"
            "  run        run the operator (see esml-operator run --help)\n"
            "  simulator  run the Elasticsearch ML simulator (see esml-operator simulator --help)"
        )
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command == "simulator":
        from esml_operator.simulator.__main__ import main as simulator_main

        return simulator_main(rest)
    if command == "run":
        from esml_operator.handlers.run import main as run_main

        return run_main(rest)
    print(f"esml-operator: unknown command {command!r}; expected 'run' or 'simulator'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
