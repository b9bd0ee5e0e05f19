"""Scratch folders that a killed process does not leave behind for good.

Every temporary folder solvegraph makes (kernels' work folders, sandbox workers, Lean builds, MCP
servers' homes) lives under one folder per process::

    $TMPDIR/solvegraph-<uid>/<pid>-<process start time>/<prefix>XXXX

A process that ends normally removes its own. One killed with ``kill -9`` cannot, so the first
scratch folder a later process makes sweeps away the folders of processes that are gone. The
start time (from ``/proc``) tells a dead process from a live one that reuses its pid.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading

_lock = threading.Lock()
_mine: list[str] = []


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        if not os.path.isdir("/proc/self"):  # no /proc (not Linux): only ask whether the pid is alive
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return None
            except PermissionError:
                return "?"
            return "?"
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ")".
    return stat.rsplit(b")", 1)[1].split()[19].decode()


def parent() -> str:
    """``$TMPDIR/solvegraph-<uid>``: where every solvegraph process keeps its scratch folder."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"solvegraph-{uid}")


def sweep() -> list[str]:
    """Remove the scratch folders of processes that are gone; returns what was removed."""
    base = parent()
    removed: list[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    for name in names:
        pid_text, _, started = name.partition("-")
        if not pid_text.isdigit():
            continue
        alive = _start_time(int(pid_text))
        if alive is not None and (alive == started or alive == "?"):
            continue
        shutil.rmtree(os.path.join(base, name), ignore_errors=True)
        removed.append(name)
    return removed


def process_dir() -> str:
    """This process's scratch folder, made (after a sweep of dead processes' folders) on first use."""
    with _lock:
        pid = os.getpid()
        if _mine and os.path.basename(_mine[0]).startswith(f"{pid}-"):
            return _mine[0]
        _mine.clear()  # a forked child gets its own
        base = parent()
        os.makedirs(base, mode=0o711, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(base, 0o711)  # others may pass through to a folder bound into a sandbox, never list
        sweep()
        mine = os.path.join(base, f"{pid}-{_start_time(pid) or '0'}")
        os.makedirs(mine, mode=0o711, exist_ok=True)
        _mine.append(mine)
        atexit.register(_remove, mine, pid)
        return mine


def _remove(path: str, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def scratch_dir(prefix: str = "sg-") -> str:
    """A new private folder under this process's scratch folder (``tempfile.mkdtemp`` semantics)."""
    return tempfile.mkdtemp(prefix=prefix, dir=process_dir())
