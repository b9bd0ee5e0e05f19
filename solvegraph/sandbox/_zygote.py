"""The kernel template: runs inside the sandbox, preloaded, and forks one fresh kernel per session.

Booting ipykernel with numpy and sympy costs about 0.9 s of CPU; forking this
preloaded process costs a few milliseconds. Each fork then isolates itself from
the template and from every other session before any model code runs:

- a new user, mount, PID and IPC namespace (the kernel is PID 1 of its own
  namespace, so when it dies every process it started dies with it, and no other
  session's process can be seen or signalled);
- its own ``/proc``; a size-capped tmpfs for its working folder and ``/tmp``; the
  shared sessions folder and the template's own folder hidden behind empty
  mounts, with only its own run folder (IPC sockets) bound back, and the Python
  installation wherever it lives, even under ``/tmp`` (see ``_keep.py``);
- rlimits, including RLIMIT_NPROC, which a per-session user namespace makes per
  session; it joins the session cgroup through descriptors the host passed.

Protocol on the control socket: the host connects, sends one JSON line (with the
cgroup descriptors as SCM_RIGHTS), and keeps the connection: the intermediate
process replies ``{"ok": true}`` once the kernel is launched, then
``{"exit": status}`` when it dies. Closing the connection kills the kernel.
Standard library only until a kernel starts: this file must not import solvegraph.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _enter  # type: ignore[import-not-found]  # beside this file, run as a script
import _keep  # type: ignore[import-not-found]

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWIPC = 0x20000, 0x10000000, 0x20000000, 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
# What ``IPKernelApp.initialize`` imports on top of ``ipykernel.kernelapp`` (157 modules, most of them
# debugpy's, for the kernel's debugger). Imported once here, not in every kernel: under gVisor each
# import is dozens of system calls served by the Sentry, and a kernel's start took 1.25 s instead of
# 0.3 s. Importing them starts no thread, so the template still forks safely.
KERNEL_IMPORTS = (
    "ipykernel.debugger",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "tornado.gen",
    "tornado.locks",
    "tornado.platform.asyncio",
    "tornado.queues",
)
_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            os.fsencode(source),
            os.fsencode(target),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _isolate(req: dict) -> None:
    """In the session's intermediate process: new namespaces (the next fork is PID 1).

    Under bubblewrap the template is an unprivileged user and a new user namespace gives
    the session the right to mount. gVisor (2022 and later) refuses mounts inside a nested
    user namespace, so there the template runs as gVisor's own root (never the host's)
    and each kernel drops to ``drop_to`` once its view is built.
    """
    if req.get("drop_to") is not None:
        _check(_libc.unshare(CLONE_NEWPID | CLONE_NEWIPC), "unshare")
        return
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    with open("/proc/self/setgroups", "w") as fh:
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as fh:
        fh.write(f"{gid} {gid} 1")


def _private_view(req: dict) -> None:
    """In the kernel (PID 1 of the new namespace): its own filesystem view and /proc."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    # The template's own folder (and the sessions folder in it) is hidden too, wherever TMPDIR put it.
    hidden = [p for p in req.get("hide", []) if os.path.isdir(p)]
    pinned = _keep.pin(req.get("keep", []), ["/session", "/tmp", "/dev/shm", req["sessions_root"], *hidden])
    size = f"size={int(req['disk_mb'])}m,mode=0700"
    _mount("tmpfs", "/session", "tmpfs", MS_NOSUID | MS_NODEV, size)
    for sub in ("work", "run", "tmp"):
        os.mkdir(f"/session/{sub}", 0o700)
    _mount(req["run_dir"], "/session/run", None, MS_BIND)
    # Hide every other session's run folder (and the control socket).
    for folder in [req["sessions_root"], *hidden]:
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    _mount("/session/tmp", "/tmp", None, MS_BIND)
    if os.path.isdir("/dev/shm"):
        _mount("/session/tmp", "/dev/shm", None, MS_BIND)
    _keep.restore(pinned)  # the Python installation, wherever it lives (through the template's /proc)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _chroot_view(req: dict) -> None:
    """gVisor: the kernel's own root, built at a path no other session uses, then chrooted into.

    runsc (2022) shares one mount table between mount namespaces: a mount made after
    ``unshare(CLONE_NEWNS)`` shows in the template too. So each kernel mounts a fresh
    tmpfs at its own ``root``, binds into it only what a kernel may see (the system and
    the Python installation read-only, its run folder, a private /tmp and /dev/shm, its
    own /proc), chroots there and drops to its own uid, which also makes RLIMIT_NPROC
    per session. The intermediate process unmounts the whole tree when the kernel dies.
    """
    uid = int(req["drop_to"])
    root = req["chroot"]
    os.mkdir(root, 0o755)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(req['disk_mb'])}m,mode=0755")
    # The private /tmp first, so that a Python installation under /tmp is bound on top of it, not hidden.
    for sub in ("session/tmp", "tmp"):
        os.makedirs(f"{root}/{sub}", exist_ok=True)
    _mount(f"{root}/session/tmp", f"{root}/tmp", None, MS_BIND)
    for path in req["view_ro"]:
        target = root + path
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        _mount(path, target, None, MS_BIND)  # runsc (2022) has no recursive binds: each path is its own mount
        with contextlib.suppress(OSError):  # runsc (2022) cannot remount; its gofer serves these read-only
            _mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    for path, link in req["view_links"].items():
        os.makedirs(os.path.dirname(root + path), exist_ok=True)
        os.symlink(link, root + path)
    for sub in ("session/work", "session/run", "session/tmp", "tmp", "dev", "proc"):
        os.makedirs(f"{root}/{sub}", exist_ok=True)
    for sub in ("session", "session/work", "session/tmp"):
        os.chmod(f"{root}/{sub}", 0o700)
        os.chown(f"{root}/{sub}", uid, req.get("drop_gid", uid))
    _mount(req["run_dir"], f"{root}/session/run", None, MS_BIND)
    _mount("/dev", f"{root}/dev", None, MS_BIND)
    _mount("proc", f"{root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chroot(root)
    os.chdir("/")


def _launch_kernel(req: dict) -> None:
    """Become the session's ipykernel (never returns)."""
    # Its log first: what goes wrong while its view is built is then in the log the host shows.
    log = os.open(os.path.join(req["run_dir"], "kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 2)
    if req["isolate"] and req.get("chroot"):
        _chroot_view(req)
        workdir = "/session/work"
    elif req["isolate"]:
        _private_view(req)
        workdir = "/session/work"
    else:
        workdir = req["workdir"]
    rlimits = dict(req["rlimits"])
    nproc = rlimits.pop("RLIMIT_NPROC", None) if req.get("drop_to") is not None else None
    _enter.set_rlimits(rlimits)
    os.chdir(workdir)
    os.environ.clear()
    os.environ.update(req["env"])
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.closerange(3, 1 << 16)
    os.setsid()  # its own process group, so an interrupt message reaches the whole group
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["ipykernel", "-f", req["connection_file"], "--HistoryManager.enabled=False", "--IPKernelApp.quiet=True"]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])
    if req.get("drop_to") is not None:
        # gVisor: the kernel's sockets and log were made by gVisor's root, which a rootless runsc maps
        # to our own user (a file the gofer would have to give to an unmapped uid fails). No model code
        # has run yet; from here on the kernel is its own uid, with no capability, in its own root.
        _enter.drop_to(int(req["drop_to"]), req.get("drop_gid"))
        if nproc is not None:
            _enter.set_rlimits({"RLIMIT_NPROC": nproc})
    app.start()
    os._exit(0)


def _serve_session(conn: socket.socket, req: dict, fds: list[int]) -> None:
    """The intermediate process: isolates, forks the kernel, reports its exit, kills it on hang-up."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        _enter.join_cgroups(fds)
        if req["isolate"]:
            _isolate(req)
        me = os.getpid()
        pid = os.fork()
    except OSError as exc:
        conn.sendall((json.dumps({"ok": False, "error": str(exc)}) + "\n").encode())
        os._exit(1)
    if pid == 0:
        try:
            conn.close()
            if not req["isolate"]:
                # Not PID 1 of a namespace of its own (sandbox = none): nothing else takes the kernel
                # down if this process is killed with the template's process group.
                _enter.die_with_parent(me)
            _launch_kernel(req)
        except BaseException as exc:  # report and die: nothing may escape into the template's code
            import traceback

            # To the log itself: once ipykernel has initialized, sys.stderr is its iopub stream and fd 2 a
            # pipe to it, read by a thread that _exit would kill first. It keeps the log's fd as the copy.
            fd = getattr(sys.stderr, "_original_stdstream_copy", None)
            text = f"kernel launch failed: {exc!r}\n{traceback.format_exc(limit=-2)}"
            os.write(fd if isinstance(fd, int) else 2, text.encode(errors="replace"))
        os._exit(1)
    conn.sendall((json.dumps({"ok": True}) + "\n").encode())
    # Wait for either the kernel's death or the host's hang-up.
    rfd, wfd = os.pipe()

    def _reaped(*_: object) -> None:
        os.write(wfd, b"x")

    signal.signal(signal.SIGCHLD, _reaped)
    import select

    watched: list[Any] = [conn, rfd]
    while True:
        try:
            ready, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if rfd in ready:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                _drop_view(req)
                with contextlib.suppress(OSError):
                    conn.sendall((json.dumps({"exit": code}) + "\n").encode())
                os._exit(0)
            os.read(rfd, 64)
        if conn in ready:
            data = b""
            with contextlib.suppress(OSError):
                data = conn.recv(4096)
            if not data:
                os.kill(pid, signal.SIGKILL)  # PID 1 of its namespace: everything in it dies
                os.waitpid(pid, 0)
                _drop_view(req)
                os._exit(0)
            if data.strip() == b"kill":
                os.kill(pid, signal.SIGKILL)


def _drop_view(req: dict) -> None:
    """Unmount a dead kernel's chroot (gVisor), so its tmpfs and binds do not pile up."""
    if req.get("chroot"):
        with contextlib.suppress(OSError):
            _check(_libc.umount2(req["chroot"].encode(), MNT_DETACH), "umount")
            os.rmdir(req["chroot"])


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    fds = array.array("i")
    data = b""
    while not data.endswith(b"\n"):
        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16 * fds.itemsize))
        if not msg:
            raise EOFError
        data += msg
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(payload[: len(payload) - (len(payload) % fds.itemsize)])
    return json.loads(data), list(fds)


def main() -> None:
    config = json.loads(sys.argv[1])  # limits and identity were set by _enter.py before this exec
    for module in config.get("preload", []):
        with contextlib.suppress(Exception):
            __import__(module)
    # Import what a kernel needs before any fork, so the fork pays nothing for it.
    import ipykernel.ipkernel
    import ipykernel.kernelapp  # noqa: F401

    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # debugpy's warning about frozen modules, once per import
    for module in KERNEL_IMPORTS:
        with contextlib.suppress(Exception):
            __import__(module)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # sessions are reaped by the kernel; no zombies here
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(config["socket"])
    server.listen(64)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        try:
            req, fds = _recv_request(conn)
        except (EOFError, OSError, ValueError):
            conn.close()
            continue
        pid = os.fork()
        if pid == 0:
            server.close()
            try:
                _serve_session(conn, {**req, "keep": config.get("keep", []), "hide": config.get("hide", [])}, fds)
            finally:
                os._exit(1)
        conn.close()
        for fd in fds:
            os.close(fd)


if __name__ == "__main__":
    main()
