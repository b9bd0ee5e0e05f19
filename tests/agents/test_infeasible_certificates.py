"""Infeasible answers end to end: a milp and a cp model that really are infeasible, answered "infeasible",
end tool-verified with a certificate naming the conflict, which ``solvegraph verify`` re-solves in a fresh
sandboxed process (0); a core that is a feasible subset is refuted (1), an unknown name is malformed (2);
an infeasible result answered with a number is still rejected."""

from __future__ import annotations

import copy
import json
import random
import time
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


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_an_infeasible_answer_to_a_model_with_a_solution_is_rejected(
    tool: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reverse of the above: the solver found a point, so "infeasible" is wrong, never tool-verified."""
    monkeypatch.chdir(tmp_path)
    feasible = copy.deepcopy(CONFLICT)
    feasible["constraints"] = [c for c in feasible["constraints"] if c["name"] != "x_cap"]
    if tool == "milp":
        from solvegraph.tools.optimization.milp.worker import solve_declarative
    else:
        from solvegraph.tools.optimization.cp.worker import solve_declarative  # type: ignore[no-redef]
    data = solve_declarative(feasible, 10.0, 1)
    assert data["status"] == "optimal" and data["objective"] == 8
    said = review(tool, {"model": feasible}, data, kind=tool, answer="Infeasible.")
    assert said is not None and said["accepted"] is False and "certificate" not in said
    assert "has a solution (status optimal, objective 8)" in said["feedback"]
    number = review(tool, {"model": feasible}, data, kind=tool, answer="8")
    assert number is not None and number["accepted"] is True


def _scip_file(build: Any, ext: str, tmp_path: Any) -> str:
    from pyscipopt import Model

    scip = Model()
    scip.hideOutput()
    build(scip)
    path = tmp_path / f"model.{ext}"
    scip.writeProblem(str(path), verbose=False)
    return path.read_text()


def _implied(scip: Any) -> None:  # x in [0, 1] continuous, but marked implied integral: 2x = 1 holds at 0.5
    x = scip.addVar("x", vtype="M", lb=0, ub=1)
    scip.addCons(2 * x == 1, name="half")


def _infinite(scip: Any) -> None:  # x >= 1e25: SCIP reads it as x >= +infinity
    x = scip.addVar("x", lb=None, ub=None)
    scip.addCons(x >= 1e25, name="half")


@pytest.mark.parametrize(("build", "why"), [(_implied, "marked implied integral"), (_infinite, "past 1e+12")])
def test_what_scips_solve_takes_on_trust_is_no_proof_of_infeasibility(build: Any, why: str, tmp_path: Any) -> None:
    """Feasible files that SCIP's solve calls infeasible: the certificate is not verified (1), and says why."""
    cert = {
        "kind": "milp",
        "claim": {"status": "infeasible", "iis": ["half"]},
        "artifacts": {"model.cip": _scip_file(build, "cip", tmp_path)},
    }
    done = run_cli("verify", "-", "--sandbox", "bwrap", input=json.dumps(cert))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("not checked") and "infeasibility (SCIP)" in line and why in line for line in lines)
    assert "the claim rests on infeasibility (SCIP), which was not checked" in done.stdout
    assert not any(line.startswith("passed") and "irreducibility" in line for line in lines)


def test_an_implied_integral_mark_set_by_model_code_confirms_no_conflict(tmp_path: Any, monkeypatch: Any) -> None:
    """At run time, code mode's file goes through the same re-solve: the worker's read-back model (x
    continuous) is feasible, so the conflict SCIP reports is not confirmed and no certificate is issued."""
    from solvegraph.tools.optimization.milp.worker import confirm_in_file, irreducible_conflict
    from solvegraph.tools.optimization.model import parse_model

    monkeypatch.chdir(tmp_path)
    model = parse_model(
        {
            "variables": [{"name": "x", "type": "continuous", "lb": 0, "ub": 1}],
            "constraints": [{"name": "half", "coeffs": {"x": 2}, "sense": "==", "rhs": 1}],
        },
        kind="milp",
    )
    found = irreducible_conflict(model, ["half"], deadline=time.monotonic() + 30)
    assert "iis_confirmed" not in found and "read back is feasible" in found["iis_note"]
    out = {"iis": ["half"], "iis_confirmed": True, "certificate": {"artifacts": {}}}
    out["certificate"]["artifacts"]["model.cip"] = _scip_file(_implied, "cip", tmp_path)
    confirm_in_file(out, deadline=time.monotonic() + 30)
    assert "iis_confirmed" not in out, out


def test_highs_on_a_second_file_never_carries_an_infeasible_claim_alone(tmp_path: Any) -> None:
    """model.mps is a second artifact: an infeasible one beside a model.cip SCIP cannot decide in the time
    limit (a feasible market-split instance) refutes nothing, and verifies nothing either (1)."""
    from pyscipopt import quicksum

    rng = random.Random(7)
    a = [[rng.randint(0, 99) for _ in range(50)] for _ in range(6)]
    point = [rng.randint(0, 1) for _ in range(50)]

    def market_split(scip: Any) -> None:
        x = [scip.addVar(f"x{j}", vtype="B") for j in range(50)]
        for i, row in enumerate(a):
            scip.addCons(
                quicksum(c * v for c, v in zip(row, x, strict=True))
                == sum(c * p for c, p in zip(row, point, strict=True)),
                name=f"c{i}",
            )

    def contradiction(scip: Any) -> None:
        y = scip.addVar("y", lb=0, ub=1)
        scip.addCons(y >= 2, name="c0")
        for i in range(1, 6):
            scip.addCons(y <= 1, name=f"c{i}")

    cert = {
        "kind": "milp",
        "claim": {"status": "infeasible", "iis": [f"c{i}" for i in range(6)]},
        "artifacts": {
            "model.cip": _scip_file(market_split, "cip", tmp_path),
            "model.mps": _scip_file(contradiction, "mps", tmp_path),
        },
    }
    done = run_cli("verify", "-", "--sandbox", "bwrap", "--time-limit", "1", input=json.dumps(cert))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    scip = [line for line in lines if "infeasibility (SCIP)" in line]
    assert scip and not scip[0].startswith("passed"), done.stdout  # undecided in 1 s (or the point found)
    assert any(line.startswith("passed") and "HiGHS" in line for line in lines), done.stdout
    assert lines[-1].startswith("refuted")


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_a_certificate_whose_answer_contradicts_its_claim_is_refuted(
    solved: dict[str, Any], tool: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer a certificate backs is checked against its claim: "7" of an infeasible claim, and
    "infeasible" of an optimal one (a certificate's answer field edited after the run), exit 1."""
    edited = copy.deepcopy(_cert(solved, tool))
    assert says_infeasible(edited["answer"])
    edited["answer"] = "7"
    monkeypatch.chdir(tmp_path)
    feasible = copy.deepcopy(CONFLICT)
    feasible["constraints"] = [c for c in feasible["constraints"] if c["name"] != "x_cap"]
    if tool == "milp":
        from solvegraph.tools.optimization.milp.worker import solve_declarative
    else:
        from solvegraph.tools.optimization.cp.worker import solve_declarative  # type: ignore[no-redef]
    accepted = review(tool, {"model": feasible}, solve_declarative(feasible, 10.0, 1), kind=tool, answer="8")
    assert accepted is not None and accepted["accepted"] is True
    optimal = {**accepted["certificate"], "answer": "Infeasible."}
    for cert, said in ((edited, "does not say the problem is infeasible"), (optimal, "says the problem is infeasible")):
        done = run_cli("verify", "-", "--sandbox", "bwrap", input=json.dumps(cert))
        assert done.returncode == 1, done.stdout + done.stderr
        assert done.stdout.splitlines()[0].startswith("failed") and said in done.stdout, done.stdout
