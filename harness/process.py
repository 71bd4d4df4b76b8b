"""Child processes that never outlive their owner by accident.

* Every child runs in its own process group, so stopping it also stops
  anything it forked.
* Attached children get ``PR_SET_PDEATHSIG`` = SIGKILL: if the test run dies
  (even by SIGKILL) the kernel kills them.
* Detached children (``make cluster-up``) write pid files, so that
  ``make cluster-down`` or the next ``cluster-up`` can find and stop them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.polling import TimedOut, wait_for

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        detach: bool,
        pid_file: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``env``: the child's whole environment (default: this process's)."""
        self.name = name
        self.log = log
        self.pid_file = pid_file
        log_handle = log.open("ab")
        try:
            self.popen = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=None if detach else _die_with_parent,
                env=None if env is None else dict(env),
            )
        finally:
            log_handle.close()
        pid_file.write_text(f"{self.popen.pid}\n{argv[0]}\n")

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        stop_pid(self.pid, timeout=timeout, reap=self.popen)
        self.pid_file.unlink(missing_ok=True)


def _matches(pid: int, binary: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return False
    return Path(cmdline).name == Path(binary).name


def stop_pid(pid: int, *, timeout: float = 20.0, reap: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM the process group, then SIGKILL after ``timeout`` seconds."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        if _wait_gone(pid, wait, reap):
            break
    if reap is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            reap.wait(timeout=1)


def _wait_gone(pid: int, timeout: float, reap: subprocess.Popen[bytes] | None) -> bool:
    try:
        wait_for(lambda: _gone(pid, reap), timeout=timeout, interval=0.05, what=f"process {pid} to exit")
    except TimedOut:
        return False
    return True


def _gone(pid: int, reap: subprocess.Popen[bytes] | None) -> bool:
    """Whether ``pid`` has exited: reaped, if it is our child (``reap``), else absent or a zombie."""
    if reap is not None:
        return reap.poll() is not None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def stop_from_pid_files(directory: Path) -> list[str]:
    """Stop every process recorded in ``*.pid`` files under ``directory`` (stale files are removed).

    Newest first: the reverse of start order, so kube-apiserver stops before the etcd it needs.
    """
    stopped = []
    for pid_file in sorted(directory.glob("*.pid"), key=lambda f: f.stat().st_mtime_ns, reverse=True):
        lines = pid_file.read_text().split()
        if len(lines) >= 2 and lines[0].isdigit() and _matches(int(lines[0]), lines[1]):
            stop_pid(int(lines[0]))
            stopped.append(pid_file.stem)
        pid_file.unlink(missing_ok=True)
    return stopped


class Piped:
    """A ``subprocess.Popen`` started with ``stderr=PIPE``, for ``wait_for(processes=...)``: its stderr is its log.

    The pipe is read only once the process has exited (reading a live one would block).
    """

    def __init__(self, name: str, popen: subprocess.Popen[str]) -> None:
        self.name = name
        self.popen = popen
        self._stderr: str | None = None

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        if self.alive():
            return "(still running)"
        if self._stderr is None:
            self._stderr = self.popen.stderr.read() if self.popen.stderr else ""
        return "\n".join(self._stderr.splitlines()[-lines:])
