"""``python -m scripts.release cut X.Y.Z [--apply]`` and ``python -m scripts.release mark-tested``.

``make release VERSION=x.y.z`` runs ``cut`` as a dry run (checks and the diff it would
commit); ``APPLY=1`` commits and tags. ``make test`` runs ``mark-tested`` after a green suite.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from scripts.release import git, procedure

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.release", description=__doc__)
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this one)")
    sub = parser.add_subparsers(dest="command", required=True)
    cut = sub.add_parser("cut", help="release VERSION: dry run unless --apply")
    cut.add_argument("version")
    cut.add_argument("--apply", action="store_true", help="write, commit and tag (default: only show)")
    cut.add_argument("--date", default=datetime.datetime.now(datetime.UTC).date().isoformat())
    sub.add_parser("mark-tested", help="record HEAD as tested (make test runs it after a green suite)")
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.command == "mark-tested":
        print(git.mark_tested(root))
        return 0
    plan = procedure.make_plan(root, args.version, args.date)
    print(procedure.describe(plan))
    if not plan.ok:
        print("\nNot released: fix the failed checks above.", file=sys.stderr)
        return 1
    if not args.apply:
        print("\nDry run: nothing was changed. APPLY=1 (or --apply) commits and tags.")
        return 0
    commit = procedure.apply(root, plan)
    print(f"\nReleased {args.version}: commit {commit[:12]}, tag v{args.version}.")
    print(f"Next: git push origin HEAD v{args.version}, then build and push the image (docs/operations/releasing.md).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
