"""Per-session cgroups: one memory cap and one process cap for everything a session starts.

RLIMIT_AS caps one process; a session that forks ten children would get ten times
its share. Where the host lets us write cgroups (cgroup v1 ``memory`` and ``pids``
hierarchies, or a delegated cgroup v2 subtree), each session gets its own group,
joined by the sandboxed process itself through a file descriptor the host opened,
and killed and removed when the session ends. Where no cgroup is writable the
per-process limits remain, and :func:`describe` says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from pathlib import Path

_ROOT = Path("/sys/fs/cgroup")


def _own_groups() -> dict[str, str]:
    """controller -> path of this process's group ('' is cgroup v2)."""
    groups: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                groups[c] = path
    return groups


class Cgroups:
    """Where session groups are made: one parent folder per controller, ours alone."""

    def __init__(self, parents: dict[str, Path], version: int) -> None:
        self.parents = parents  # "memory"/"pids" -> parent folder (v1), or "v2" -> folder
        self.version = version

    @classmethod
    def detect(cls) -> Cgroups | None:
        """Make this process's parent groups, or None where cgroups are not writable."""
        own = _own_groups()
        tag = f"solvegraph-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        v1 = {c: _ROOT / c / own[c].lstrip("/") for c in ("memory", "pids") if c in own and (_ROOT / c).is_dir()}
        if len(v1) == 2:
            made: dict[str, Path] = {}
            try:
                for c, base in v1.items():
                    (base / tag).mkdir()
                    made[c] = base / tag
                (made["pids"] / "pids.max").write_text("max")
                return cls(made, 1)
            except OSError:
                for path in made.values():
                    with contextlib.suppress(OSError):
                        path.rmdir()
        if "" in own and (_ROOT / "cgroup.controllers").is_file():
            base = _ROOT / own[""].lstrip("/")
            try:
                if not {"memory", "pids"} <= set((base / "cgroup.subtree_control").read_text().split()):
                    return None
                (base / tag).mkdir()
                (base / tag / "cgroup.subtree_control").write_text("+memory +pids")
                return cls({"v2": base / tag}, 2)
            except OSError:
                return None
        return None

    def session(self, memory_mb: int, max_processes: int) -> SessionCgroup:
        return SessionCgroup(self, memory_mb, max_processes)

    def close(self) -> None:
        for path in self.parents.values():
            with contextlib.suppress(OSError):
                path.rmdir()

    def describe(self) -> str:
        return f"cgroup v{self.version} ({', '.join(str(p) for p in self.parents.values())})"


class SessionCgroup:
    """One session's group: limits set, opened for joining, killed and removed at the end."""

    def __init__(self, parent: Cgroups, memory_mb: int, max_processes: int) -> None:
        name = uuid.uuid4().hex[:12]
        self.paths: list[Path] = []
        try:
            if parent.version == 1:
                mem = parent.parents["memory"] / name
                pids = parent.parents["pids"] / name
                mem.mkdir()
                self.paths.append(mem)
                (mem / "memory.limit_in_bytes").write_text(str(memory_mb * 1024 * 1024))
                with contextlib.suppress(OSError):  # swap accounting may be off
                    (mem / "memory.memsw.limit_in_bytes").write_text(str(memory_mb * 1024 * 1024))
                pids.mkdir()
                self.paths.append(pids)
                (pids / "pids.max").write_text(str(max_processes))
            else:
                path = parent.parents["v2"] / name
                path.mkdir()
                self.paths.append(path)
                (path / "memory.max").write_text(str(memory_mb * 1024 * 1024))
                with contextlib.suppress(OSError):
                    (path / "memory.swap.max").write_text("0")
                (path / "pids.max").write_text(str(max_processes))
        except OSError:
            self.remove()
            raise

    def open_fds(self) -> list[int]:
        """Write ends of cgroup.procs, for the sandboxed process to join itself (and its children)."""
        return [os.open(p / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC) for p in self.paths]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for path in self.paths:
            with contextlib.suppress(OSError):
                found |= {int(x) for x in (path / "cgroup.procs").read_text().split()}
        return sorted(found)

    def memory_peak_mb(self) -> float | None:
        for path in self.paths:
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                with contextlib.suppress(OSError, ValueError):
                    return int((path / name).read_text()) / 1024 / 1024
        return None

    def remove(self) -> None:
        """Kill whatever is left in the group (a session leaves nothing behind), then remove it."""
        for attempt in range(50):
            left = self.pids()
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if not left:
                break
            time.sleep(0.01 if attempt < 10 else 0.05)
        for path in self.paths:
            with contextlib.suppress(OSError):
                path.rmdir()
        self.paths = []


_detected: Cgroups | None = None
_detect_done = False
_lock = threading.Lock()


def process_cgroups() -> Cgroups | None:
    """This process's writable cgroup parents, detected once (removed at exit)."""
    global _detected, _detect_done
    with _lock:
        if not _detect_done:
            _detected = Cgroups.detect()
            _detect_done = True
            if _detected is not None:
                import atexit

                atexit.register(_detected.close)
        return _detected
