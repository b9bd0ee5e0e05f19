"""The one-way layers hold: import-linter's contracts (pyproject.toml), and config.py alone reads the environment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "solvegraph"

# The zygote rewrites the environment of the sandboxed child it becomes (from the request it was given);
# it reads no setting from it.
# Programs that run inside a sandbox, not in solvegraph's process: they set up or probe the child's environment.
WRITES_A_CHILD_ENV = {"sandbox/_zygote.py", "sandbox/_probe_script.py"}


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """import-linter with this project's contracts, run by this interpreter (its script may be in another bin)."""
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", code, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_import_contracts_are_kept() -> None:
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in proc.stdout


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        os_attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
        if os_attribute and node.attr in ("environ", "getenv", "environb"):
            lines.append(node.lineno)
        from_os = isinstance(node, ast.ImportFrom) and node.module == "os"
        if from_os and {a.name for a in node.names} & {"environ", "getenv"}:
            lines.append(node.lineno)
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if "tomllib" in names or "tomli" in names:
                lines.append(node.lineno)
    return lines


def test_only_config_reads_the_environment_and_toml() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "config.py" or rel in WRITES_A_CHILD_ENV:
            continue
        for line in _reads_environment(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"solvegraph/{rel}:{line}")
    assert not offenders, "only solvegraph/config.py may read environment variables or TOML: " + ", ".join(offenders)


def test_the_contract_checker_catches_a_layer_break(tmp_path: Path) -> None:
    """The contract is not vacuous: a copy of the package where plugins import bench is refused."""
    copy = tmp_path / "solvegraph"
    subprocess.run(["cp", "-r", str(PACKAGE), str(copy)], check=True)
    (copy / "plugins" / "_bad.py").write_text("from ..bench import scorers  # noqa\n")
    proc = lint_imports(tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0 and "solvegraph.plugins is not allowed to import solvegraph.bench" in proc.stdout


def test_the_model_core_stays_free_of_the_plugin_layer(tmp_path: Path) -> None:
    """The optimization model core's contract is not vacuous: a copy where it imports the plugins is refused."""
    copy = tmp_path / "solvegraph"
    subprocess.run(["cp", "-r", str(PACKAGE), str(copy)], check=True)
    (copy / "tools" / "optimization" / "model" / "_bad.py").write_text("from ....plugins import ToolResult  # noqa\n")
    proc = lint_imports(tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "solvegraph.tools.optimization.model is not allowed to import solvegraph.plugins" in proc.stdout
