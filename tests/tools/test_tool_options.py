"""The built-in tools read typed options: each from its plugin's section, and from the older flat settings.

Real parts throughout: SCIP in its sandboxed worker, a Jupyter kernel, a real Lean binary.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from solvegraph.plugins import CodeKernel, ToolSession
from solvegraph.tools.lean import LeanNotConfigured, LeanOptions, check_proof, find_toolchain
from solvegraph.tools.optimization.milp.host import milp
from solvegraph.tools.python import python
from solvegraph.tools.smt.host import smt
from tests.tools.test_lean import PRELUDE, STATEMENT

# A model whose expansion (two million variables) needs far more than 200 MB: it can only fit a bigger limit.
HUGE = {
    "sets": {"I": 1_000_000},
    "variables": [{"name": "x", "index": ["I"], "ub": 1}, {"name": "y", "index": ["I"], "ub": 1}],
    "objective": {"sense": "maximize", "expr": "sum(x[i] for i in I)"},
}


@pytest.mark.parametrize(
    "options",
    [{"tools": {"milp": {"memory_mb": 200}}}, {"kernel_memory_mb": 200}],
    ids=["milp.memory_mb", "kernel_memory_mb"],
)
def test_the_solver_worker_gets_the_milp_memory_option(options: dict) -> None:
    """``solver_memory_mb`` used to be read and never set; ``[tools.milp] memory_mb`` is the real option, and the
    flat ``kernel_memory_mb`` still sets it."""
    with ToolSession(options=options) as session:
        result = milp.run({"model": HUGE}, session)
    assert not result.ok and "out of memory (200 MB)" in result.error, result.error


def test_the_python_cell_timeout_option_limits_a_cell() -> None:
    with ToolSession(options={"tools": {"python": {"cell_timeout": 1}}}) as session:
        result = python.run({"code": "import time; time.sleep(20)"}, session)
        assert not result.ok and "ran longer than 1 s" in result.error, result.error
        kernel = session.service(CodeKernel)  # the typed service the solvers' code mode uses
        assert kernel.cell_timeout == 1.0
        assert kernel.execute("print(6 * 7)", timeout=10).stdout.strip() == "42"
        # The name it had before it was typed still answers, with the same session's kernel.
        assert session.service("python.kernel").execute("print(2)", timeout=10).stdout.strip() == "2"  # type: ignore[arg-type]


def test_a_bad_option_value_is_a_tool_error_not_a_crash() -> None:
    with ToolSession(options={"tools": {"python": {"cell_timeout": "soon"}}}) as session:
        result = python.run({"code": "1"}, session)
    assert not result.ok and "[tools.python] cell_timeout: Input should be a valid number" in result.error


def test_lake_path_is_a_real_option(tmp_path: Path) -> None:
    """``lake_path`` used to be read and never set, while its error told the user to set it."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "lakefile.lean").write_text("-- a Lake project\n")
    lake = tmp_path / "bin" / "lake"
    lake.parent.mkdir()
    lake.write_text("#!/bin/sh\nexit 0\n")
    lake.chmod(0o755)
    command, cwd = find_toolchain(LeanOptions(project=str(project), lake_path=str(lake)))
    assert command == [str(lake), "env", "lean"] and cwd == str(project)
    path = os.environ.get("PATH", "")
    try:
        os.environ["PATH"] = str(tmp_path / "nowhere")  # no lake on PATH: the option is the only way
        with pytest.raises(LeanNotConfigured, match=r"set lake_path in \[tools.lean\]"):
            find_toolchain(LeanOptions(project=str(project)))
    finally:
        os.environ["PATH"] = path


def test_lean_reads_its_section_and_the_flat_settings(lean_binary: str) -> None:
    proof = PRELUDE + "theorem refl_z : Eq2 N.z N.z := Eq2.refl N.z\n"
    verdict = check_proof(proof, statement=STATEMENT, options={"tools": {"lean": {"lean_path": lean_binary}}})
    assert verdict.accepted, verdict.reasons
    verdict = check_proof(proof, statement=STATEMENT, options={"lean_path": lean_binary, "lean_timeout": 30})
    assert verdict.accepted, verdict.reasons


def test_smt_refuses_a_call_over_its_memory_cap() -> None:
    with ToolSession(options={"tools": {"smt": {"max_memory_mb": 3000}}}) as session:
        result = smt.run({"smtlib": "(declare-const x Int)(assert (> x 1))", "memory_mb": 4096}, session)
        assert not result.ok and "over this run's limit of 3000 MB" in result.error
        assert smt.run({"smtlib": "(declare-const x Int)(assert (> x 1))"}, session).ok  # the default 2048 MB
