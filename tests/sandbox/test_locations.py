"""The execution seam does not care where things live (issue 27).

Each case is made here, not taken from this machine's layout: a venv under /tmp (with a space and
a non-ASCII letter in its prefix), TMPDIRs hundreds and thousands of bytes long, a Lean toolchain
and an MCP server in folders only their owner may enter. Kernels, bubblewrap and Lean run for real.

``bwrap`` is the backend as solvegraph resolves it: as root, code runs as nobody; as another user,
through a user namespace, as that user. (``force_userns`` cannot stand in for the latter as root:
there the kernels' nested user namespace would map uid 0, which Linux 5.12+ refuses without
CAP_SETFCAP.) ``none`` runs the same kernels without isolation.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import solvegraph
from solvegraph.config import McpServerConfig
from solvegraph.errors import SolvegraphError
from solvegraph.plugins import ToolSession
from solvegraph.sandbox import Limits, SandboxError, resolve_sandbox
from solvegraph.sandbox._kernels import KernelFactory
from solvegraph.sandbox._reach import check
from solvegraph.sandbox._sockets import MAX_SOCKET_PATH, ROOM, short_path
from solvegraph.tools.lean import lean
from solvegraph.tools.mcp import McpServers
from solvegraph.tools.python._kernel import Kernel
from tests.conftest import FIXTURES, keep_var

SANDBOXES = ["bwrap", "none"]
PRELUDE_PROOF = (
    "prelude\ninductive N where\n  | z : N\ninductive Eq2 {a : Type} : a → a → Prop where\n"
    "  | refl (x : a) : Eq2 x x\ntheorem refl_z : Eq2 N.z N.z := Eq2.refl N.z\n"
)

# Run by another interpreter (the venv under /tmp) or with another TMPDIR: one cell in a fresh kernel,
# then where this process kept its scratch folder and its socket aliases, to check they are gone.
CELL = """
import json, os, sys
from solvegraph.sandbox import process_dir, resolve_sandbox
from solvegraph.sandbox import _sockets
from solvegraph.tools.python import KernelPool

mode, code = sys.argv[1], sys.argv[2]
out = {"pid": os.getpid()}
try:
    pool = KernelPool(size=0, sandbox=resolve_sandbox(mode))
    try:
        cell = pool.acquire().execute(code, timeout=60)
        out.update(ok=cell.ok, stdout=cell.stdout, error=cell.traceback or cell.error_value)
    finally:
        pool.close()
except Exception as exc:
    out.update(ok=False, stdout="", error=str(exc))
out.update(scratch=process_dir(), aliases=_sockets._chosen.get(os.getuid()))
print(json.dumps(out))
"""


def run_cell(python: str | Path, mode: str, code: str, tmpdir: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if keep_var(k)}
    if tmpdir is not None:
        env["TMPDIR"] = tmpdir
    proc = subprocess.run(
        [str(python), "-c", CELL, mode, code], capture_output=True, text=True, env=env, timeout=300, cwd="/"
    )
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # Ended normally: its scratch folder and its socket aliases went with it.
    assert not os.path.exists(out["scratch"]), out["scratch"]
    if out["aliases"]:
        assert not [n for n in os.listdir(out["aliases"]) if n.startswith(f"{out['pid']}-")]
    return out


def hostile_dir(under: Path, length: int) -> str:
    """A folder whose path is ``length`` bytes or a little more, with spaces and non-ASCII letters."""
    path = str(under / "tmp é ü")
    while len(os.fsencode(path)) < length:
        room = length - len(os.fsencode(path)) - 1
        path = os.path.join(path, ("ü x " + "y" * 240)[: max(1, min(room, 200))])
    os.makedirs(path, exist_ok=True)
    return path


def _as_nobody(sandbox) -> bool:
    """Whether sandboxed code runs as another user than ours (bubblewrap entered as root)."""
    return sandbox.mode == "bwrap" and not sandbox.userns


# -- a venv under /tmp ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tmp_venv() -> Iterator[Path]:
    """A venv under /tmp, whatever TMPDIR says, holding solvegraph and every package of ours.

    ``venv --copies`` puts the interpreter itself there; site-packages is this venv's, hard-linked
    (a second or so) or, on another filesystem, copied; solvegraph is a plain copy of the package,
    not the editable finder that points back at the repository.
    """
    root = Path(tempfile.mkdtemp(prefix="sg-loc ", dir="/tmp"))  # 0700, as from mktemp -d
    prefix = root / "vénv x"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--copies", str(prefix)], check=True)
        python = prefix / "bin" / "python"
        site = Path(
            subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        shutil.rmtree(site)
        ours = sysconfig.get_paths()["purelib"]
        if subprocess.run(["cp", "-al", ours, str(site)], capture_output=True).returncode != 0:
            shutil.rmtree(site, ignore_errors=True)
            subprocess.run(["cp", "-a", ours, str(site)], check=True)
        for finder in site.glob("__editable__*solvegraph*"):
            finder.unlink()
        if not (site / "solvegraph").exists():
            package = Path(solvegraph.__file__).parent
            shutil.copytree(package, site / "solvegraph", ignore=shutil.ignore_patterns("__pycache__"))
        yield prefix
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("mode", [*SANDBOXES, "gvisor"])
def test_python_cells_run_from_a_venv_under_tmp(tmp_venv: Path, mode: str) -> None:
    """The kernel's private /tmp used to hide the venv: only what the template had imported loaded.

    Under gVisor each kernel builds its own root, whose private /tmp is now mounted before the
    installation is bound into it (it used to be mounted after, and hid it)."""
    if mode == "gvisor":
        try:
            resolve_sandbox("gvisor")
        except SandboxError as exc:
            pytest.skip(str(exc))
    code = (
        "import pygments.lexers.rust, sys, os\n"  # not imported by the template: read after /tmp was covered
        "print(sys.prefix)\nprint(pygments.lexers.rust.__file__)\n"
        "try:\n    open(os.path.join(sys.prefix, 'written'), 'w')\nexcept OSError as exc:\n    print('read-only')"
    )
    out = run_cell(tmp_venv / "bin" / "python", mode, code)
    assert out["ok"], out["error"]
    lines = out["stdout"].splitlines()
    assert lines[0] == str(tmp_venv) and lines[1].startswith(str(tmp_venv)), lines
    if mode != "none":
        assert lines[2] == "read-only", "the installation is bound back read-only"


def test_a_venv_only_its_owner_may_enter_is_one_clear_line(tmp_venv: Path) -> None:
    sandbox = resolve_sandbox("bwrap")
    if not _as_nobody(sandbox):
        pytest.skip("the sandbox runs code as this user, who can enter the venv")
    tmp_venv.chmod(0o700)
    try:
        out = run_cell(tmp_venv / "bin" / "python", "bwrap", "print(1)")
    finally:
        tmp_venv.chmod(0o755)
    assert not out["ok"] and len(out["error"].splitlines()) == 1, out["error"]
    assert f"{tmp_venv} (mode 0700, owner root) cannot be read by the sandboxed user nobody (65534)" in out["error"]
    assert "chmod o+rx" in out["error"]
    assert "namespaces" not in out["error"], "bubblewrap works: only the permission is wrong"


# -- TMPDIR ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", SANDBOXES)
def test_python_cells_run_with_a_tmpdir_hundreds_of_bytes_long(tmp_path: Path, mode: str) -> None:
    """Sockets below it were too long for a Unix socket (107 bytes): they are reached by a short alias."""
    tmpdir = hostile_dir(tmp_path, 400)
    out = run_cell(sys.executable, mode, "print(6 * 7)", tmpdir=tmpdir)
    assert out["ok"] and out["stdout"].strip() == "42", out["error"]
    assert out["scratch"].startswith(tmpdir), "bulky files stay in TMPDIR"
    assert out["aliases"] and len(os.fsencode(out["aliases"])) + 34 + ROOM <= MAX_SOCKET_PATH


def test_python_cells_run_with_a_tmpdir_near_path_max(tmp_path: Path) -> None:
    """Nothing fits below a TMPDIR of 4000 bytes (PATH_MAX is 4096): scratch folders go to /tmp."""
    tmpdir = hostile_dir(tmp_path, 4000)
    out = run_cell(sys.executable, "bwrap", "print(6 * 7)", tmpdir=tmpdir)
    assert out["ok"] and out["stdout"].strip() == "42", out["error"]
    assert not out["scratch"].startswith(tmpdir)


def test_socket_aliases_of_a_killed_process_are_swept(tmp_path: Path) -> None:
    folder = hostile_dir(tmp_path, 300)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    make = "import sys, time; from solvegraph.sandbox._sockets import short_path; print(short_path(sys.argv[1]))"
    hold = make.replace("))", "), flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", hold, folder], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    alias = proc.stdout.readline().decode().strip()
    assert alias != folder and os.path.samefile(alias, folder)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.islink(alias), "killed: it could not clean up"
    subprocess.run([sys.executable, "-c", make, folder], env=env, check=True, capture_output=True)
    assert not os.path.lexists(alias) and not os.path.exists(os.path.dirname(alias)), "the next process swept it"


def test_a_short_path_needs_no_alias_and_an_alias_is_private(tmp_path: Path) -> None:
    assert short_path("/tmp") == "/tmp"
    long = hostile_dir(tmp_path, 200)
    alias = short_path(long)
    assert alias == short_path(long) and os.path.samefile(alias, long)
    assert len(os.fsencode(alias)) + ROOM <= MAX_SOCKET_PATH
    for folder in (os.path.dirname(alias), os.path.dirname(os.path.dirname(alias))):
        st = os.lstat(folder)
        assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o700, folder


def test_a_kernel_sees_no_session_folder_wherever_tmpdir_is() -> None:
    """Not under /tmp, the template's folder (the sessions' keys and sockets) was in every kernel's view."""
    if not os.access("/var/tmp", os.W_OK):
        pytest.skip("no writable /var/tmp")
    tmpdir = tempfile.mkdtemp(prefix="sg-loc-", dir="/var/tmp")
    try:
        code = f"import os\nprint([os.path.join(d, f) for d, _, fs in os.walk({tmpdir!r}) for f in fs])"
        out = run_cell(sys.executable, "bwrap", code, tmpdir=tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    assert out["ok"] and out["stdout"].strip() == "[]", out["stdout"] or out["error"]


def test_bound_paths_under_dev_shm_stay_visible_read_only_in_kernels(monkeypatch) -> None:
    """/dev/shm is covered like /tmp in each kernel; an import location there is bound back."""
    if not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    root = Path(tempfile.mkdtemp(prefix="sg-loc-", dir="/dev/shm"))
    try:
        site = root / "site-packages"  # named like an import location, so the sandbox binds it
        site.mkdir()
        (site / "probe.txt").write_text("kept")
        monkeypatch.syspath_prepend(str(site))
        factory = KernelFactory(resolve_sandbox("bwrap"), Limits())
        try:
            kernel = Kernel(factory, Limits())
            probe = site / "probe.txt"
            cell = kernel.execute(f"print(open({str(probe)!r}).read())\nopen({str(site / 'new')!r}, 'w')")
            kernel.shutdown()
        finally:
            factory.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert cell.stdout.strip() == "kept", cell.traceback
    assert cell.error_name in ("OSError", "PermissionError"), "read-only"


# -- folders only their owner may enter ---------------------------------------------------------------


def test_a_toolchain_only_its_owner_may_enter_is_one_clear_line(lean_binary: str, tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="toolchain ", dir=tmp_path))  # 0700, as from mktemp -d
    shutil.copy2(lean_binary, folder / "lean")
    options = {"sandbox": "bwrap", "lean_path": str(folder / "lean"), "lean_timeout": 30}
    with ToolSession(options=options) as session:
        refused = lean.run({"proof": PRELUDE_PROOF, "theorem": "refl_z"}, session)
        folder.chmod(0o755)
        fixed = lean.run({"proof": PRELUDE_PROOF, "theorem": "refl_z"}, session)
    assert fixed.ok, fixed.error
    if not _as_nobody(resolve_sandbox("bwrap")):
        assert refused.ok, refused.error  # the sandbox runs Lean as its owner
        return
    assert not refused.ok and len(refused.error.splitlines()) == 1, refused.error
    assert refused.error.startswith(f"sandbox (bwrap): {folder} (mode 0700, owner root) cannot be read by ")
    assert "the sandboxed user nobody (65534): chmod o+rx it" in refused.error
    assert "Permission denied" not in refused.error and "rejected" not in refused.error


def test_an_mcp_server_folder_only_its_owner_may_enter_is_one_clear_line(tmp_path: Path) -> None:
    folder = Path(tempfile.mkdtemp(prefix="server ", dir=tmp_path))
    shutil.copy2(FIXTURES / "mcp" / "odd_server.py", folder / "odd_server.py")
    config = McpServerConfig(
        name="odd", command=sys.executable, args=(str(folder / "odd_server.py"),), timeout=10, paths=(str(folder),)
    )
    warnings: list[str] = []
    servers = McpServers((config,), warn=warnings.append, sandbox="bwrap")
    try:
        status = servers.status()[0]
    finally:
        servers.close()
    if not _as_nobody(resolve_sandbox("bwrap")):
        assert status["running"], status["error"]
        return
    assert not status["running"] and len(warnings) == 1
    assert status["error"].startswith(f"sandbox (bwrap): {folder} (mode 0700, owner root) cannot be read by ")
    assert "nobody (65534)" in status["error"] and "does not exist" not in status["error"]


def test_reach_checks_the_bound_path_and_the_way_to_the_program(tmp_path: Path) -> None:
    """Against the real file system, for a uid that is neither the owner nor in the group."""
    other = 65534 if os.getuid() != 65534 else 65533
    tool = tmp_path / "tool"
    (tool / "bin").mkdir(parents=True)
    program = tool / "bin" / "run"
    program.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    program.chmod(0o755)
    check([str(tool)], [str(program)], other, other)  # all readable: no error
    (tool / "bin").chmod(0o700)
    with pytest.raises(SandboxError, match=r"/tool/bin \(mode 0700, .*cannot be searched by .*chmod o\+x it"):
        check([str(tool)], [str(program)], other, other)
    (tool / "bin").chmod(0o755)
    program.chmod(0o711)  # a script is read by its interpreter
    with pytest.raises(SandboxError, match=r"/bin/run \(mode 0711, .*cannot be run by .*chmod o\+rx it"):
        check([str(tool)], [str(program)], other, other)
    tool.chmod(0o700)
    with pytest.raises(SandboxError, match=r"/tool \(mode 0700, .*cannot be read by"):
        check([str(tool)], [], other, other)
    check([str(tool)], [str(program)], os.getuid(), os.getgid())  # its owner may


# -- a kernel that does not start ---------------------------------------------------------------------


def test_a_kernel_that_cannot_start_says_why_in_its_own_words() -> None:
    """jupyter_client says only "Kernel died before replying to kernel_info"; the kernel's log says why."""
    factory = KernelFactory(resolve_sandbox("auto"), Limits())
    try:
        with pytest.raises(SolvegraphError) as failed:
            Kernel(factory, Limits(memory_mb=10), startup_timeout=30)  # too little to start at all
    finally:
        factory.close()
    text = str(failed.value)
    first = text.splitlines()[0]
    assert first.startswith("could not start the Python kernel: ") and ("exited with code" in first or "died" in first)
    assert "died before replying" not in text


@pytest.mark.parametrize("mode", ["bwrap", "none"])
def test_a_shared_folder_is_never_handed_to_the_sandboxed_user(tmp_path: Path, mode: str) -> None:
    """A workdir of /tmp (or any sticky or world-writable folder) is refused, and left as it was.

    Handing it over would chown it to nobody with mode 0700: every other user, PostgreSQL's
    initdb among them, would be locked out of the machine's /tmp.
    """
    sandbox = resolve_sandbox(mode)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    for folder in (tempfile.gettempdir(), "/", str(shared)):
        before = os.stat(folder)
        with pytest.raises(SandboxError, match=r"refusing to give .* a private folder of its own"):
            sandbox.prepare_dir(folder)
        after = os.stat(folder)
        assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)
    with pytest.raises(SandboxError, match="refusing"):
        sandbox.run([sys.executable, "-c", "pass"], workdir=tempfile.gettempdir(), timeout=30)
    assert os.stat(tempfile.gettempdir()).st_mode & 0o1777 == 0o1777
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(SandboxError, match="not a folder"):  # a symlink is never followed, even to a private one
        sandbox.prepare_dir(str(link))
    assert target.stat().st_uid == os.getuid()
    private = tmp_path / "private"
    private.mkdir()
    sandbox.prepare_dir(str(private))  # its own folder is still handed over
    sandbox.prepare_dir(str(private))  # and again, for a second run in it
    assert private.stat().st_mode & 0o777 == 0o700
    assert private.stat().st_uid == sandbox.sandbox_uid()
