"""Certificates end to end: a milp and a cp solve end tool-verified with a stored certificate, which
``solvegraph verify`` re-checks in a fresh sandboxed process (0), refutes when tampered with (1), and
refuses in one line when malformed (2); the export carries it and the viewer shows it."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.memory import Memory, Store
from solvegraph.types import Certificate
from solvegraph.view import make_app
from tests.conftest import run_cli

DUCKS = {
    "variables": [{"name": "boat", "type": "integer", "lb": 0}, {"name": "canoe", "type": "integer", "lb": 0}],
    "constraints": [
        {"name": "boat_limit", "coeffs": {"boat": 1}, "sense": "<=", "rhs": 12},
        {"name": "canoe_share", "coeffs": {"canoe": 0.4, "boat": -0.6}, "sense": ">=", "rhs": 0},
        {"name": "ducks", "coeffs": {"boat": 10, "canoe": 8}, "sense": ">=", "rhs": 300},
    ],
    "objective": {"sense": "minimize", "coeffs": {"boat": 20, "canoe": 40}},
}
SCHEDULE = {
    "variables": [
        {"name": "a", "type": "integer", "lb": 0, "ub": 20},
        {"name": "b", "type": "integer", "lb": 0, "ub": 20},
        {"name": "end", "type": "integer", "lb": 0, "ub": 40},
    ],
    "constraints": [
        {"name": "a_done", "expr": "a + 3 <= end"},
        {"name": "b_done", "expr": "b + 4 <= end"},
    ],
    "intervals": [{"name": "ja", "start": "a", "duration": 3}, {"name": "jb", "start": "b", "duration": 4}],
    "no_overlap": [{"name": "machine", "intervals": ["ja", "jb"]}],
    "objective": {"sense": "minimize", "expr": "end"},
}


def _solve(scripted: Any, store: Store, tool: str, model: dict[str, Any], answer: str) -> Any:
    script = {
        "planner": ["1. model it 2. solve it"],
        "solver": [{"tool_calls": [{"name": tool, "arguments": {"model": model}}]}, f"ANSWER: {answer}"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as m:
        return SolveRunner(ModelClient(m.base_url), memory=Memory(store)).solve(f"A {tool} problem: {answer}?")


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One store with a milp solve and a cp solve, each tool-verified."""
    from solvegraph.testing import ScriptedModel

    tmp = tmp_path_factory.mktemp("certs")
    url = f"sqlite:///{tmp}/memory.sqlite"
    store = Store(url)
    out: dict[str, Any] = {"url": url, "tmp": tmp}
    started: list[ScriptedModel] = []

    class Scripted(ScriptedModel):
        def start(self) -> ScriptedModel:
            started.append(self)
            return super().start()

    try:
        out["milp"] = _solve(Scripted, store, "milp", DUCKS, "1160")
        out["cp"] = _solve(Scripted, store, "cp", SCHEDULE, "7")
    finally:
        for m in started:
            m.stop()
    out["store"] = store
    yield out
    store.close()


def _cert(solved: dict[str, Any], tool: str) -> dict[str, Any]:
    (cert,) = solved["store"].certificates(solved[tool].id)
    return cert.to_dict()


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_a_solve_ends_tool_verified_with_a_stored_certificate(solved: dict[str, Any], tool: str) -> None:
    t = solved[tool]
    verdict = [s.verdict for s in t.steps if s.agent == "verifier"][-1]
    # HiGHS and exact rationals agree with the MILP; SCIP cannot take the schedule's no-overlap, so the cp
    # answer stays one tier down. Either way the certificate is what makes it verified.
    assert t.solved and t.trust == {"milp": "cross-verified", "cp": "tool-verified"}[tool], t.stop_reason
    (cert,) = solved["store"].certificates(t.id)
    assert verdict["certificates"] == [cert.id], "the verdict names the certificate by id"
    assert "artifacts" not in json.dumps(verdict), "the artifacts stay out of the step"
    assert all("certificate" not in (r.get("data") or {}) for s in t.steps for r in s.tool_results)
    assert cert.kind == tool and cert.answer == t.answer and cert.trajectory_id == t.id and cert.problem_id
    assert cert.claim["status"] == "optimal" and cert.claim["values"] and cert.tool == tool
    assert json.loads(cert.artifacts["model.json"]) == (DUCKS if tool == "milp" else SCHEDULE)
    if tool == "milp":
        assert cert.artifacts["model.cip"].rstrip().endswith("END") and "model.mps" in cert.artifacts
        assert cert.provenance["solver"] == "SCIP" and cert.provenance["route"] == "declarative"
    else:
        assert "no_overlap" in cert.artifacts["model.pb.txt"] and len(cert.claim["solution"]) >= 3


@pytest.mark.parametrize("tool", ["milp", "cp"])
def test_verify_a_stored_trajectory_rechecks_it_and_exits_0(solved: dict[str, Any], tool: str) -> None:
    done = run_cli("verify", solved[tool].id, "--db", solved["url"])
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("passed") and "optimality" in line for line in lines), done.stdout
    assert lines[-1] == "verified: 1 verified (1 certificate)"
    assert not any(line.startswith("failed") for line in lines)


def _tampered(cert: dict[str, Any], how: str) -> dict[str, Any]:
    bad = copy.deepcopy(cert)
    claim = bad["claim"]
    if how == "objective":
        claim["objective"] -= 20
    elif how == "value":
        name = next(iter(claim["values"]))
        claim["values"][name] += 1
    elif how == "constraint":  # the ducks need 10 boats' worth fewer seats: 1160 is no longer optimal
        bad["artifacts"]["model.cip"] = bad["artifacts"]["model.cip"].replace(">= 300", ">= 290")
        bad["artifacts"].pop("model.mps")
    return bad


@pytest.mark.parametrize("how", ["objective", "value", "constraint"])
def test_a_tampered_milp_certificate_is_refuted(solved: dict[str, Any], how: str, tmp_path: Path) -> None:
    cert = _cert(solved, "milp")
    assert ">= 300" in cert["artifacts"]["model.cip"]
    path = tmp_path / "cert.json"
    path.write_text(json.dumps(_tampered(cert, how)))
    done = run_cli("verify", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(line.startswith("failed") for line in done.stdout.splitlines()), done.stdout
    assert done.stdout.splitlines()[-1].startswith("refuted")


def test_a_tampered_cp_certificate_is_refuted_and_json_reports_it(solved: dict[str, Any]) -> None:
    bad = _tampered(_cert(solved, "cp"), "objective")
    done = run_cli("verify", "-", "--json", input=json.dumps(bad))
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["outcome"] == "refuted"
    assert {"check": "objective", "outcome": "failed"}.items() <= next(
        c for c in report["certificates"][0]["checks"] if c["check"] == "objective"
    ).items()


def test_a_certificate_read_from_stdin_is_verified(solved: dict[str, Any]) -> None:
    done = run_cli("verify", "-", input=json.dumps(_cert(solved, "cp")))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "verified: 1 verified (1 certificate)"


def _malformed(cert: dict[str, Any], how: str) -> str:
    bad = copy.deepcopy(cert)
    if how == "json":
        return json.dumps(cert)[:200]
    if how == "schema":
        bad["schema"] = 99
    elif how == "claim":
        del bad["claim"]
    elif how == "values":
        bad["claim"]["values"] = "x=1"
    elif how == "kind":
        bad["kind"] = "sudoku"
    elif how == "artifact":
        text = bad["artifacts"]["model.cip"]
        bad["artifacts"]["model.cip"] = text[: len(text) // 2]
    return json.dumps(bad)


@pytest.mark.parametrize(
    ("how", "named"),
    [
        ("json", "not JSON"),
        ("schema", "schema"),
        ("claim", "claim"),
        ("values", "claim.values"),
        ("kind", "kind"),
        ("artifact", "artifacts.model.cip"),
    ],
)
def test_a_malformed_certificate_is_one_line_naming_the_field(solved: dict[str, Any], how: str, named: str) -> None:
    done = run_cli("verify", "-", input=_malformed(_cert(solved, "milp"), how))
    assert done.returncode == 2, done.stdout + done.stderr
    said = (done.stdout + done.stderr).strip().splitlines()
    assert len(said) == 1 and named in said[0] and "Traceback" not in said[0], said


def test_export_carries_the_certificates_and_verify_reads_the_export(solved: dict[str, Any], tmp_path: Path) -> None:
    t = solved["milp"]
    done = run_cli("runs", "export", t.id, "--db", solved["url"])
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    record = json.loads(line)
    assert [c["id"] for c in record["certificates"]] == [c.id for c in solved["store"].certificates(t.id)]
    assert Certificate.from_dict(record["certificates"][0]).artifacts["model.cip"]
    path = tmp_path / "export.jsonl"
    path.write_text(done.stdout)
    again = run_cli("verify", str(path))
    assert again.returncode == 0, again.stdout + again.stderr


def test_the_viewer_shows_the_certificate_escaped_and_serves_its_json(solved: dict[str, Any]) -> None:
    store = solved["store"]
    t = solved["milp"]
    (cert,) = store.certificates(t.id)
    client = TestClient(make_app(store))
    page = client.get(f"/t/{t.id}")
    assert page.status_code == 200
    html = page.text
    assert f'id="certificate-{cert.id}"' in html and f"/certificates/{cert.id}" in html
    assert "model.cip" in html and "&lt;boat&gt;" in html, "the model text is shown escaped"
    assert "optimality" not in html or "<details>" in html
    served = client.get(f"/certificates/{cert.id}")
    assert served.status_code == 200 and served.json()["id"] == cert.id
    assert client.get("/certificates/nope").status_code == 404


def test_an_exact_cache_answer_carries_the_certificates_it_rests_on(solved: dict[str, Any]) -> None:
    from solvegraph.types import Trajectory

    store = solved["store"]
    source = solved["milp"]
    again = Trajectory(problem=source.problem, model="m")
    Memory(store).cache_hit(again, ("1160", source.id, "tool-verified"))
    (copied,) = again.certificates
    (original,) = store.certificates(source.id)
    assert copied.id != original.id and copied.trajectory_id == again.id
    assert copied.claim == original.claim and copied.artifacts == original.artifacts
