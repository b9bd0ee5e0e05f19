"""The smt certificate: produced with each sat/unsat answer, re-checked by real Z3 and real cvc5 in a fresh
sandboxed worker, refuted when tampered with, and read by the smt-check verifier."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from solvegraph.sandbox import SOLVER_STACK_MB, Limits, resolve_sandbox
from solvegraph.sandbox._worker import SandboxWorker
from solvegraph.tools.smt.certify import check_certificate
from solvegraph.tools.smt.host import CHECK, checked_answer, smt
from solvegraph.types import Certificate

SAT = {
    "declarations": "(declare-const x Int) (declare-const y Int)",
    "assertions": [{"name": "sum", "formula": "(= (+ x y) 10)"}, {"name": "diff", "formula": "(= (- x y) 4)"}],
}
UNSAT = {
    "declarations": "(declare-const x Int)",
    "assertions": [
        {"name": "big", "formula": "(> x 3)"},
        {"name": "small", "formula": "(< x 2)"},
        {"name": "positive", "formula": "(> x 0)"},
    ],
}


def _answer(arguments: dict[str, Any]) -> dict[str, Any]:
    """The smt tool's real result, as the verifier sees it in a run's results."""
    r = smt.run(arguments)
    return {"name": "smt", "arguments": arguments, "result": {"ok": r.ok, "output": r.output, "data": r.data}}


def _in_fresh_worker(certificate: dict[str, Any]) -> tuple[str, Any]:
    """The checker as ``solvegraph verify`` runs it: in a new sandboxed worker that shares nothing."""
    worker = SandboxWorker(resolve_sandbox("auto"), [CHECK], Limits(memory_mb=2048, stack_mb=SOLVER_STACK_MB))
    try:
        return worker.call(CHECK, certificate, {}, deadline_s=60)
    finally:
        worker.close()


@pytest.fixture(scope="module")
def sat_answer() -> dict[str, Any]:
    return _answer(SAT)


@pytest.fixture(scope="module")
def unsat_answer() -> dict[str, Any]:
    return _answer(UNSAT)


def outcomes(lines: list[dict[str, str]]) -> dict[str, str]:
    return {line["check"]: line["outcome"] for line in lines}


def test_a_sat_answer_is_certified_and_cross_verified_by_cvc5(sat_answer: dict[str, Any]) -> None:
    verdict = checked_answer("x + y = 10, x - y = 4", [sat_answer])
    assert verdict is not None and verdict["accepted"] is True
    assert verdict["cross_verified"] == ["cvc5"]
    certificate = verdict["certificate"]
    assert isinstance(certificate, Certificate) and certificate.kind == "smt"
    assert certificate.claim["status"] == "sat"
    assert set(certificate.claim["model"]) == {"x", "y"}
    assert "(assert (! (= (+ x y) 10) :named sum))" in certificate.artifacts["script.smt2"]
    assert certificate.provenance["z3"] and certificate.provenance["cvc5"]


def test_an_unsat_answer_is_certified_by_its_core(unsat_answer: dict[str, Any]) -> None:
    verdict = checked_answer("", [unsat_answer])
    assert verdict is not None and verdict["accepted"] is True and verdict["cross_verified"] == ["cvc5"]
    assert verdict["certificate"].claim == {"status": "unsat", "core": ["big", "small"]}


@pytest.mark.parametrize("which", ["sat", "unsat"])
def test_the_genuine_certificate_passes_in_a_fresh_worker(
    which: str, sat_answer: dict[str, Any], unsat_answer: dict[str, Any]
) -> None:
    answer = sat_answer if which == "sat" else unsat_answer
    kind, lines = _in_fresh_worker(answer["result"]["data"]["certificate"])
    assert kind == "ok"
    what = "model" if which == "sat" else "core"
    assert outcomes(lines) == {f"z3: {what}": "passed", f"cvc5: {what}": "passed"}


def test_a_tampered_model_is_refuted_by_both_solvers(sat_answer: dict[str, Any]) -> None:
    certificate = copy.deepcopy(sat_answer["result"]["data"]["certificate"])
    certificate["claim"]["model"]["x"] = "(define-fun x () Int 8)"
    kind, lines = _in_fresh_worker(certificate)
    assert kind == "ok"
    assert outcomes(lines) == {"z3: model": "failed", "cvc5: model": "failed"}


def test_a_core_that_does_not_conflict_is_refuted(unsat_answer: dict[str, Any]) -> None:
    certificate = copy.deepcopy(unsat_answer["result"]["data"]["certificate"])
    certificate["claim"]["core"] = ["big", "positive"]
    assert outcomes(check_certificate(certificate, {})) == {"z3: core": "failed", "cvc5: core": "failed"}


def test_an_edited_script_no_longer_holds_under_the_model(sat_answer: dict[str, Any]) -> None:
    certificate = copy.deepcopy(sat_answer["result"]["data"]["certificate"])
    script = certificate["artifacts"]["script.smt2"]
    certificate["artifacts"]["script.smt2"] = script.replace("(= (+ x y) 10)", "(= (+ x y) 11)")
    assert outcomes(check_certificate(certificate, {})) == {"z3: model": "failed", "cvc5: model": "failed"}


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c["artifacts"].pop("script.smt2"), "artifacts.script.smt2"),
        (lambda c: c["artifacts"].update({"script.smt2": "(assert (> x 0)"}), "artifacts.script.smt2"),
        (lambda c: c["artifacts"].update({"script.smt2": "(declare-const x Int)(get-model)"}), "artifacts.script.smt2"),
        (lambda c: c["claim"].update({"status": "maybe"}), "claim.status"),
        (lambda c: c["claim"]["model"].update({"x": "(assert false)"}), "claim.model.x"),
        (lambda c: c["claim"]["model"].update({"x": "(define-fun y () Int 3)"}), "claim.model.x"),
        (lambda c: c["claim"].pop("model"), "claim.model"),
    ],
)
def test_a_malformed_certificate_is_a_value_error_naming_the_field(
    edit: Any, field: str, sat_answer: dict[str, Any]
) -> None:
    certificate = copy.deepcopy(sat_answer["result"]["data"]["certificate"])
    edit(certificate)
    with pytest.raises(ValueError, match=f"^{field}"):
        check_certificate(certificate, {})


def test_a_malformed_certificate_through_the_worker_is_one_error_line(unsat_answer: dict[str, Any]) -> None:
    certificate = copy.deepcopy(unsat_answer["result"]["data"]["certificate"])
    certificate["claim"]["core"] = ["big", "nonesuch"]
    kind, message = _in_fresh_worker(certificate)
    assert kind == "error"
    assert message.startswith("claim.core:") and "nonesuch" in message


def test_cvc5_disagreeing_rejects_the_answer(sat_answer: dict[str, Any]) -> None:
    # Z3 and cvc5 agree on every script we could construct, so the disagreement is made here: the result the
    # verifier reads is the real one, with cvc5's line replaced by what a disagreeing cvc5 would write.
    answer = copy.deepcopy(sat_answer)
    lines = answer["result"]["data"]["recheck"]
    lines[1] = {"check": "cvc5: model", "outcome": "failed", "detail": "the script's assertions are false"}
    verdict = checked_answer("", [answer])
    assert verdict is not None and verdict["accepted"] is False
    assert "cvc5 disagrees" in verdict["feedback"] and "certificate" not in verdict


def test_z3_only_syntax_is_tool_verified_with_a_note_and_no_cross_check() -> None:
    answer = _answer({"smtlib": "(declare-const a Bool)(declare-const b Bool)(assert ((_ at-most 1) a b))(assert a)"})
    assert answer["result"]["data"]["status"] == "sat"
    verdict = checked_answer("", [answer])
    assert verdict is not None and verdict["accepted"] is True
    assert "cross_verified" not in verdict
    assert "cvc5 cannot read the script" in verdict["feedback"]


def test_check_sat_assuming_puts_the_assumptions_in_the_certificate() -> None:
    answer = _answer({"smtlib": "(declare-const x Int)(assert (! (> x 3) :named big))(check-sat-assuming ((< x 2)))"})
    data = answer["result"]["data"]
    assert data["status"] == "unsat"
    assert data["certificate"]["claim"]["core"] == ["big", "sg_assumption_1"]
    assert outcomes(data["recheck"]) == {"z3: core": "passed", "cvc5: core": "passed"}


def test_unknown_and_failed_calls_get_no_opinion() -> None:
    answer = _answer({"smtlib": "(declare-const x Int)(assert (> x"})
    assert answer["result"]["ok"] is False
    assert checked_answer("", [answer]) is None
    assert checked_answer("", []) is None


def test_a_model_z3_cannot_write_as_define_funs_gets_no_certificate_and_is_not_tool_verified() -> None:
    answer = _answer({"smtlib": "(declare-sort U 0)(declare-const a U)(declare-const b U)(assert (distinct a b))"})
    data = answer["result"]["data"]
    assert data["status"] == "sat" and "certificate" not in data
    verdict = checked_answer("", [answer])
    assert verdict is not None and "accepted" not in verdict
    assert verdict["feedback"].startswith("not tool-verified: no certificate")
