"""`solvegraph plugins new`, installed with pip -e, and the sympy example plugin through the graph."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, pip_install_target, run_cli


def _venv(path: Path) -> Path:
    """A new venv that also sees the running environment's packages (solvegraph, pytest), like a user's own.

    ``--system-site-packages`` is not that when the tests themselves run in a venv: it exposes the base
    interpreter's site-packages, where solvegraph is not installed. A ``.pth`` line that calls
    ``site.addsitedir`` adds this environment's site-packages and runs its own ``.pth`` files (the
    editable solvegraph install among them).
    """
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    python = path / "bin" / "python"
    new_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    lines = "".join(f"import site; site.addsitedir({d!r})\n" for d in dirs)
    (Path(new_site) / "_solvegraph_test_parent.pth").write_text(lines)
    return python


def test_scaffold_installs_and_is_found(tmp_path: Path) -> None:
    proc = run_cli("plugins", "new", "wordcount", "--dir", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    project = Path(proc.stdout.strip())
    assert (project / "pyproject.toml").is_file() and (project / "README.md").is_file()
    assert (project / "solvegraph_wordcount" / "plugin.py").is_file()
    python = _venv(tmp_path / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(project)], check=True, capture_output=True
    )
    listed = subprocess.run(
        [str(python), "-m", "solvegraph.cli", "plugins", "list", "--json"], capture_output=True, text=True, check=True
    )
    data = json.loads(listed.stdout)
    assert "wordcount" in data["tools"]
    # The generated tests, which use the conformance kit, pass as generated.
    tests = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "5 passed" in tests.stdout
    # Its options model is listed with its default.
    (plugin,) = [p for p in data["plugins"] if p["plugin"] == "wordcount"]
    assert [(o["name"], o["default"]) for o in plugin["options"]] == [("max_chars", 100_000)]


@pytest.mark.parametrize("name", ["Bad-Name", "1abc"])
def test_scaffold_rejects_bad_names(tmp_path: Path, name: str) -> None:
    proc = run_cli("plugins", "new", name, "--dir", str(tmp_path))
    assert proc.returncode == 2 and "must be lowercase" in proc.stderr


def test_scaffold_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    proc = run_cli("plugins", "new", "taken", "--dir", str(tmp_path))
    assert proc.returncode == 2 and "already exists" in proc.stderr


@pytest.fixture(scope="module")
def cas_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example installed as its own distribution."""
    site = tmp_path_factory.mktemp("cas-site")
    pip_install_target(site, ROOT / "examples" / "sympy_cas")
    return site


def test_sympy_example_own_tests_pass(cas_site: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "examples" / "sympy_cas" / "tests"),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cas_site), "PATH": "/usr/bin:/bin"},
        cwd=cas_site,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sympy_example_is_called_through_the_graph(cas_site: Path, scripted) -> None:
    script = {
        "planner": ["1. integrate with cas_integrate"],
        "solver": [
            {"tool_calls": [{"name": "cas_integrate", "arguments": {"expression": "x^2", "lower": "0", "upper": "3"}}]},
            "ANSWER: 9",
        ],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        proc = run_cli(
            "solve",
            "Integrate x^2 from 0 to 3",
            "--json",
            "--base-url",
            model.base_url,
            env={"PYTHONPATH": str(cas_site)},
        )
        planner_system = model.calls("planner")[0]["messages"][0]["content"]
        offered = {t["function"]["name"] for t in model.calls("solver")[0]["tools"]}
    assert proc.returncode == 3, proc.stderr  # model-accepted
    data = json.loads(proc.stdout)
    result = data["steps"][1]["tool_results"][0]
    assert result["name"] == "cas_integrate" and result["ok"] and result["output"] == "9"
    assert data["answer"] == "9" and data["solved"]
    # The plugin's prompt fragment reached the planner, and its tools were offered to the solver.
    assert "cas_* tools" in planner_system
    assert {"cas_simplify", "cas_solve", "cas_integrate", "python"} <= offered
