"""Tests, the demo, the harness and the benchmark wait with ``harness.polling``, not with loops of their own.

Issue 19 (section 5) found six polling functions and a dozen single-purpose waiters; they all moved onto
``wait_for`` / ``wait_for_async``, which fail with what they waited for, the last result seen, and the log of
a process that died meanwhile. This check keeps it that way. A hand-written poll loop is:

* a ``while`` loop that sleeps (``time.sleep``, ``asyncio.sleep``, ``sleep``);
* a ``for`` loop that sleeps and can leave early (``break`` or ``return``): ``for _ in range(200): ...``;
* a ``while`` loop whose condition reads a clock (``time.monotonic()``, ``time.time()``, ``loop.time()``) or a
  deadline.

A loop that is not a wait (it paces work, measures a window, or is the process's own main loop) is listed in
``ALLOWED`` under its file and function, with the reason.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.runner import REPO

SCANNED = ("tests", "harness", "bench", "scripts")
CLOCKS = {"monotonic", "time", "perf_counter"}

ALLOWED = {
    ("bench/naive_operator.py", "poll"): "the naive baseline operator polls forever: that is what it measures",
    ("bench/watcher.py", "watch"): "the bare watch client's main loop: it reopens its watch after a 429 or a 5xx",
    ("harness/polling.py", "wait_for"): "the one poll loop",
    ("harness/polling.py", "wait_for_async"): "the one poll loop, on an event loop",
    ("tests/faults/test_es_slow.py", "test_slow_answers_time_out_without_piling_up_and_leave_other_clusters_alone"): (
        "measures the healthy cluster's reaction over and over for as long as the slow phase lasts"
    ),
}

_LOOPS = (ast.While, ast.For, ast.AsyncFor)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _inside(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``node``'s body, not descending into nested functions, lambdas or classes."""
    for child in ast.iter_child_nodes(node):
        yield child
        if not isinstance(child, _SCOPES):
            yield from _inside(child)


def _sleeps(node: ast.AST) -> bool:
    for call in (n for n in _inside(node) if isinstance(n, ast.Call)):
        func = call.func
        if isinstance(func, ast.Name) and func.id == "sleep":
            return True
        if isinstance(func, ast.Attribute) and func.attr == "sleep" and ast.unparse(func.value) in {"time", "asyncio"}:
            return True
    return False


def _leaves_early(loop: ast.While | ast.For | ast.AsyncFor) -> bool:
    """A ``return`` anywhere in the body, or a ``break`` of this loop (not of a loop nested in it)."""

    def breaks(node: ast.AST) -> bool:
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (*_LOOPS, *_SCOPES)):
            return False
        return any(breaks(child) for child in ast.iter_child_nodes(node))

    return any(isinstance(n, ast.Return) for n in _inside(loop)) or any(breaks(stmt) for stmt in loop.body)


def _reads_a_clock(test: ast.expr) -> bool:
    for node in ast.walk(test):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCKS:
            return True
        if isinstance(node, ast.Name) and "deadline" in node.id.lower():
            return True
    return False


def is_poll_loop(loop: ast.AST) -> bool:
    if isinstance(loop, ast.While):
        return _sleeps(loop) or _reads_a_clock(loop.test)
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        return _sleeps(loop) and _leaves_early(loop)
    return False


def poll_loops(source: str) -> list[tuple[str, int]]:
    """(enclosing function's qualified name, line) of every poll loop in ``source``."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{scope}.{child.name}" if scope else child.name
            if isinstance(child, _LOOPS) and is_poll_loop(child):
                found.append((scope or "<module>", child.lineno))
            visit(child, inner)

    visit(ast.parse(source), "")
    return found


def _files() -> list[Path]:
    files = [path for top in SCANNED for path in sorted((REPO / top).rglob("*.py"))]
    assert len(files) > 100, f"only {len(files)} Python files under {SCANNED}"
    return files


def test_no_hand_written_poll_loops() -> None:
    found = {}
    for path in _files():
        rel = path.relative_to(REPO).as_posix()
        for function, line in poll_loops(path.read_text(encoding="utf-8")):
            found[(rel, function)] = f"{rel}:{line} ({function})"
    unexplained = [where for key, where in found.items() if key not in ALLOWED]
    assert not unexplained, "poll with harness.polling.wait_for / wait_for_async (or say why not in ALLOWED):\n" + (
        "\n".join(unexplained)
    )
    stale = sorted(key for key in ALLOWED if key not in found)
    assert not stale, f"ALLOWED lists loops that are gone: {stale}"


POLLS = {
    "a deadline": """
def wait(check):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
""",
    "while with asyncio.sleep": """
async def wait(check):
    while not await check():
        await asyncio.sleep(0.1)
""",
    "a bounded for with a break": """
async def settle(clock):
    for _ in range(200):
        if clock.pending:
            break
        await asyncio.sleep(0.005)
""",
    "a clock in the condition, no sleep": """
def spin(done):
    while time.time() < start + 5:
        done()
""",
    "a method's loop": """
class Demo:
    def wait(self, check):
        while True:
            if check():
                return
            sleep(0.25)
""",
}

NOT_POLLS = {
    "pacing: a for loop without an early exit": """
async def burst(op):
    for n in range(200):
        op.observe(n)
        await asyncio.sleep(0.005)
""",
    "a loop without sleeps": """
def pages(client):
    while True:
        page = client.get()
        if not page.token:
            return page
""",
    "the break belongs to an inner loop": """
async def send(queue):
    for item in queue:
        for attempt in range(3):
            if ok(item):
                break
        await asyncio.sleep(0.1)
""",
    "the sleep is in a nested function": """
def outer(items):
    for item in items:
        if item:
            break

        async def later():
            await asyncio.sleep(1)
""",
}


@pytest.mark.parametrize("name", POLLS)
def test_the_check_finds_a_poll_loop(name: str) -> None:
    assert len(poll_loops(POLLS[name])) == 1, name


@pytest.mark.parametrize("name", NOT_POLLS)
def test_the_check_leaves_other_loops_alone(name: str) -> None:
    assert poll_loops(NOT_POLLS[name]) == [], name


def test_the_check_names_the_enclosing_function() -> None:
    assert poll_loops(POLLS["a method's loop"]) == [("Demo.wait", 4)]
