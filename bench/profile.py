"""Summarise a py-spy profile that ``python -m bench --profile DIR`` wrote (collapsed stacks, ``--format raw``).

``python -m bench.profile DIR/op-latency.txt`` prints where the operator's CPU went: self time by package
(the innermost frame's), and the functions with the most inclusive time. Each line of the file is
``frame;frame;...;frame COUNT`` with frames like ``function (path/to/module.py:LINE)``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")
PACKAGES = ("esml_operator", "kopf", "kubernetes", "httpx", "httpcore", "aiohttp", "h11", "yaml", "prometheus_client")


def package(file: str) -> str:
    """The top-level package of a frame's file, or the standard-library module name."""
    parts = Path(file).parts
    for name in PACKAGES:
        if name in parts:
            return name
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1]
    return Path(file).stem if file else "?"


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    # "\n" only: frame names may hold characters that str.splitlines() would also split at.
    for line in path.read_text(errors="replace").split("\n"):
        body, _, count = line.rpartition(" ")
        if not body.strip() or not count.isdigit():  # samples without a Python stack
            continue
        frames = []
        for raw in body.split(";"):  # outermost frame first (no thread prefix without py-spy's --threads)
            match = FRAME.match(raw.strip())
            frames.append((match["func"], match["file"]) if match else (raw.strip(), ""))
        stacks.append((frames, int(count)))
    return stacks


def summary(path: Path, top: int = 25) -> str:
    stacks = parse(path)
    total = sum(count for _, count in stacks) or 1
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        if frames:
            self_time[package(frames[-1][1])] += count
        for func, file in set(frames):
            inclusive[f"{package(file)}: {func} ({Path(file).name})"] += count
    lines = [f"{total} samples in {path}", "", "self time by package:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in self_time.most_common(15)]
    lines += ["", "inclusive time by function:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(summary(args.profile, args.top))


if __name__ == "__main__":
    main()
