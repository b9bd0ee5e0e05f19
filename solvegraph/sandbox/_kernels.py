"""Host side of the kernel template: fresh, isolated Jupyter kernels, one per session.

:class:`KernelFactory` starts the template (``_zygote.py``) once in the sandbox and
asks it for a kernel per session. Each kernel gets its own run folder (connection
file and IPC sockets, the only thing the host and the kernel share), its own
cgroup where the host allows one, and dies when its :class:`KernelProcess` is
closed. No kernel ever serves two sessions.
"""

from __future__ import annotations

import array
import contextlib
import itertools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._backend import PROC_COVERS, Sandbox, SandboxedProcess, launch, python_ro_paths, system_view
from ._policy import NOBODY, Limits, SandboxError, clean_env
from ._scratch import scratch_dir
from ._sockets import short_path

_ZYGOTE = str(Path(__file__).with_name("_zygote.py"))
SESSIONS_INSIDE = "/sg-sessions"
# gVisor: each kernel runs as its own uid from here (never a host user's: the Sentry maps them).
SESSION_UIDS = 200_000


class KernelProcess:
    """One live kernel: where to connect, and how to tell whether it still runs."""

    def __init__(self, conn: socket.socket, connection_file: str, run_dir: str, cgroup: Any) -> None:
        self._conn = conn
        self.connection_file = connection_file
        self.run_dir = run_dir
        self._cgroup = cgroup
        self.exit_code: int | None = None
        self._buf = b""
        self._lock = threading.Lock()

    def is_alive(self) -> bool:
        with self._lock:
            if self.exit_code is not None:
                return False
            try:
                self._conn.setblocking(False)
                try:
                    data = self._conn.recv(4096)
                except BlockingIOError:
                    return True
                finally:
                    with contextlib.suppress(OSError):
                        self._conn.setblocking(True)
            except OSError:
                self.exit_code = -1
                return False
            if not data:
                self.exit_code = -1
                return False
            self._buf += data
            for line in self._buf.split(b"\n"):
                with contextlib.suppress(ValueError):
                    msg = json.loads(line)
                    if "exit" in msg:
                        self.exit_code = int(msg["exit"])
            return self.exit_code is None

    def kill(self) -> None:
        """Kill the kernel and everything it started (its PID namespace), and free its folders."""
        with contextlib.suppress(OSError):
            self._conn.close()
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        shutil.rmtree(self.run_dir, ignore_errors=True)


class KernelFactory:
    """The preloaded template in its sandbox, forking fresh kernels on request."""

    def __init__(
        self,
        sandbox: Sandbox,
        limits: Limits,
        preload: tuple[str, ...] = ("numpy", "sympy"),
        cancel: threading.Event | None = None,
    ) -> None:
        """Start the template; ``cancel``, set from another thread, stops a start in progress (SandboxError).

        Why ``cancel``: a start under gVisor takes seconds, and a pool closed at exit would otherwise wait
        for the template it is about to stop.
        """
        if cancel is not None and cancel.is_set():
            raise SandboxError("the kernel template's start was cancelled")
        self.sandbox = sandbox
        self.limits = limits
        self.isolate = sandbox.isolated
        self.root = scratch_dir("sg-kernels-")
        os.chmod(self.root, 0o755)
        self.sessions = os.path.join(self.root, "sessions")
        os.mkdir(self.sessions)
        if not sandbox.template_as_root:  # gVisor's root makes each session's folder its own uid's
            sandbox.prepare_dir(self.sessions)
        os.chmod(self.sessions, 0o711 if sandbox.isolated else 0o700)
        self._reach = short_path(self.sessions)  # the sockets' folder, by a path a Unix socket fits in
        self.socket_path = os.path.join(self._reach, ".zygote.sock")
        inside = SESSIONS_INSIDE if self.isolate else self._reach
        self._inside_sessions = inside
        config = {"socket": os.path.join(inside, ".zygote.sock"), "preload": list(preload)}
        # Kept visible in each kernel's private view wherever they are; the template's folder is hidden.
        config.update(keep=python_ro_paths(), hide=[self.root])
        argv = [sys.executable, "-I", _ZYGOTE, json.dumps(config)]
        # The template is our code; each kernel lowers these limits to its session's own.
        template_limits = Limits(memory_mb=1 << 20, max_processes=100_000, disk_mb=limits.disk_mb)
        # Isolated: the sessions folder appears at a fixed path inside; the template's own folder is not writable.
        cmd = sandbox.wrap(
            argv,
            workdir=self.root,
            limits=template_limits,
            caps=["CAP_SYS_ADMIN"],
            extra_spec={"umount": PROC_COVERS},
            binds={SESSIONS_INSIDE: self.sessions} if self.isolate else None,
            workdir_writable=not self.isolate,
            sockets=True,
        )
        self._log = open(os.path.join(self.root, "template.log"), "wb")  # noqa: SIM115
        try:
            proc = launch(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._log,
                start_new_session=True,
                cwd=self.root,
            )
        except OSError as exc:
            raise SandboxError(f"could not start the kernel template: {exc}") from None
        self.process = SandboxedProcess(proc, None)
        line = _readline(proc, 60.0, cancel)
        if cancel is not None and cancel.is_set():
            self.close()
            raise SandboxError("the kernel template's start was cancelled")
        if line.strip() != "ready":
            self._log.flush()
            tail = _tail(os.path.join(self.root, "template.log")) or line.strip() or "no output"
            self.close()
            raise SandboxError(f"the kernel template did not start under {sandbox.mode}: {tail}")
        self._closed = False
        self._uids = itertools.count()
        slots = sandbox.kernel_starts()
        self._starts = threading.BoundedSemaphore(slots) if slots else None

    @contextlib.contextmanager
    def starting(self) -> Iterator[None]:
        """Held from :meth:`spawn` until the kernel answers: the backend's limit on starts at once."""
        if self._starts is None:
            yield
            return
        with self._starts:
            yield

    def alive(self) -> bool:
        return not self._closed and self.process.proc.poll() is None

    def spawn(self, limits: Limits | None = None) -> KernelProcess:
        """A fresh kernel in its own namespaces; raises SandboxError if it cannot start."""
        limits = limits or self.limits
        name = uuid.uuid4().hex[:16]
        run_dir = os.path.join(self.sessions, name)
        os.mkdir(run_dir)
        self.sandbox.prepare_dir(run_dir)
        run_inside = "/session/run" if self.isolate else os.path.join(self._reach, name)
        workdir = None
        if not self.isolate:
            workdir = os.path.join(run_dir, "work")
            os.mkdir(workdir, 0o700)
        key = secrets.token_hex(16)
        ports = {n: i + 1 for i, n in enumerate(("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"))}
        base = {"transport": "ipc", "key": key, "signature_scheme": "hmac-sha256", "kernel_name": "solvegraph", **ports}
        host_file = os.path.join(run_dir, "host.json")
        inside_file = os.path.join(run_inside, "kernel.json")
        Path(host_file).write_text(json.dumps({**base, "ip": os.path.join(self._reach, name, "k")}))
        Path(os.path.join(run_dir, "kernel.json")).write_text(json.dumps({**base, "ip": os.path.join(run_inside, "k")}))
        session_uid = self.sandbox.sandbox_uid()
        if self.sandbox.template_as_root:
            # Ours, and the kernel's by group: the gofer (our uid, no capabilities when rootless)
            # creates the kernel's sockets and log in it; the kernel runs as its own uid with group
            # nogroup, the one group id a rootless runsc shows the same inside (as the overflow id).
            session_uid = SESSION_UIDS + next(self._uids) % 100_000
            # Not root on the host, a rootless runsc maps our own uid and gid, and nothing else, to
            # gVisor's 0: the kernel keeps group 0 (our own group on the host, no capability, in a
            # root of its own), and the folder stays ours. As root we give it to nogroup instead.
            session_gid = 0 if os.geteuid() != 0 else NOBODY
            for path, mode in ((run_dir, 0o770), (os.path.join(run_dir, "kernel.json"), 0o640)):
                if session_gid == NOBODY:
                    os.chown(path, os.getuid(), NOBODY)
                os.chmod(path, mode)
        elif session_uid != os.getuid():
            os.chown(os.path.join(run_dir, "kernel.json"), session_uid, session_uid)
        rlimits = limits.rlimits()
        if self.isolate:
            rlimits["RLIMIT_NPROC"] = limits.max_processes  # per session: each kernel has its own user namespace
        home = "/session/work" if self.isolate else str(workdir)
        req = {
            "isolate": self.isolate,
            "run_dir": os.path.join(self._inside_sessions, name),
            "run_dir_inside": run_inside,
            "sessions_root": self._inside_sessions,
            "connection_file": inside_file,
            "workdir": workdir,
            "disk_mb": limits.disk_mb,
            "rlimits": rlimits,
            "env": clean_env(home=home, tmpdir="/tmp" if self.isolate else str(workdir)),
        }
        if self.sandbox.template_as_root:
            # gVisor: the template is gVisor's root; each kernel builds its own root and becomes its own uid.
            view_ro, view_links = system_view()
            req.update(
                drop_to=session_uid,
                drop_gid=session_gid,
                chroot=f"/session/{name}",
                view_ro=view_ro,
                view_links=view_links,
            )
        # Under gVisor a host cgroup cannot hold one guest process (joining would move the Sentry).
        cgroup = None if self.sandbox.template_as_root else self.sandbox.session_cgroup(limits)
        fds = cgroup.open_fds() if cgroup else []
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(self.socket_path)
            payload = (json.dumps(req) + "\n").encode()
            anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
            conn.sendmsg([payload], anc)
            conn.settimeout(30)
            reply = b""
            while not reply.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                reply += chunk
            conn.settimeout(None)
            msg = json.loads(reply.split(b"\n")[0] or b"{}")
        except (OSError, ValueError) as exc:
            conn.close()
            if cgroup:
                cgroup.remove()
            shutil.rmtree(run_dir, ignore_errors=True)
            raise SandboxError(f"could not start a kernel: {exc}") from None
        finally:
            for fd in fds:
                os.close(fd)
        if not msg.get("ok"):
            conn.close()
            if cgroup:
                cgroup.remove()
            shutil.rmtree(run_dir, ignore_errors=True)
            raise SandboxError(f"could not start a kernel: {msg.get('error', 'no reply from the template')}")
        return KernelProcess(conn, host_file, run_dir, cgroup)

    def close(self) -> None:
        self._closed = True
        self.process.close()
        with contextlib.suppress(Exception):
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _tail(path: str, lines: int = 3) -> str:
    """The last lines of a log, joined: what a process said before it died."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    useful = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(useful[-lines:])


def _readline(proc: subprocess.Popen[bytes], timeout: float, cancel: threading.Event | None = None) -> str:
    """A line of ``proc``'s output, or what came before ``timeout`` passed or ``cancel`` was set."""
    import select

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or (cancel is not None and cancel.is_set()):
            break
        ready, _, _ = select.select([proc.stdout], [], [], left if cancel is None else min(left, 0.05))
        if not ready:
            continue  # the deadline, or a look at cancel
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")
