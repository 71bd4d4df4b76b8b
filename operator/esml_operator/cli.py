"""The ``esml-operator`` command: ``run`` (the operator)."""

from __future__ import annotations

import sys

from esml_operator.settings import VERSION

USAGE = """\
usage: esml-operator [-h] [--version] {run} [options]

commands:
  run        run the operator (esml-operator run --help lists every setting, its default and variable)

options:
  -h, --help  show this help message and exit
  --version   print "esml-operator <version>" and exit"""


def main(argv: list[str] | None = None) -> int:
    """Dispatch to a command; 0 on success, 2 (with the usage on stderr) for a wrong command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print(USAGE, file=sys.stderr)
        return 2
    command, rest = args[0], args[1:]
    if command in {"-h", "--help"}:
        print(USAGE)
        return 0
    if command == "--version":
        print(VERSION)
        return 0
    if command == "run":
        from esml_operator.manager.run import main as run_main

        return run_main(rest)
    print(f"{USAGE}\nesml-operator: error: unknown command {command!r}; expected run", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
