"""Scratch folders that a killed process does not leave behind for good.

Every temporary folder solvegraph makes (kernels' work folders, sandbox workers, Lean builds, MCP
servers' homes) lives under one folder per process::

    $TMPDIR/solvegraph-<uid>/<pid>-<process start time>/<prefix>XXXX

A process that ends normally removes its own. One killed with ``kill -9`` cannot, so the first
scratch folder a later process makes sweeps away the folders of processes that are gone. The
start time (from ``/proc``) tells a dead process from a live one that reuses its pid.

A TMPDIR so long that nothing fits below it (past :data:`LONGEST_TMPDIR` bytes, where PATH_MAX is
4096) is passed over for /tmp, as Python's ``tempfile`` passes over one it cannot write in.
The same per-process layout holds the short aliases of socket folders (see ``_runtime``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable

from ._policy import SandboxError

# PATH_MAX less room for solvegraph's folders and what sandboxed programs write in their homes.
LONGEST_TMPDIR = 3072


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


def _pid_namespace() -> str:
    """A short name of this process's PID namespace (its inode, base 36), or '' where there is none.

    Folders are named by pid, and a pid names a process only within its namespace: a process in a
    container that shares /tmp with the host must not sweep the host's folders, nor the reverse.
    """
    try:
        inode = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    digits = ""
    while inode:
        inode, rest = divmod(inode, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits


def _folder_name(pid: int, started: str) -> str:
    """``<namespace>.<pid>-<start time>`` (``<pid>-<start time>`` without /proc, and before 2026-12-05:
    a name an older solvegraph's sweep skips rather than misjudges)."""
    namespace = _pid_namespace()
    return f"{namespace}.{pid}-{started}" if namespace else f"{pid}-{started}"


class ProcessFolders:
    """One folder per live process under ``base()``: made on first use, removed at exit, swept once dead."""

    def __init__(self, base: Callable[[], str], mode: int) -> None:
        self.base = base
        self.mode = mode
        self._lock = threading.Lock()
        self._mine: list[str] = []

    def sweep(self) -> list[str]:
        """Remove the folders of processes that are gone; returns what was removed."""
        base = self.base()
        removed: list[str] = []
        try:
            names = os.listdir(base)
        except OSError:
            return removed
        here = _pid_namespace()
        for name in names:
            namespace, _, own = name.rpartition(".")
            if namespace and namespace != here:  # no namespace: an older solvegraph's folder, judged as before
                continue  # a process of another PID namespace (a container sharing /tmp): its pid means nothing here
            pid_text, _, started = own.partition("-")
            if not pid_text.isdigit():
                continue
            alive = _start_time(int(pid_text))
            if alive is not None and (alive == started or alive == "?"):
                continue
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
            removed.append(name)
        return removed

    def process_dir(self) -> str:
        """This process's folder, made (after a sweep of dead processes' folders) on first use."""
        with self._lock:
            pid = os.getpid()
            if self._mine and os.path.basename(self._mine[0]).startswith(_folder_name(pid, "")):
                return self._mine[0]
            self._mine.clear()  # a forked child gets its own
            base = self.base()
            os.makedirs(base, mode=self.mode, exist_ok=True)
            _own(base)
            with contextlib.suppress(OSError):
                os.chmod(base, self.mode)  # a folder made before (or by an older version) gets the mode too
            self.sweep()
            mine = os.path.join(base, _folder_name(pid, _start_time(pid) or "0"))
            os.makedirs(mine, mode=self.mode, exist_ok=True)
            self._mine.append(mine)
            atexit.register(_remove, mine, pid)
            return mine


def _own(folder: str) -> None:
    """Refuse a scratch root that is not ours alone: sessions' keys and sockets are kept below it.

    In a shared /tmp another user could make ``solvegraph-<uid>`` first (or a symlink by that
    name) and so reach every folder made below it.
    """
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        what = (
            "a symlink" if stat.S_ISLNK(st.st_mode) else f"mode {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid}"
        )
        raise SandboxError(
            f"sandbox: the scratch folder {folder} ({what}) is not yours alone: remove it, or set TMPDIR "
            "to a folder only you can write"
        )


def parent() -> str:
    """``$TMPDIR/solvegraph-<uid>``: where every solvegraph process keeps its scratch folder."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    tmp = tempfile.gettempdir()
    if len(os.fsencode(tmp)) > LONGEST_TMPDIR:
        tmp = next((d for d in ("/tmp", "/var/tmp") if os.access(d, os.W_OK | os.X_OK)), tmp)
    return os.path.join(tmp, f"solvegraph-{uid}")


# As root, 0711: the sandboxed uid (nobody) may pass through to a folder bound into a sandbox, never
# list. Otherwise sandboxed code runs as our own uid on the host (bubblewrap's user namespace, gVisor's
# gofer), so no one else needs to pass: 0700.
_scratch = ProcessFolders(parent, 0o711 if not hasattr(os, "geteuid") or os.geteuid() == 0 else 0o700)


def sweep() -> list[str]:
    """Remove the scratch folders of processes that are gone; returns what was removed."""
    return _scratch.sweep()


def process_dir() -> str:
    """This process's scratch folder, made (after a sweep of dead processes' folders) on first use."""
    return _scratch.process_dir()


def _remove(path: str, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def scratch_dir(prefix: str = "sg-") -> str:
    """A new private folder under this process's scratch folder (``tempfile.mkdtemp`` semantics)."""
    return tempfile.mkdtemp(prefix=prefix, dir=process_dir())
