"""The first program inside every sandbox: limits, identity, then exec (standard library only).

Run as ``python -I -S _enter.py SPEC -- ARGV...`` so it starts in milliseconds and
trusts nothing from the environment. SPEC is JSON:

- ``rlimits``: {"RLIMIT_AS": bytes, ...} set on this process, inherited by ARGV;
- ``cgroup_fds``: open ``cgroup.procs`` files (passed by the host) to join first;
- ``drop_to``: a uid/gid to become (when the sandbox was entered as real root);
- ``drop_caps``: clear every capability (when bubblewrap granted some);
- ``umount``: mount points to detach first (bubblewrap's covers over /proc);
- ``die_with_parent``: solvegraph's pid; be killed when the thread of it that started us ends
  (gVisor's ``runsc``, which has no such option, and the ``none`` backend).

The zygote imports these helpers too, so every sandboxed process is set up by
the same few lines.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
MNT_DETACH = 2
_libc = ctypes.CDLL(None, use_errno=True)


def _fail(what: str) -> None:
    err = ctypes.get_errno()
    raise OSError(err, f"{what}: {os.strerror(err)}")


def set_rlimits(rlimits: dict[str, int]) -> None:
    for name, value in rlimits.items():
        which = getattr(resource, name)
        _, hard = resource.getrlimit(which)
        new = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(which, (new, new))


def join_cgroups(fds: list[int]) -> None:
    for fd in fds:
        os.write(fd, b"0")  # "0": the writing process itself, in any pid namespace
        os.close(fd)


def drop_caps() -> None:
    """capset(2) with every set empty."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header = Header(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (Data * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        _fail("capset")


def drop_to(uid: int, gid: int | None = None) -> None:
    """Become ``uid`` (and ``gid``, default the same) for good, losing every capability."""
    gid = uid if gid is None else gid
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # Changing credentials makes the process non-dumpable, which makes its own /proc
    # files root's; it needs them (uid_map of the nested namespaces it creates).
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)


def umount(paths: list[str]) -> None:
    for path in paths:
        if os.path.exists(path):
            _libc.umount2(path.encode(), MNT_DETACH)  # not mounted: nothing to do


def die_with_parent(parent: int) -> None:
    """SIGKILL when the thread that started us ends (kept across exec), as bubblewrap's option does.

    ``parent`` is solvegraph's pid: if it is no longer our parent, it died before the prctl. (Not
    "the parent is 1": solvegraph itself is pid 1 as a container's command.)
    """
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def setup(spec: dict) -> None:
    """Everything SPEC asks, in the only safe order."""
    if spec.get("die_with_parent"):
        die_with_parent(int(spec["die_with_parent"]))
    umount(spec.get("umount", []))
    join_cgroups(spec.get("cgroup_fds", []))
    set_rlimits(spec.get("rlimits", {}))
    if spec.get("drop_to") is not None:
        drop_to(int(spec["drop_to"]))
    elif spec.get("drop_caps"):
        drop_caps()
    if spec.get("chdir"):
        os.chdir(spec["chdir"])


def main() -> None:
    spec = json.loads(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1 :]
    try:
        setup(spec)
        os.execvp(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"solvegraph sandbox: cannot start {argv[0]}: {exc}\n")
        sys.exit(126)


if __name__ == "__main__":
    main()
