"""Structured verdicts: the verifier asks for a JSON schema where the endpoint takes one, text where it does not."""

from __future__ import annotations

from solvegraph.agents import Budget, SolveRunner
from solvegraph.agents.verifier import VERDICT_SCHEMA, parse_verdict
from solvegraph.llm import ModelClient

CODE = "```python\nprint(6*7)\n```"


def test_a_json_verdict_is_read_and_a_bad_one_stays_unclear() -> None:
    assert parse_verdict('{"verdict": "REJECT", "feedback": "off by one"}') == {
        "accepted": False,
        "source": "model",
        "feedback": "off by one",
    }
    for unclear in ('{"verdict": "MAYBE", "feedback": ""}', '{"verdict": "ACC', "[1, 2]", ""):
        assert parse_verdict(unclear)["source"] == "model-unclear", unclear
    assert parse_verdict("VERDICT: ACCEPT\nfine")["accepted"] is True  # text, as before


def _solve(model, rounds: int = 1):
    return SolveRunner(ModelClient(model.base_url), budget=Budget(max_rounds=rounds)).solve("What is 6*7?")


def test_the_verifier_asks_for_the_schema_where_the_endpoint_takes_it(scripted) -> None:
    def verifier(body):
        if body.get("response_format") != VERDICT_SCHEMA:
            return "no schema was asked for"
        return '{"verdict": "ACCEPT", "feedback": "6*7 is 42"}'

    script = {"planner": ["p"], "solver": [CODE, "ANSWER: 42"], "verifier": [verifier]}
    with scripted(script) as model:
        t = _solve(model)
    assert t.solved and t.trust == "model-accepted" and t.steps[-1].verdict["feedback"] == "6*7 is 42"


def test_an_endpoint_that_refuses_the_schema_is_asked_in_text_from_then_on(scripted) -> None:
    answers = iter(["VERDICT: REJECT\nprint it again", "VERDICT: ACCEPT"])

    def verifier(body):
        if "response_format" in body:
            return {"status": 400, "message": "response_format is not supported"}
        return next(answers)

    solver = [CODE, "ANSWER: 42", CODE, "ANSWER: 42"]
    script = {"planner": ["p"], "solver": solver, "verifier": [verifier], "refiner": ["again"]}
    with scripted(script) as model:
        t = _solve(model, rounds=2)
        asked = ["response_format" in r for r in model.calls("verifier")]
    assert t.solved and t.trust == "model-accepted"
    assert [s.verdict["accepted"] for s in t.steps if s.verdict] == [False, True]
    assert asked == [True, False, False]  # refused once, then text only


def test_a_verdict_that_does_not_parse_stays_unclear(scripted) -> None:
    script = {"planner": ["p"], "solver": [CODE, "ANSWER: 42"], "verifier": ['{"verdict": "probably fine"}']}
    with scripted(script) as model:
        t = _solve(model)
    assert t.steps[-1].verdict["source"] == "model-unclear" and t.trust == "unchecked"
