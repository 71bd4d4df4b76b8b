"""``python -m harness up|down|status``: the backend of ``make cluster-up`` / ``make cluster-down``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.process import stop_from_pid_files
from harness.runner import REPO, ControlPlane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness")
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--state-dir", type=Path, default=REPO / ".local" / "cluster")
    parser.add_argument("--kubeconfig", type=Path, default=REPO / ".local" / "kubeconfig")
    args = parser.parse_args(argv)
    if args.command == "down":
        stopped = stop_from_pid_files(args.state_dir) if args.state_dir.exists() else []
        print(f"stopped: {', '.join(stopped)}" if stopped else "no control plane was running")
        return 0
    plane = ControlPlane(args.state_dir, kubeconfig=args.kubeconfig)
    plane.start(detach=True)
    t = plane.timings
    print(
        f"control plane up in {t['ready']:.1f}s (etcd {t['etcd']:.1f}s, apiserver {t['apiserver']:.1f}s); "
        f"server {plane.server}; logs in {args.state_dir}",
        file=sys.stderr,
    )
    print(f"export KUBECONFIG={args.kubeconfig}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
