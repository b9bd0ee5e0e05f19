"""The execution seam's shared half: how a backend's command is started, watched and cleaned up.

Every backend (``_bwrap.py``, ``_gvisor.py``, ``_none.py``) is a :class:`Sandbox` that
only says how to *wrap* a command: which namespaces or user-space kernel, which host
paths are visible, as whom it runs. Starting it with limits, a session cgroup and a
clean environment, capping its output, killing its whole tree on a timeout, and
freeing what it used are the same for all of them and live here, once.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal
import site
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

from ._cgroup import Cgroups, SessionCgroup
from ._policy import Limits, SandboxError, clean_env

ENTER_SCRIPT = str(Path(__file__).with_name("_enter.py"))
# The first program of every sandboxed process (and, for gVisor, of runsc on the host side).
ENTER = [sys.executable, "-I", "-S", ENTER_SCRIPT]
# bubblewrap covers these /proc entries when it runs as root; they block nested /proc mounts.
PROC_COVERS = ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"]
# System folders every sandbox sees read-only (Debian/Ubuntu: /lib* are symlinks into /usr).
SYSTEM_RO = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc/ld.so.cache", "/etc/alternatives"]


# bubblewrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that started
# it exits. Long-lived sandboxed processes are therefore started from one thread that
# lives as long as solvegraph, never from a pool or warm-up thread that may end first.
_launcher = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="sg-sandbox-launcher")


def launch(cmd: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen from the long-lived launcher thread (see above)."""
    return _launcher.submit(lambda: subprocess.Popen(list(cmd), **kwargs)).result()


def python_ro_paths() -> list[str]:
    """The interpreter, its standard library and every import location, read-only."""
    paths = {sys.base_prefix, sys.prefix, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    # Import locations inside the installation or named like one; never a working folder on
    # sys.path (a test runner's root, the current directory), which may hold secrets.
    prefixes = tuple(os.path.realpath(p) + "/" for p in (sys.prefix, sys.base_prefix))
    paths |= {
        p
        for p in sys.path
        if p
        and os.path.isabs(p)
        and (os.path.realpath(p).startswith(prefixes) or os.path.basename(p) in ("site-packages", "dist-packages"))
    }
    paths |= set(site.getsitepackages())
    # An editable install of solvegraph: its package folder only, never the repository around it.
    paths.add(str(Path(__file__).resolve().parent.parent))
    paths.add(os.path.dirname(os.path.realpath(sys.executable)))
    # Longest first is not needed; drop nested duplicates so each tree is bound once.
    existing = sorted(p for p in paths if os.path.exists(p))
    out: list[str] = []
    for p in existing:
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def system_view(ro: Sequence[str] = ()) -> tuple[list[str], dict[str, str]]:
    """What every sandboxed process sees read-only: folders to bind, and the system's symlinks."""
    binds: list[str] = []
    links: dict[str, str] = {}
    for path in SYSTEM_RO:
        if os.path.islink(path):
            links[path] = os.readlink(path)
        elif os.path.exists(path):
            binds.append(path)
    return [*binds, *python_ro_paths(), *ro], links


@dataclass
class RunResult:
    """The outcome of a sandboxed command: it always comes back, whatever the command did."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    duration_s: float = 0.0
    memory_peak_mb: float | None = None


@dataclass
class Sandbox:
    """A resolved backend: ``mode`` names it (bwrap, gvisor, none); ``reason`` says why it was chosen.

    Subclasses implement :meth:`wrap` (and say what they isolate in ``claims``); running,
    limits and cleanup are shared. It satisfies :class:`~solvegraph.sandbox.SandboxBackend`.
    """

    mode: str
    reason: str
    cgroups: Cgroups | None = None
    warning: str = ""
    # What this backend isolates: the self-check (``solvegraph sandbox check``) verifies each.
    claims: ClassVar[tuple[str, ...]] = ("environment", "memory", "file-size")
    # Whether processes get their own filesystem view, /tmp and namespaces (kernels then
    # isolate each session further inside it).
    isolated: ClassVar[bool] = False
    # The kernel template runs as the backend's own root (gVisor's, never the host's) and
    # each kernel drops to the sandbox user after building its view.
    template_as_root: ClassVar[bool] = False

    def kernel_starts(self) -> int | None:
        """How many kernels may start at once in one template (None: no limit).

        A kernel's start is a burst of system calls. Where each one costs a context switch
        through a user-space kernel (gVisor's ptrace platform), starting many at once on a
        few cores thrashes: ready kernels stop answering while the others start.
        """
        return None

    # -- description ---------------------------------------------------------
    def claimed(self) -> list[str]:
        """The properties this backend isolates here (a session's process count needs a cgroup)."""
        return [c for c in self.claims if c != "pids" or self.cgroups is not None or self.isolated]

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.mode,
            "reason": self.reason,
            "isolated": self.claimed(),
            "limits": "per-session cgroup (memory, processes) + per-process rlimits"
            if self.cgroups
            else "per-process rlimits (RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC where per-session)",
            "cgroups": self.cgroups.describe() if self.cgroups else None,
            "warning": self.warning or None,
        }

    def self_check(self, *, kernel: bool = True) -> Any:
        """Run the isolation suite against this backend (see ``_selfcheck.py``)."""
        from ._selfcheck import self_check

        return self_check(self, kernel=kernel)

    def session_cgroup(self, limits: Limits) -> SessionCgroup | None:
        if self.cgroups is None:
            return None
        try:
            return self.cgroups.session(limits.memory_mb, self.pids_budget(limits))
        except OSError:
            return None

    # -- commands ------------------------------------------------------------
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
        """The full command line that runs ``argv`` in this sandbox, with ``workdir`` as home and cwd.

        ``ro``/``rw`` are further host paths made visible at the same place; ``binds`` maps a
        path inside to a writable host folder shown there (the kernels' sessions folder), and
        ``workdir_writable=False`` shows the working folder read-only. The command starts with
        ``_enter.py``, which applies the limits, joins the session cgroup and drops privileges
        before exec. ``network`` keeps the host's network (for trusted programs that need it,
        such as an MCP server configured with ``network = true``); model-written code never
        gets it. ``sockets``: Unix sockets the process creates in a bound folder are reachable
        from the host (the kernels' IPC); ``caps`` are capabilities the process keeps.
        """
        env = env or clean_env(home=workdir, tmpdir=self.tmpdir(workdir))
        spec: dict[str, Any] = {"rlimits": limits.rlimits(), "cgroup_fds": list(cgroup_fds), "chdir": cwd or workdir}
        # Dies with solvegraph, as under bubblewrap (--die-with-parent) and gVisor: a kernel template
        # left behind by a killed solvegraph kept running, parented to init.
        spec["die_with_parent"] = os.getpid()
        spec.update(extra_spec or {})
        return [*ENTER, json.dumps(spec), "--", *argv]

    def tmpdir(self, workdir: str) -> str:
        """TMPDIR of a sandboxed process: its own /tmp where the backend gives it one."""
        return "/tmp" if self.isolated else workdir

    def sandbox_uid(self) -> int:
        """The uid sandboxed code runs as, on the host (nobody when solvegraph runs as root)."""
        return os.getuid()

    def inside_uid(self) -> int:
        """The uid sandboxed code sees itself run as (what the probe checks)."""
        return self.sandbox_uid()

    def pids_budget(self, limits: Limits) -> int:
        """The session cgroup's pids.max: the session's processes, plus the backend's own."""
        return limits.max_processes

    def release(self, cmd: Sequence[str]) -> None:
        """Free what ``wrap`` made for ``cmd`` once its process has ended (nothing, here)."""

    def prepare_dir(self, path: str) -> None:
        """Give the sandboxed uid its own writable folder.

        Only a private folder is handed over: ours, or the sandboxed uid's already (a workdir used again).
        Chowning a shared one (a workdir of /tmp, say) to nobody with mode 0700 would lock every other user,
        PostgreSQL's included, out of it. The folder is opened without following a symlink and changed
        through that descriptor, so what was checked is what is changed.
        """
        uid = self.sandbox_uid()
        try:
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError as exc:
            why = exc.strerror or "cannot open it"
            raise SandboxError(f"refusing to give {path} to the sandboxed user: not a folder ({why})") from None
        try:
            st = os.fstat(fd)
            if (
                st.st_uid not in (os.getuid(), uid)
                or st.st_mode & (stat.S_ISVTX | 0o002)
                or os.path.realpath(path) in {"/", os.path.realpath(tempfile.gettempdir())}
            ):
                raise SandboxError(
                    f"refusing to give {path} to the sandboxed user: a workdir must be a private folder of its own"
                    f" (mode {stat.S_IMODE(st.st_mode):04o}, owner uid {st.st_uid})"
                )
            if uid != os.getuid():
                os.fchown(fd, uid, uid)
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)

    def run(
        self,
        argv: Sequence[str],
        *,
        workdir: str,
        limits: Limits | None = None,
        timeout: float = 60.0,
        input: str | None = None,
        ro: Sequence[str] = (),
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ) -> RunResult:
        """Run ``argv`` to completion in a fresh sandbox; a timeout kills the whole process tree.

        ``env`` adds variables to the cleared environment; only allowlisted names are accepted.
        """
        limits = limits or Limits()
        started = time.perf_counter()
        # Synchronous: the calling thread outlives the process, so it may start it itself.
        proc, cgroup = self._start(
            subprocess.Popen,
            argv,
            workdir=workdir,
            limits=limits,
            ro=ro,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        timed_out = False
        try:
            out, err = _communicate_capped(proc, input, timeout, limits.output_chars * 4)
        except subprocess.TimeoutExpired:
            timed_out = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = _communicate_capped(proc, None, 10, limits.output_chars * 4)
        peak = cgroup.memory_peak_mb() if cgroup else None
        if cgroup:
            cgroup.remove()
        self.release(proc.args if isinstance(proc.args, list) else [])
        return RunResult(
            proc.returncode if proc.returncode is not None else -9,
            out,
            err,
            timed_out,
            time.perf_counter() - started,
            peak,
        )

    def popen(
        self,
        argv: Sequence[str],
        *,
        workdir: str,
        limits: Limits | None = None,
        ro: Sequence[str] = (),
        stdin: int | IO[Any] | None = subprocess.PIPE,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = subprocess.DEVNULL,
    ) -> SandboxedProcess:
        """Start a long-lived sandboxed process (a worker); close it to kill it and free its cgroup."""
        proc, cgroup = self._start(
            launch, argv, workdir=workdir, limits=limits or Limits(), ro=ro, stdin=stdin, stdout=stdout, stderr=stderr
        )
        return SandboxedProcess(proc, cgroup, self)

    def _start(
        self,
        spawn: Any,
        argv: Sequence[str],
        *,
        workdir: str,
        limits: Limits,
        ro: Sequence[str],
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        **streams: Any,
    ) -> tuple[subprocess.Popen[bytes], SessionCgroup | None]:
        """Make the session cgroup and folder, then start ``argv`` wrapped, with ``spawn`` (a Popen)."""
        self.prepare_dir(workdir)
        cgroup = self.session_cgroup(limits)
        fds = cgroup.open_fds() if cgroup else []
        full_env = clean_env(home=workdir, tmpdir=self.tmpdir(workdir), extra=env)
        try:
            proc = spawn(
                self.wrap(argv, workdir=workdir, limits=limits, ro=ro, cgroup_fds=fds, cwd=cwd, env=full_env),
                pass_fds=fds,
                start_new_session=True,
                cwd=workdir,
                # The backend's own program (bwrap, runsc) gets the clean environment too; under
                # ``none`` it is the sandboxed program's, which would otherwise inherit ours.
                env=full_env,
                **streams,
            )
        except SandboxError:  # from wrap: a bound path the sandboxed user cannot reach
            if cgroup:
                cgroup.remove()
            raise
        except OSError as exc:
            if cgroup:
                cgroup.remove()
            raise SandboxError(f"could not start {argv[0]} in the sandbox: {exc}") from None
        finally:
            for fd in fds:
                os.close(fd)
        return proc, cgroup


class SandboxedProcess:
    """A Popen plus the cgroup that holds everything it started."""

    def __init__(
        self, proc: subprocess.Popen[bytes], cgroup: SessionCgroup | None, sandbox: Sandbox | None = None
    ) -> None:
        self.proc = proc
        self.cgroup = cgroup
        self._sandbox = sandbox

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self._sandbox is not None:
            self._sandbox.release(self.proc.args if isinstance(self.proc.args, list) else [])
            self._sandbox = None


def _communicate_capped(proc: subprocess.Popen[bytes], input: str | None, timeout: float, cap: int) -> tuple[str, str]:
    """communicate() that keeps at most ``cap`` bytes of each stream (a 100 MB print is not held)."""
    import selectors

    deadline = time.monotonic() + timeout
    bufs: dict[int, bytearray] = {}
    sel = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            bufs[stream.fileno()] = bytearray()
            sel.register(stream, selectors.EVENT_READ)
    if input is not None and proc.stdin is not None:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(input.encode())
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
    dropped = dict.fromkeys(bufs, 0)
    while sel.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            sel.close()
            raise subprocess.TimeoutExpired(proc.args, timeout)
        for key, _ in sel.select(min(remaining, 0.5)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            buf = bufs[key.fd]
            room = cap - len(buf)
            if room > 0:
                buf += chunk[:room]
            dropped[key.fd] += max(0, len(chunk) - max(room, 0))
    sel.close()
    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    texts = []
    for stream in (proc.stdout, proc.stderr):
        if stream is None:
            texts.append("")
            continue
        fd = stream.fileno()
        text = bufs[fd].decode("utf-8", "replace")
        if dropped[fd]:
            text += f"\n... [truncated {dropped[fd]} bytes] ..."
        texts.append(text)
    return texts[0], texts[1]
