"""Graph routing, driven by the scripted model through the real model client and a real kernel."""

from __future__ import annotations

from solvegraph.agents import Budget, SolveRunner
from solvegraph.llm import ModelClient

CODE = "```python\nprint({expr})\n```"


def _solve(model, problem="What is 6*7?", budget=None, **kw):
    events = []
    graph = SolveRunner(ModelClient(model.base_url), budget=budget or Budget(), **kw)
    trajectory = graph.solve(problem, on_event=events.append)
    return trajectory, events


def test_happy_path_runs_planner_solver_verifier(scripted) -> None:
    script = {
        "planner": ["1. multiply in python"],
        "solver": [CODE.format(expr="6*7"), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT\nCorrect."],
    }
    with scripted(script) as model:
        t, events = _solve(model)
    assert t.solved and t.answer == "42" and t.status == "solved"
    assert [s.agent for s in t.steps] == ["planner", "solver", "solver", "verifier"]
    assert t.steps[1].tool_results[0]["output"] == "42"
    kinds = [e.kind for e in events]
    assert kinds[0] == "plan" and "code" in kinds and "tool_output" in kinds and "verdict" in kinds
    assert kinds[-1] == "answer"
    assert t.usage.calls == 4 and t.usage.total_tokens > 0


def test_verifier_rejects_then_refiner_then_success(scripted) -> None:
    script = {
        "planner": ["1. compute"],
        "solver": [CODE.format(expr="6*8"), "ANSWER: 48", CODE.format(expr="6*7"), "ANSWER: 42"],
        "verifier": ["VERDICT: REJECT\nYou multiplied by 8, the problem says 7.", "VERDICT: ACCEPT"],
        "refiner": ["Multiply 6 by 7, not 8."],
    }
    with scripted(script) as model:
        t, _ = _solve(model)
        refiner_calls = model.calls("refiner")
        second_solver_prompt = model.calls("solver")[2]["messages"][1]["content"]
    assert t.solved and t.answer == "42"
    assert [s.agent for s in t.steps] == [
        "planner",
        "solver",
        "solver",
        "verifier",
        "refiner",
        "solver",
        "solver",
        "verifier",
    ]
    assert t.steps[3].verdict["accepted"] is False
    # The verifier's feedback reaches the refiner, and the refiner's advice reaches the solver.
    assert "multiplied by 8" in refiner_calls[0]["messages"][1]["content"]
    assert "Multiply 6 by 7, not 8." in second_solver_prompt and "multiplied by 8" in second_solver_prompt


def test_round_budget_exhausted_is_not_solved(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [CODE.format(expr="1"), "ANSWER: 1"],
        "verifier": ["VERDICT: REJECT\nwrong"],
        "refiner": ["try again"],
    }
    with scripted(script) as model:
        t, events = _solve(model, budget=Budget(max_rounds=2))
    assert not t.solved and t.status == "unsolved"
    assert [s.round for s in t.steps if s.agent == "verifier"] == [1, 2]
    assert events[-1].kind == "gave_up" and "round budget" in events[-1].data["reason"]


def test_tool_call_budget_stops_the_run(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [CODE.format(expr="1")],  # never gives an answer line
        "verifier": ["VERDICT: REJECT\nno"],
        "refiner": ["again"],
    }
    with scripted(script) as model:
        t, events = _solve(model, budget=Budget(max_rounds=5, max_tool_calls=2, max_solver_turns=3))
    assert not t.solved
    assert sum(1 for s in t.steps for r in s.tool_results if "budget" not in r["error"]) == 2
    assert "tool-call budget" in events[-1].data["reason"]


def test_tool_error_becomes_feedback_without_asking_the_model(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [CODE.format(expr="1/0"), "ANSWER: oops", CODE.format(expr="42"), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["Avoid dividing by zero."],
    }
    with scripted(script) as model:
        t, _ = _solve(model)
        verifier_calls = len(model.calls("verifier"))
        refiner_prompt = model.calls("refiner")[0]["messages"][1]["content"]
    first_verdict = next(s.verdict for s in t.steps if s.agent == "verifier")
    assert first_verdict["source"] == "deterministic" and not first_verdict["accepted"]
    assert "ZeroDivisionError" in first_verdict["feedback"]
    assert "ZeroDivisionError" in refiner_prompt
    assert verifier_calls == 1, "the first rejection needed no model call"
    assert t.solved and t.answer == "42"


def test_reply_without_code_or_tool_call_is_feedback_not_error(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": ["I think it is 42.", CODE.format(expr="6*7"), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["Write code."],
    }
    with scripted(script) as model:
        t, _ = _solve(model)
    first_verdict = next(s.verdict for s in t.steps if s.agent == "verifier")
    assert "No code was run" in first_verdict["feedback"]
    assert t.solved and t.answer == "42"


def test_native_tool_calls_round_trip(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [{"tool_calls": [{"name": "python", "arguments": {"code": "x = 6*7\nprint(x)"}}]}, "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        t, _ = _solve(model)
        second = model.calls("solver")[1]["messages"]
    assert t.solved and t.answer == "42"
    assert second[-2]["tool_calls"][0]["function"]["name"] == "python"
    assert second[-1]["role"] == "tool" and second[-1]["content"] == "42"
    assert "tools" in model.calls("solver")[0]


def test_unknown_tool_and_bad_arguments_are_tool_errors(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [
            {"tool_calls": [{"name": "nope", "arguments": {}}, {"name": "python", "arguments": {}}]},
            "ANSWER: 1",
        ],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["fix"],
    }
    with scripted(script) as model:
        t, _ = _solve(model, budget=Budget(max_rounds=1))
    errors = [r["error"] for s in t.steps for r in s.tool_results]
    assert errors[0].startswith("unknown tool 'nope'") and "python" in errors[0]
    assert "invalid arguments" in errors[1] and "code" in errors[1]
    assert not t.solved


def test_variables_persist_across_solver_turns(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [
            CODE.format(expr="'set'").replace("print('set')", "v = 40"),
            CODE.format(expr="v + 2"),
            "ANSWER: 42",
        ],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        t, _ = _solve(model)
    outputs = [r["output"] for s in t.steps for r in s.tool_results]
    assert outputs[-1] == "42" and t.answer == "42"


def test_answer_falls_back_to_last_printed_line(scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [CODE.format(expr="'total:'); print(1,234".replace("1,234", "1234")), "done"],
        "verifier": ["nonsense without a verdict"],
    }
    with scripted(script) as model:
        t, _ = _solve(model)
    assert t.answer == "1234"
    verdict = [s.verdict for s in t.steps if s.verdict][-1]
    assert verdict["source"] == "model-unclear" and t.solved


def test_trajectory_json_round_trip(scripted) -> None:
    from solvegraph.memory import Trajectory

    script = {"planner": ["p"], "solver": [CODE.format(expr="2"), "ANSWER: 2"], "verifier": ["VERDICT: ACCEPT"]}
    with scripted(script) as model:
        t, _ = _solve(model)
    data = t.to_dict()
    again = Trajectory.from_dict(data)
    assert again.to_dict()["steps"] == data["steps"] and again.answer == "2"
    step = data["steps"][1]
    assert {"messages", "reply", "tool_calls", "tool_results", "verdict", "usage", "timings"} <= set(step)
