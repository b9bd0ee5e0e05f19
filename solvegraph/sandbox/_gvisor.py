"""The ``gvisor`` backend: each command runs on gVisor's user-space kernel (``runsc``).

A process under bubblewrap talks to the host kernel directly, so a kernel exploit
escapes it. Under gVisor its system calls are served by the Sentry, a kernel written
in Go running as an unprivileged, seccomp-confined host process; the host kernel only
sees the Sentry's narrow set of calls.

The policy is bubblewrap's, written as an OCI bundle for ``runsc run``: an empty
read-only root with read-only binds of the system and the Python installation, the
session's folders, a private ``/tmp`` (tmpfs, size-capped), ``--network=none``, a
clean environment, a non-root uid (for a non-root user gVisor's root, which a rootless
runsc maps to that user: the only uid it maps), no capabilities, and the same ``_enter.py`` that
sets rlimits first. Memory and processes are capped from the host: ``_enter.py`` puts
``runsc`` itself in the session cgroup before exec, so the Sentry, its gofer and every
stub process of the sandbox are counted there. ``--rootless`` is used where
solvegraph is not root or lacks CAP_SYS_ADMIN (a default Docker container).

``runsc run`` dies with its caller and takes the sandbox with it; the bundle and the
state folder live in this process's scratch folder, freed when the command ends (and
swept after a ``kill -9``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ._backend import ENTER, SYSTEM_RO, Sandbox, python_ro_paths
from ._policy import NOBODY, Limits, clean_env
from ._reach import check as check_reach
from ._scratch import process_dir, scratch_dir

CAP_SYS_ADMIN = 21
# The Sentry, the gofer, their Go runtimes' threads and the ptrace stubs count in the session's
# pids limit too: a host limit the Sentry reaches kills the whole sandbox, so the session's own
# limit is enforced inside (RLIMIT_NPROC) and the host's is a backstop far above it.
RUNTIME_PIDS = 1024
_ids = itertools.count()


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity, and a cgroup's quota (docker run --cpus)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(quota) // int(period)))
    return max(1, count)


def find_runsc() -> str | None:
    return shutil.which("runsc") or next(
        (p for p in ("/usr/bin/runsc", "/usr/local/bin/runsc", "/usr/sbin/runsc") if os.access(p, os.X_OK)), None
    )


def has_cap_sys_admin() -> bool:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_ADMIN & 1)
    except (OSError, ValueError):
        pass
    return False


@dataclass
class GvisorSandbox(Sandbox):
    """gVisor's runsc: ``rootless`` when solvegraph is not root or lacks CAP_SYS_ADMIN."""

    runsc: str | None = None
    rootless: bool = False
    platform: str = "ptrace"
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
        "kernel",
    )
    isolated: ClassVar[bool] = True
    template_as_root: ClassVar[bool] = True

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "runsc": self.runsc,
            "platform": self.platform,
            "rootless": self.rootless,
            "kernel": "gVisor user-space kernel (not shared with the host)",
        }

    def sandbox_uid(self) -> int:
        return NOBODY if os.geteuid() == 0 else os.getuid()

    def inside_uid(self) -> int:
        # Not root on the host: a rootless runsc maps only our own uid, to gVisor's 0, so our files
        # (the session's folder, the Python install) are root's inside and no other uid could enter
        # them. The code then runs as that 0, with no capability and no new privileges: the host
        # user it is anyway. The self-check reports "uid" as not isolated in this case.
        return 0 if self.unprivileged() else self.sandbox_uid()

    def unprivileged(self) -> bool:
        """Rootless and not root on the host (a plain user, not a container's root without CAP_SYS_ADMIN)."""
        return self.rootless and os.geteuid() != 0

    def claimed(self) -> list[str]:
        return [c for c in super().claimed() if c != "uid" or not self.unprivileged()]

    def kernel_starts(self) -> int | None:
        # Measured on 2 cores, PAL at -j 8 with 8 kernels warmed ahead: unlimited starts
        # 0.28 problems/s with cells timing out; one start at a time 1.26; two 0.97.
        return max(1, usable_cpus() // 2)

    def pids_budget(self, limits: Limits) -> int:
        return limits.max_processes + RUNTIME_PIDS

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
        if not caps:
            # The sandbox is one uid's alone: RLIMIT_NPROC caps its processes inside gVisor, before
            # the host's pids limit would starve the Sentry itself of threads.
            rlimits["RLIMIT_NPROC"] = limits.max_processes
        spec: dict[str, Any] = {"rlimits": rlimits, "chdir": cwd or workdir}
        spec.update({k: v for k, v in (extra_spec or {}).items() if k != "umount"})
        bundle = scratch_dir("sg-gv-")
        os.chmod(bundle, 0o711)
        rootfs = os.path.join(bundle, "rootfs")
        os.mkdir(rootfs, 0o755)
        mounts: list[dict[str, Any]] = [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/tmp",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": ["nosuid", "nodev", "mode=1777", f"size={limits.disk_mb}m"],
            },
            {"destination": "/session", "type": "tmpfs", "source": "tmpfs", "options": ["size=64k", "mode=0755"]},
        ]
        for path in SYSTEM_RO:
            if os.path.islink(path):
                os.symlink(os.readlink(path), os.path.join(rootfs, path.lstrip("/")))
            elif os.path.exists(path):
                mounts.append(_bind(path, path, ro=True))
        ro_paths = [*python_ro_paths(), *ro]
        if not caps and self.sandbox_uid() == NOBODY:  # as under bwrap: nobody must enter what is bound
            check_reach(ro_paths, [sys.executable, argv[0]], NOBODY, NOBODY)
        for path in ro_paths:
            mounts.append(_bind(path, path, ro=True))
        mounts.append(_bind(workdir, workdir, ro=not workdir_writable))
        mounts += [_bind(path, path, ro=False) for path in rw]
        mounts += [_bind(host, inside, ro=False) for inside, host in (binds or {}).items()]
        uid = self.inside_uid()
        gid = NOBODY if uid == NOBODY else 0 if uid == 0 else os.getgid()
        if caps:
            # Only our kernel template asks: it runs as gVisor's root (in the Sentry, not on the
            # host) to build each session's mounts, and every kernel drops to ``uid`` before it runs.
            uid = gid = 0
            caps = [*caps, "CAP_SETUID", "CAP_SETGID", "CAP_DAC_OVERRIDE", "CAP_CHOWN", "CAP_SYS_CHROOT"]
        granted = {k: list(caps) for k in ("bounding", "effective", "permitted")}
        no_caps: dict[str, list[str]] = {"inheritable": [], "ambient": [], **granted}
        config = {
            "ociVersion": "1.0.0",
            "process": {
                "terminal": False,
                "user": {"uid": uid, "gid": gid},
                "args": [*ENTER, json.dumps(spec), "--", *argv],
                "env": [f"{k}={v}" for k, v in env.items()],
                "cwd": cwd or workdir,
                "capabilities": no_caps,
                "noNewPrivileges": not caps,
            },
            "root": {"path": "rootfs", "readonly": True},
            "hostname": "sandbox",
            "mounts": mounts,
            "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]},
        }
        Path(bundle, "config.json").write_text(json.dumps(config))
        state = os.path.join(process_dir(), "runsc")
        os.makedirs(state, mode=0o700, exist_ok=True)
        cmd = [self.runsc or "runsc", "--root", state, f"--platform={self.platform}", "--ignore-cgroups"]
        cmd += ["--network=host" if network else "--network=none"]
        if sockets:
            cmd += ["--host-uds=create"]
        if self.rootless:
            cmd += ["--rootless"]
        cmd += ["run", "--bundle", bundle, f"sg-{os.getpid()}-{next(_ids)}-{uuid.uuid4().hex[:8]}"]
        # On the host, before runsc starts: join the session cgroup (the whole sandbox is counted there),
        # and die with solvegraph (runsc run takes its sandbox down when it is killed).
        host_spec = {"cgroup_fds": list(cgroup_fds), "die_with_parent": os.getpid()}
        return [*ENTER, json.dumps(host_spec), "--", *cmd]

    def release(self, cmd: Sequence[str]) -> None:
        if "--bundle" in cmd:
            bundle = cmd[list(cmd).index("--bundle") + 1]
            if os.path.basename(bundle).startswith("sg-gv-"):
                shutil.rmtree(bundle, ignore_errors=True)


def _bind(source: str, destination: str, *, ro: bool) -> dict[str, Any]:
    return {
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": ["rbind", "ro" if ro else "rw", "nosuid", "nodev"],
    }
