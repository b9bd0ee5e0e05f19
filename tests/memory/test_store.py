"""The trajectory store on both backends: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.agents import Budget, SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.memory import Memory, Store, Trajectory
from solvegraph.memory.toolmaking import extract_functions, list_tools
from tests.memory_backends import postgres_server

CODE = "```python\n{body}\n```"
AREA = 'def rect_area(w, h):\n    """Area of a w by h rectangle."""\n    return w * h\nprint(rect_area({w}, {h}))'


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path}/memory.sqlite")
    url = request.getfixturevalue("pg_url")
    st = Store(url)
    with st.engine.begin() as conn:  # a clean slate per test on the shared server
        from sqlalchemy import text

        conn.execute(text("TRUNCATE steps, trajectories, problems, runs, made_tools RESTART IDENTITY CASCADE"))
    return st


def _graph(model, store: Store, reuse_model_accepted: bool = True, **memory_kw) -> SolveRunner:
    """These tests use the verifier model's ACCEPT, so they opt in to reusing model-accepted answers."""
    budget = Budget(reuse_model_accepted=reuse_model_accepted)
    return SolveRunner(ModelClient(model.base_url), budget=budget, memory=Memory(store, **memory_kw))


def test_full_trajectory_round_trip(store: Store, scripted) -> None:
    script = {
        "planner": ["plan"],
        "solver": [CODE.format(body="print(6*8)"), "ANSWER: 48", CODE.format(body="print(6*7)"), "ANSWER: 42"],
        "verifier": ["VERDICT: REJECT\nwrong factor", "VERDICT: ACCEPT"],
        "refiner": ["use 7"],
    }
    with scripted(script) as model:
        t = _graph(model, store, use_cache=False).solve("What is six times seven?")
    back = store.load(t.id)
    assert back.to_dict()["steps"] == t.to_dict()["steps"]
    assert (back.answer, back.solved, back.status, back.problem) == ("42", True, "solved", t.problem)
    assert back.usage.to_dict() == t.usage.to_dict()
    assert [s.agent for s in back.steps] == [
        "planner",
        "solver",
        "solver",
        "verifier",
        "refiner",
        "solver",
        "solver",
        "verifier",
    ]
    run_id, ids = store.resolve(t.id[:10])
    assert ids == [t.id] and store.runs()[0]["id"] == run_id
    assert store.stats()["steps"] == 8


def test_retrieval_never_returns_the_problem_or_its_duplicates(store: Store) -> None:
    run = store.start_run("bench")

    def add(problem: str, dataset_id: str | None, solved: bool = True) -> None:
        t = Trajectory(problem=problem)
        store.begin(t, run, sample_id=dataset_id)
        t.status, t.solved, t.answer, t.finished_at = "solved" if solved else "unsolved", solved, "1", time.time()
        t.reusable = solved
        store.finish(t)

    target = "A farmer has 12 cows and buys 5 more cows. How many cows?"
    add(target, "gsm8k-7")
    add("  A farmer has 12 cows   and buys 5 more cows. How many cows? ", None)  # same content hash
    add("A farmer has twelve cows; how many cows after buying five?", "gsm8k-7")  # same dataset sample
    add("A farmer has 30 sheep and sells 4 sheep. How many sheep?", "gsm8k-8")
    add("A farmer has 9 cows and buys 2 more cows. How many cows?", "gsm8k-9", solved=False)
    hits = store.search(
        target,
        k=10,
        verified_only=True,
        exclude_hash=__import__("solvegraph.memory", fromlist=["content_hash"]).content_hash(target),
        exclude_dataset_id="gsm8k-7",
    )
    texts = [h["problem"] for h in hits]
    assert texts == ["A farmer has 30 sheep and sells 4 sheep. How many sheep?"]
    from solvegraph.memory.retrieval import worked_examples

    examples = worked_examples(store, target, exclude_dataset_id="gsm8k-7")
    assert "12 cows" not in examples and "twelve" not in examples and "30 sheep" in examples


def test_exact_cache_skips_the_model(store: Store, scripted) -> None:
    script = {
        "planner": ["p"],
        "solver": [CODE.format(body="print(2+2)"), "ANSWER: 4"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        first = _graph(model, store).solve("What is two plus two?")
        calls = len(model.requests)
        second = _graph(model, store).solve("What is   two plus two?")
        assert len(model.requests) == calls, "the cache answered without calling the model"
        third = _graph(model, store, use_cache=False).solve("What is two plus two?")
        assert len(model.requests) > calls
    assert first.solved and second.solved and second.answer == "4" and third.steps[0].agent == "planner"
    assert second.steps[0].agent == "memory" and second.steps[0].verdict["source"] == "cache"


def test_the_cache_key_is_the_models_identity_not_its_port(tmp_path) -> None:
    """The embedded server listens on a random port: a key with its URL made every run a miss."""
    from solvegraph.llm.factory import model_file_identity

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 64)
    identity = f"embedded:{model_file_identity(gguf)}#smollm2"
    a = SolveRunner(ModelClient("http://127.0.0.1:41001/v1", model="smollm2", identity=identity))
    b = SolveRunner(ModelClient("http://127.0.0.1:52002/v1", model="smollm2", identity=identity))
    assert a.config_hash() == b.config_hash()
    gguf.write_bytes(b"GGUF" + b"\1" * 80)  # another model file: another key
    other = f"embedded:{model_file_identity(gguf)}#smollm2"
    assert SolveRunner(ModelClient("http://127.0.0.1:41001/v1", model="smollm2", identity=other)).config_hash() != (
        a.config_hash()
    )
    # A remote endpoint is still keyed on its URL: two servers may serve different models under one name.
    remote = [SolveRunner(ModelClient(f"http://h{i}:8000/v1", model="m")).config_hash() for i in (1, 2)]
    assert remote[0] != remote[1]


def test_made_tool_is_extracted_and_used_in_the_next_similar_problem(store: Store, scripted) -> None:
    first = {
        "planner": ["p"],
        "solver": [CODE.format(body=AREA.format(w=6, h=7)), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(first) as model:
        t1 = _graph(model, store).solve("What is the area of a rectangle garden 6 m by 7 m?")
    assert t1.solved
    tools = list_tools(store)
    assert [(t["name"], t["signature"], t["docstring"]) for t in tools] == [
        ("rect_area", "rect_area(w, h)", "Area of a w by h rectangle.")
    ]

    second = {
        "planner": ["p"],
        "solver": [CODE.format(body="print(rect_area(3, 9))"), "ANSWER: 27"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(second) as model:
        t2 = _graph(model, store).solve("What is the area of a rectangle garden 3 m by 9 m?")
        solver_prompt = model.calls("solver")[0]["messages"][1]["content"]
    assert "rect_area(w, h): Area of a w by h rectangle." in solver_prompt, "the solver is told the tool exists"
    assert "6 m by 7 m" in solver_prompt, "the verified similar problem is a worked example"
    assert t2.steps[0].agent == "memory" and t2.steps[0].tool_results[0]["ok"]
    assert t2.solved and t2.answer == "27", "the code called the made tool, defined in the kernel by memory"
    assert list_tools(store)[0]["uses"] == 1 and list_tools(store)[0]["successes"] == 1


def test_a_made_tool_that_fails_verification_loses_rank(store: Store, scripted) -> None:
    with scripted(
        {
            "planner": ["p"],
            "solver": [CODE.format(body=AREA.format(w=2, h=3)), "ANSWER: 6"],
            "verifier": ["VERDICT: ACCEPT"],
        }
    ) as model:
        _graph(model, store).solve("Area of a rectangle 2 by 3?")
    bad = {
        "planner": ["p"],
        "solver": [CODE.format(body="print(rect_area(4, 5))"), "ANSWER: 20"],
        "verifier": ["VERDICT: REJECT\nwrong"],
        "refiner": ["again"],
    }
    for sides in ("4 by 5", "5 by 6", "6 by 8"):
        with scripted(bad) as model:
            SolveRunner(
                ModelClient(model.base_url),
                memory=Memory(store),
                budget=__import__("solvegraph.agents", fromlist=["Budget"]).Budget(max_rounds=1),
            ).solve(f"Area of a rectangle {sides}?")
    row = list_tools(store)[0]
    assert row["failures"] >= 2 and row["rank"] < 0.5
    from solvegraph.memory.toolmaking import tools_for

    assert tools_for(store, "Area of a rectangle 7 by 9?") == [], "a sunk tool is no longer offered"


def test_extract_functions_dedupes_by_normalised_source() -> None:
    a = extract_functions("def f(x):\n    return x+1\n\ndef _private():\n    pass\n")
    b = extract_functions("def f( x ):\n    return (x + 1)\n")
    assert [e.name for e in a] == ["f"] and a[0].source_hash == b[0].source_hash
    assert extract_functions("def broken(:\n") == []


def test_a_model_accepted_answer_does_not_teach_unless_the_user_opts_in(store: Store, scripted) -> None:
    script = {
        "planner": ["p"],
        "solver": [CODE.format(body=AREA.format(w=6, h=7)), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    problem = "What is the area of a rectangle garden 6 m by 7 m?"
    with scripted(script) as model:
        first = _graph(model, store, reuse_model_accepted=False).solve(problem)
        calls = len(model.requests)
        again = _graph(model, store, reuse_model_accepted=False).solve(problem)
        assert len(model.requests) > calls, "no cache answer from a model-accepted run"
    assert (first.solved, first.trust, first.reusable) == (True, "model-accepted", False)
    assert first.steps[-1].verdict["trust"] == "model-accepted"
    assert list_tools(store) == [], "no made tool from an answer no tool checked"
    assert store.search("rectangle garden area", verified_only=True) == []
    assert again.steps[0].agent == "planner"
    assert store.load(first.id).trust == "model-accepted" and not store.load(first.id).reusable


def test_an_unclear_verdict_is_unchecked_never_verified(store: Store, scripted) -> None:
    """The reported case: the tiny model's verifier said something that was not a verdict."""
    script = {
        "planner": ["p"],
        "solver": [CODE.format(body=AREA.format(w=2, h=5)), "ANSWER: 10"],
        "verifier": ["The provided code and tool does not provide a solution to the problem"],
    }
    with scripted(script) as model:
        t = _graph(model, store, reuse_model_accepted=True).solve("Area of a rectangle 2 by 5?")
    assert t.solved and t.trust == "unchecked" and not t.reusable
    assert t.steps[-1].verdict["source"] == "model-unclear"
    assert list_tools(store) == [] and store.stats()["verified"] == 0


def test_an_answer_shown_wrong_is_retracted_with_its_made_tools(store: Store, scripted) -> None:
    script = {
        "planner": ["p"],
        "solver": [CODE.format(body=AREA.format(w=6, h=7)), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    problem = "What is the area of a rectangle garden 6 m by 7 m?"
    with scripted(script) as model:
        t = _graph(model, store).solve(problem)
    assert t.reusable and [x["name"] for x in list_tools(store)] == ["rect_area"]
    assert store.retract_answer(problem, "41") == 0, "another answer retracts nothing"
    assert store.retract_answer(problem, "42") == 1
    assert list_tools(store) == [] and not store.load(t.id).reusable
    assert store.cached_answer(problem, "") is None
