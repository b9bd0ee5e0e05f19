"""Every sandbox backend this machine has runs the same isolation suite; ``auto`` takes the strongest.

Real backends only (gVisor's runsc, bubblewrap, none): a backend that cannot run here is skipped with the
reason ``resolve_sandbox`` gives. Root without CAP_SYS_ADMIN (a default Docker container) is made with
``capsh --drop=cap_sys_admin``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.sandbox import NoSandbox, SandboxError, resolve_sandbox
from solvegraph.sandbox._selfcheck import PROPERTIES

BACKENDS = ["gvisor", "bwrap", "none"]
SOLVEGRAPH = [sys.executable, "-c", "from solvegraph.cli import main; main()"]


def unavailable(mode: str) -> str:
    try:
        resolve_sandbox(mode)
    except SandboxError as exc:
        return str(exc)
    return ""


def cli(*args: str, drop_sys_admin: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SOLVEGRAPH_SANDBOX"}
    cmd = [*SOLVEGRAPH, *args]
    if drop_sys_admin:
        cmd = ["capsh", "--drop=cap_sys_admin", "--", "-c", " ".join(f"'{a}'" for a in cmd)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("mode", BACKENDS)
def test_every_property_is_reported_and_every_claimed_one_holds(mode: str) -> None:
    if reason := unavailable(mode):
        pytest.skip(reason)
    backend = resolve_sandbox(mode)
    report = backend.self_check()
    assert report.ok, json.dumps(report.to_dict(), indent=1)
    assert [p.name for p in report.properties] == list(PROPERTIES)
    assert {p.name for p in report.properties if p.claimed} == set(backend.claimed())


def test_a_backend_that_claims_what_it_does_not_isolate_fails_the_check() -> None:
    class Overclaiming(NoSandbox):
        claims = (*NoSandbox.claims, "network", "host-files", "processes")

    report = Overclaiming("none", "claims too much").self_check(kernel=False)
    assert not report.ok
    assert {p.name for p in report.properties if p.failed} == {"network", "host-files", "processes"}


def test_gvisor_isolates_everything_bwrap_does_and_the_kernel() -> None:
    from solvegraph.sandbox import BwrapSandbox, GvisorSandbox

    assert set(NoSandbox.claims) < set(BwrapSandbox.claims)
    assert set(GvisorSandbox.claims) == {*BwrapSandbox.claims, "kernel"}


def test_auto_takes_the_strongest_backend_that_works_and_says_why() -> None:
    expected = next((m for m in ("gvisor", "bwrap") if not unavailable(m)), "none")
    code = "from solvegraph.sandbox import resolve_sandbox as r; s = r('auto'); print(s.mode); print(s.reason)"
    env = {k: v for k, v in os.environ.items() if k != "SOLVEGRAPH_SANDBOX"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    mode, reason = out.splitlines()[:2]
    assert mode == expected
    assert reason.startswith("auto:") and (expected == "none" or "the first of gvisor, bwrap that works" in reason)


def test_prefer_puts_bwrap_first_for_speed() -> None:
    if reason := unavailable("bwrap"):
        pytest.skip(reason)
    code = (
        "from solvegraph.sandbox import prefer, resolve_sandbox as r\n"
        "prefer('bwrap'); s = r('auto'); print(s.mode); print(s.reason)"
    )
    env = {k: v for k, v in os.environ.items() if k != "SOLVEGRAPH_SANDBOX"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    mode, reason = out.splitlines()[:2]
    assert mode == "bwrap" and "the first of bwrap that works" in reason


def test_sandbox_check_json_pipes_and_names_each_property() -> None:
    mode = next((m for m in ("bwrap", "gvisor") if not unavailable(m)), "none")
    run = cli("sandbox", "check", "--sandbox", mode, "--json", "--no-kernel")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] is True and report["backend"]["backend"] == mode
    assert {p["name"] for p in report["properties"]} >= {"network", "host-files", "environment", "uid"}


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("capsh"), reason="needs root and capsh")
def test_root_without_cap_sys_admin_names_bwrap_problem_in_one_line() -> None:
    run = cli("sandbox", "check", "--sandbox", "bwrap", drop_sys_admin=True)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "CAP_SYS_ADMIN" in lines[0] and "gvisor" in lines[0], run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("capsh"), reason="needs root and capsh")
def test_root_without_cap_sys_admin_still_gets_gvisor_rootless_and_it_holds() -> None:
    if reason := unavailable("gvisor"):
        pytest.skip(reason)
    run = cli("sandbox", "check", "--json", drop_sys_admin=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert report["backend"]["backend"] == "gvisor" and report["backend"]["rootless"] is True
    assert report["ok"] and {p["name"] for p in report["properties"]} == set(PROPERTIES)


def test_python_tool_under_gvisor_runs_cells_with_fresh_state_per_session() -> None:
    if reason := unavailable("gvisor"):
        pytest.skip(reason)
    tool = PluginManager().tools()["python"]
    with ToolSession(options={"sandbox": "gvisor", "cell_timeout": 30}) as first:
        out = tool.run({"code": "import numpy, os\nX = 41\nopen('/tmp/left', 'w').write('x')\nprint(X + 1)"}, first)
        assert out.ok and out.output.strip().endswith("42"), out.output
        assert tool.run({"code": "print(X, os.uname().release)"}, first).output.strip().startswith("41 4.4.0")
    with ToolSession(options={"sandbox": "gvisor", "cell_timeout": 30}) as second:
        out = tool.run({"code": "import os\nprint('X' in globals(), os.path.exists('/tmp/left'))"}, second)
        assert out.output.strip().endswith("False False"), out.output


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("capsh"), reason="needs root and capsh")
def test_a_default_docker_container_falls_back_to_none_and_says_what_to_do() -> None:
    """Root without CAP_SYS_ADMIN and user namespaces denied by seccomp: Docker's defaults."""
    deny = os.path.join(os.path.dirname(__file__), "no_userns.py")
    env = {k: v for k, v in os.environ.items() if k != "SOLVEGRAPH_SANDBOX"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        inner = " ".join(f"'{a}'" for a in [sys.executable, deny, *SOLVEGRAPH, *args])
        cmd = ["capsh", "--drop=cap_sys_admin", "--", "-c", inner]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

    auto = run("sandbox", "check", "--no-kernel", "--json")
    assert auto.returncode == 0, auto.stderr
    report = json.loads(auto.stdout)
    assert report["backend"]["backend"] == "none" and report["ok"]
    assert "warning: not sandboxed" in auto.stderr and "bubblewrap" in report["backend"]["reason"]
    for mode in ("gvisor", "bwrap"):
        if mode == "gvisor" and "not installed" in unavailable("gvisor"):
            continue
        named = run("sandbox", "check", "--sandbox", mode)
        lines = named.stderr.strip().splitlines()
        assert named.returncode == 2 and len(lines) == 1 and "docker run" in lines[0], named.stderr


def test_a_killed_solvegraph_takes_its_gvisor_sandboxes_with_it() -> None:
    """runsc has no --die-with-parent: _enter.py gives it one, or a kill -9 would leave the Sentry running."""
    if reason := unavailable("gvisor"):
        pytest.skip(reason)
    code = (
        "from solvegraph.sandbox import Limits, resolve_sandbox\n"
        "from solvegraph.sandbox._kernels import KernelFactory\n"
        "f = KernelFactory(resolve_sandbox('gvisor'), Limits())\n"
        "f.spawn()\n"
        "print('ready', flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)

    def sandboxes() -> list[str]:
        ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        return [line for line in ps.splitlines() if "runsc" in line and f".{child.pid}-" in line]

    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        assert sandboxes(), "the kernel template runs under runsc"
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 20
    while sandboxes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not sandboxes()


@pytest.mark.parametrize("mode", ["none", "bwrap"])
def test_a_killed_solvegraph_leaves_no_kernel_template(mode: str) -> None:
    """Under ``none`` the template used to outlive a killed solvegraph, parented to init."""
    if reason := unavailable(mode):
        pytest.skip(reason)
    code = (
        "from solvegraph.sandbox import Limits, resolve_sandbox\n"
        "from solvegraph.sandbox._kernels import KernelFactory\n"
        f"f = KernelFactory(resolve_sandbox({mode!r}), Limits())\n"
        "kernel = f.spawn()\n"  # kept: its connection closing would end the kernel
        "print(f.process.proc.pid, flush=True)\n"
        "import time; time.sleep(120)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)

    def left() -> list[int]:
        """The template, its session processes and the kernel: their command lines name the child's folder."""
        return processes_naming(f".{child.pid}-".encode())

    try:
        assert child.stdout is not None
        template = int(child.stdout.readline().strip())
        time.sleep(1)  # the kernel is up
        assert template in left() and len(left()) >= 2, "the template and the kernel's processes run"
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 20
    while left() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left(), "the template and the kernel died with their parent"


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
@pytest.mark.parametrize("mode", ["none", "gvisor"])
def test_backends_start_when_solvegraph_is_pid_1(mode: str) -> None:
    """As a container's command solvegraph is pid 1; die-with-parent took that parent for a dead one."""
    if reason := unavailable(mode):
        pytest.skip(reason)
    code = (
        "import os, sys\n"
        "from solvegraph.sandbox import resolve_sandbox, scratch_dir\n"
        "assert os.getpid() == 1\n"
        f"r = resolve_sandbox({mode!r}).run([sys.executable, '-c', 'print(42)'], workdir=scratch_dir())\n"
        "print(r.returncode, r.stdout.strip())\n"
    )
    done = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.split() == ["0", "42"], done.stdout + done.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
def test_a_process_of_another_pid_namespace_leaves_our_scratch_folder_alone() -> None:
    """Folders are named by pid; in another PID namespace (a container sharing /tmp) our pid is no one's,
    and its sweep used to remove the folder of this live process."""
    from solvegraph.sandbox import process_dir

    mine = process_dir()
    code = "from solvegraph.sandbox import process_dir, sweep\nprocess_dir()\nprint(sweep())\n"
    done = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", sys.executable, "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert os.path.isdir(mine), f"swept by another namespace: {done.stdout}"


@pytest.mark.parametrize("mode", ["none", "bwrap"])
def test_closing_the_template_ends_the_kernels_it_started(mode: str) -> None:
    """Under ``none`` a kernel is not PID 1 of a namespace: killing the template's process group (its
    session processes with it) left the kernel running, parented to init."""
    if reason := unavailable(mode):
        pytest.skip(reason)
    from solvegraph.sandbox import Limits, resolve_sandbox
    from solvegraph.sandbox._kernels import KernelFactory

    factory = KernelFactory(resolve_sandbox(mode), Limits())
    kernel = factory.spawn()
    marker = os.path.basename(factory.root).encode()

    def left() -> list[int]:
        return processes_naming(marker)

    time.sleep(1)
    assert len(left()) >= 2, "the template and the kernel's processes run"
    factory.close()  # the kernel is still in use
    deadline = time.monotonic() + 20
    while left() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left(), "nothing the template started outlives it"
    kernel.kill()


def processes_naming(marker: bytes) -> list[int]:
    """The pids whose command line holds ``marker`` (a folder of the process that started them)."""
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            if entry.isdigit() and marker in Path(f"/proc/{entry}/cmdline").read_bytes():
                found.append(int(entry))
    return found
