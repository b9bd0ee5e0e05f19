"""Infeasible answers end to end: a milp and a cp model that really are infeasible, answered "infeasible",
end tool-verified with a certificate naming the conflict, which ``solvegraph verify`` re-solves in a fresh
sandboxed process (0); a core that is a feasible subset is refuted (1), an unknown name is malformed (2);
an infeasible result answered with a number is still rejected."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.memory import Memory, Store
from solvegraph.tools.optimization._results import review, says_infeasible
from tests.conftest import run_cli

# x + y >= 8 with x <= 2 and y <= 3 cannot hold; "spare" is not part of the conflict.
CONFLICT = {
    "variables": [
        {"name": "x", "type": "integer", "lb": 0, "ub": 10},
        {"name": "y", "type": "integer", "lb": 0, "ub": 10},
    ],
    "constraints": [
        {"name": "demand", "coeffs": {"x": 1, "y": 1}, "sense": ">=", "rhs": 8},
        {"name": "x_cap", "coeffs": {"x": 1}, "sense": "<=", "rhs": 2},
        {"name": "y_cap", "coeffs": {"y": 1}, "sense": "<=", "rhs": 3},
        {"name": "spare", "coeffs": {"x": 1, "y": -1}, "sense": "<=", "rhs": 5},
    ],
    "objective": {"sense": "minimize", "coeffs": {"x": 1, "y": 1}},
}
CORE = {"demand", "x_cap", "y_cap"}
FIELD = {"milp": "iis", "cp": "core"}


def _solve(scripted: Any, store: Store, tool: str, answer: str) -> Any:
    script = {
        "planner": ["1. model it 2. solve it"],
        "solver": [{"tool_calls": [{"name": tool, "arguments": {"model": CONFLICT}}]}, f"ANSWER: {answer}"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as m:
        return SolveRunner(ModelClient(m.base_url), memory=Memory(store)).solve(f"Can the {tool} plan be met?")


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One store with a milp and a cp solve of the infeasible model, each answered "Infeasible."."""
    from solvegraph.testing import ScriptedModel

    tmp = tmp_path_factory.mktemp("infeasible")
    url = f"sqlite:///{tmp}/memory.sqlite"
    store = Store(url)
    out: dict[str, Any] = {"url": url, "store": store}
    started: list[ScriptedModel] = []

    class Scripted(ScriptedModel):
        def start(self) -> ScriptedModel:
            started.append(self)
            return super().start()

    try:
        out["milp"] = _solve(Scripted, store, "milp", "Infeasible.")
        out["cp"] = _solve(Scripted, store, "cp", "infeasible")
    finally:
        for m in started:
            m.stop()
    yield out
    store.close()


def _cert(solved: dict[str, Any], tool: str) -> dict[str, Any]:
    (cert,) = solved["store"].certificates(solved[tool].id)
    return cert.to_dict()


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_an_infeasible_answer_ends_tool_verified_with_a_certificate_of_the_conflict(
    solved: dict[str, Any], tool: str
) -> None:
    t = solved[tool]
    assert t.solved and t.trust == "tool-verified", t.stop_reason
    verdict = [s.verdict for s in t.steps if s.agent == "verifier"][-1]
    (cert,) = solved["store"].certificates(t.id)
    assert verdict["certificates"] == [cert.id] and verdict["verified_by"] == [f"{tool}-check"]
    assert cert.kind == tool and cert.claim["status"] == "infeasible"
    assert set(cert.claim[FIELD[tool]]) == CORE
    assert json.loads(cert.artifacts["model.json"]) == CONFLICT
    if tool == "milp":
        assert cert.artifacts["model.cip"].rstrip().endswith("END") and "model.mps" in cert.artifacts
    else:
        assert 'name: "demand"' in cert.artifacts["model.pb.txt"]


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_verify_rechecks_the_infeasibility_and_exits_0(solved: dict[str, Any], tool: str) -> None:
    done = run_cli("verify", solved[tool].id, "--db", solved["url"])
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("passed") and "infeasibility" in line for line in lines), done.stdout
    if tool == "milp":
        assert any(line.startswith("passed") and "HiGHS" in line for line in lines), done.stdout
    assert any(line.startswith("passed") and ("irreducibility" in line or "minimality" in line) for line in lines)
    assert lines[-1] == "verified: 1 verified (1 certificate)"


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_a_feasible_subset_claimed_as_the_conflict_is_refuted(solved: dict[str, Any], tool: str) -> None:
    bad = copy.deepcopy(_cert(solved, tool))
    bad["claim"][FIELD[tool]] = ["demand", "x_cap"]  # x = 2, y = 6 satisfies both
    done = run_cli("verify", "-", input=json.dumps(bad))
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(line.startswith("failed") and "feasible point" in line for line in done.stdout.splitlines())
    assert done.stdout.splitlines()[-1].startswith("refuted")


@pytest.mark.parametrize(("tool", "how"), [("milp", "unknown"), ("milp", "missing"), ("cp", "unknown")])
def test_an_unknown_or_missing_conflict_is_malformed(solved: dict[str, Any], tool: str, how: str) -> None:
    bad = copy.deepcopy(_cert(solved, tool))
    if how == "unknown":
        bad["claim"][FIELD[tool]] = ["demand", "nosuch"]
    else:
        del bad["claim"][FIELD[tool]]
    done = run_cli("verify", "-", input=json.dumps(bad))
    assert done.returncode == 2, done.stdout + done.stderr
    said = (done.stdout + done.stderr).strip().splitlines()
    assert len(said) == 1 and f"claim.{FIELD[tool]}" in said[0] and "Traceback" not in said[0], said
    assert how == "missing" or "nosuch" in said[0]


def _infeasible_data(tool: str) -> dict[str, Any]:
    """The worker's result for the infeasible model, from real SCIP / CP-SAT."""
    if tool == "milp":
        from solvegraph.tools.optimization.milp.worker import solve_declarative
    else:
        from solvegraph.tools.optimization.cp.worker import solve_declarative  # type: ignore[no-redef]
    return solve_declarative(CONFLICT, 10.0, 1)


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_an_infeasible_result_answered_with_a_number_is_still_rejected(
    tool: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the worker functions write scratch model files in the working directory
    data = _infeasible_data(tool)
    said = review(tool, {"model": CONFLICT}, data, kind=tool, answer="7")
    assert said is not None and said["accepted"] is False
    assert "if the problem really is infeasible, answer 'infeasible'" in said["feedback"]
    assert review(tool, {"model": CONFLICT}, data, kind=tool, answer=None) == said
    accepted = review(tool, {"model": CONFLICT}, data, kind=tool, answer="No feasible solution exists.")
    assert accepted is not None and accepted["accepted"] is True and accepted["certificate"]["kind"] == tool


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_an_unconfirmed_conflict_is_a_note_not_a_verification(
    tool: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    data = _infeasible_data(tool)
    data.pop("iis_confirmed" if tool == "milp" else "unsat_core_confirmed")
    said = review(tool, {"model": CONFLICT}, data, kind=tool, answer="infeasible")
    assert said is not None and "accepted" not in said and "not verified" in said["feedback"]


@pytest.mark.parametrize(
    ("answer", "infeasible"),
    [
        ("infeasible", True),
        ("Infeasible.", True),
        ("**INFEASIBLE**", True),
        ("no feasible solution", True),
        ("  The problem is  infeasible! ", True),
        ("7", False),
        ("infeasible, but x = 3 is close", False),
        ("not infeasible", False),
        ("", False),
        (None, False),
    ],
)
def test_the_infeasible_answer_normalisation_is_strict(answer: str | None, infeasible: bool) -> None:
    assert says_infeasible(answer) is infeasible
