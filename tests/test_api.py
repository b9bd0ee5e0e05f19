"""The Python API (solvegraph.solve, asolve, stream, astream, benchmark): the scripted model over real HTTP, the
real kernel, real SQLite stores."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import solvegraph
from solvegraph import BenchSummary, Event, SampleResult, SolvegraphError, Step, Trajectory
from solvegraph.memory import Store
from tests.conftest import DATA, ROOT, kernel_pids

CODE = "```python\n{}\n```"
# The cell's output can only come from a real interpreter: the kernel's own Python major version, times 14.
KERNEL_CELL = "import sys\nprint(sys.version_info[0] * 14)"
SOLVES = {
    "planner": ["1. compute it in python"],
    "solver": [CODE.format(KERNEL_CELL), "ANSWER: 42"],
    "verifier": ["VERDICT: ACCEPT"],
}
# The same for any number of solves, interleaved or one after another: the solver's first turn (system and
# problem only) runs the cell, a turn that has seen its output answers.
EVERY_SOLVE = {
    **SOLVES,
    "solver": [lambda body: CODE.format(KERNEL_CELL) if len(body["messages"]) <= 2 else "ANSWER: 42"],
}


def _db(tmp_path: Path, name: str = "m.sqlite") -> str:
    return f"sqlite:///{tmp_path / name}"


def test_solve_answers_runs_the_cell_in_the_kernel_and_stores_the_trajectory(scripted, tmp_path: Path) -> None:
    events: list[Event] = []
    with scripted(SOLVES) as model:
        trajectory = solvegraph.solve("What is 6*7?", base_url=model.base_url, db=_db(tmp_path), on_event=events.append)
        solver_prompt = model.calls("solver")[0]["messages"][0]["content"]
    assert isinstance(trajectory, Trajectory)
    assert trajectory.answer == "42" and trajectory.solved and trajectory.status == "solved"
    assert trajectory.trust == "model-accepted"  # python output is no proof: only the verifier model said so
    assert [s.agent for s in trajectory.steps] == ["planner", "solver", "solver", "verifier"]
    result = trajectory.steps[1].tool_results[0]
    assert result["name"] == "python" and result["ok"] and result["output"] == "42"
    assert "- python:" in solver_prompt and "milp" in solver_prompt  # no tools=: every loaded tool is offered
    assert [e.kind for e in events][:1] == ["plan"] and "tool_output" in [e.kind for e in events]
    # Stored as the command stores it: the same trajectory, step by step, under a run of kind "solve".
    store = Store(_db(tmp_path))
    stored = store.load(trajectory.id)
    assert stored.answer == "42" and stored.status == "solved" and len(stored.steps) == 4
    assert store.runs(5)[0]["kind"] == "solve"


def test_memory_false_stores_nothing_keywords_beat_the_environment_and_context_is_read(
    scripted, tmp_path: Path, monkeypatch
) -> None:
    """The keyword arguments are the settings' flags layer: over the environment, which fills what is left out."""
    monkeypatch.setenv("SOLVEGRAPH_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("SOLVEGRAPH_DB", _db(tmp_path, "from-env.sqlite"))
    with scripted(SOLVES) as model:
        first = solvegraph.solve("What is 6*7?", base_url=model.base_url)
        second = solvegraph.solve(
            "What is 6*7?", base_url=model.base_url, memory=False, max_rounds=1, context="Earlier answer: 41"
        )
        second_plan = model.calls("planner")[1]["messages"][1]["content"]
    assert first.answer == second.answer == "42"
    assert second_plan.endswith("What is 6*7?\n\nEarlier answer: 41"), "context= reaches the agents"
    store = Store(_db(tmp_path, "from-env.sqlite"))  # db= left out: $SOLVEGRAPH_DB was used
    assert store.stats()["trajectories"] == 1, "memory=False stored nothing"
    assert store.load(first.id).answer == "42"


def test_tool_options_set_a_plugins_options_and_a_bad_one_fails_before_the_model_is_called(
    scripted, tmp_path: Path
) -> None:
    """tool_options= is the API's [tools.NAME] / --tool-opt: the python plugin's cell_timeout of 1 s
    interrupts a 30 s cell; a value its options model refuses is one error, and no model is asked."""
    script = {**SOLVES, "solver": [CODE.format("import time\ntime.sleep(30)"), "ANSWER: 42"]}
    with scripted(script) as model:
        started = time.monotonic()
        trajectory = solvegraph.solve(
            "What is 6*7?", base_url=model.base_url, memory=False, tool_options={"python": {"cell_timeout": 1}}
        )
        assert time.monotonic() - started < 25, "the cell was stopped at its 1 s timeout"
    result = trajectory.steps[1].tool_results[0]
    assert result["name"] == "python" and not result["ok"] and "1" in str(result["error"]), result
    with scripted(SOLVES) as model:
        with pytest.raises(SolvegraphError, match="cell_timeout"):
            solvegraph.solve(
                "x", base_url=model.base_url, memory=False, tool_options={"python": {"cell_timeout": "soon"}}
            )
        assert model.calls() == []
    with pytest.raises(SolvegraphError, match="tool_options must map a plugin to its options"):
        solvegraph.solve("x", memory=False, tool_options={"python": 5})  # type: ignore[dict-item]


def test_asolve_awaits_the_solve_on_the_running_loop(scripted, tmp_path: Path) -> None:
    async def main() -> tuple[Trajectory, Trajectory]:
        one = solvegraph.asolve("What is 6*7?", base_url=model.base_url, db=_db(tmp_path))
        two = solvegraph.asolve("What is 7*6?", base_url=model.base_url, db=_db(tmp_path))
        first, second = await asyncio.gather(one, two)
        return first, second

    with scripted(EVERY_SOLVE) as model:
        first, second = asyncio.run(main())
    for trajectory in (first, second):
        assert trajectory.answer == "42" and trajectory.solved
        assert trajectory.steps[1].tool_results[0]["output"] == "42"
    assert {t.problem for t in (first, second)} == {"What is 6*7?", "What is 7*6?"}
    assert Store(_db(tmp_path)).stats()["trajectories"] == 2


def _check_stream(items: list[Event | Step | Trajectory]) -> None:
    """Each node's events as they happen, then its step once recorded; the trajectory last."""
    shown = [f"{type(i).__name__} {i.kind if isinstance(i, Event) else getattr(i, 'agent', '')}" for i in items]
    assert shown == [
        "Event plan",
        "Step planner",
        "Event code",
        "Event tool_output",
        "Step solver",  # the turn that called python
        "Event answer",
        "Step solver",  # the turn that gave the answer
        "Event verdict",
        "Step verifier",
        "Event answer",
        "Trajectory ",
    ]
    trajectory = items[-1]
    assert isinstance(trajectory, Trajectory)
    assert [i for i in items if isinstance(i, Step)] == trajectory.steps
    assert trajectory.answer == "42" and trajectory.steps[1].tool_results[0]["output"] == "42"


def test_stream_yields_events_and_steps_then_the_trajectory(scripted) -> None:
    with scripted(SOLVES) as model:
        items = list(solvegraph.stream("What is 6*7?", base_url=model.base_url, memory=False))
    _check_stream(items)


def test_leaving_a_stream_early_cancels_the_solve(scripted) -> None:
    with scripted(SOLVES) as model:
        items = solvegraph.stream("What is 6*7?", base_url=model.base_url, memory=False)
        for item in items:
            if isinstance(item, Event) and item.kind == "code":
                break
        items.close()
        assert len(model.calls("solver")) == 1 and model.calls("verifier") == [], "nothing ran after the close"


def test_astream_yields_the_same_items_on_the_running_loop(scripted) -> None:
    async def main() -> list[Event | Step | Trajectory]:
        return [item async for item in solvegraph.astream("What is 6*7?", base_url=model.base_url, memory=False)]

    with scripted(SOLVES) as model:
        items = asyncio.run(main())
    _check_stream(items)


def test_solve_inside_a_running_event_loop(scripted) -> None:
    """A notebook cell runs in a thread with a running loop: solve() still works (on a worker thread's loop)."""

    async def cell() -> Trajectory:
        asyncio.get_running_loop()  # this is the notebook's situation
        return solvegraph.solve("What is 6*7?", base_url=model.base_url, memory=False)

    with scripted(SOLVES) as model:
        trajectory = asyncio.run(cell())
    assert trajectory.answer == "42" and trajectory.steps[1].tool_results[0]["output"] == "42"


def test_tools_restricts_what_the_model_is_offered_and_may_call(scripted) -> None:
    script = {
        "planner": ["1. solve it"],
        "solver": [
            {"tool_calls": [{"name": "milp", "arguments": {"model": "max: x; x <= 1;"}}]},
            {"tool_calls": [{"name": "python", "arguments": {"code": KERNEL_CELL}}]},
            "ANSWER: 42",
        ],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        trajectory = solvegraph.solve(
            "What is 6*7?", base_url=model.base_url, memory=False, tools=["python"], max_rounds=1
        )
        solver_call = model.calls("solver")[0]
        planner_prompt = model.calls("planner")[0]["messages"][0]["content"]
    offered = [t["function"]["name"] for t in solver_call.get("tools") or []]
    assert offered == ["python"]
    assert "milp" not in solver_call["messages"][0]["content"] and "milp tool" not in planner_prompt
    results = [r for s in trajectory.steps for r in s.tool_results]
    assert not results[0]["ok"] and "unknown tool 'milp'; available: python" in results[0]["error"]
    assert results[1]["ok"] and results[1]["output"] == "42"  # the allowed tool ran, in the kernel
    assert trajectory.answer == "42"


def test_an_unknown_tool_is_one_error_naming_the_known_ones_before_any_model_call(scripted) -> None:
    with scripted(SOLVES) as model:
        with pytest.raises(SolvegraphError) as caught:
            solvegraph.solve("What is 6*7?", base_url=model.base_url, memory=False, tools=["python", "abacus"])
        assert model.requests == []
    message = str(caught.value)
    assert message.startswith("unknown tool 'abacus'; the loaded plugins offer: ")
    assert all(name in message for name in ("python", "milp", "cp", "smt", "lean"))


@pytest.mark.parametrize("problem", ["", "   \n"])
def test_an_empty_problem_is_one_error_from_every_entry_point(problem: str) -> None:
    calls = [
        lambda: solvegraph.solve(problem),
        lambda: asyncio.run(solvegraph.asolve(problem)),
        lambda: solvegraph.stream(problem),  # at the call, not at the first item
        lambda: solvegraph.astream(problem),
    ]
    for call in calls:
        with pytest.raises(SolvegraphError, match="the problem is empty; pass the problem text"):
            call()


def test_the_solve_functions_take_the_same_keyword_options() -> None:
    """The options are declared once (SolveOptions): each function takes the problem, then them (solve and
    asolve also on_event); a keyword that is not one is a TypeError, before anything starts."""
    from typing import Unpack, get_type_hints

    from solvegraph._api import SettingOptions, SolveOptions

    for fn in (solvegraph.solve, solvegraph.asolve, solvegraph.stream, solvegraph.astream):
        parameters = dict(inspect.signature(fn).parameters)
        parameters.pop("on_event", None)  # solve and asolve call it; the streams yield the events instead
        assert list(parameters) == ["problem", "options"], fn.__name__
        assert parameters["options"].kind is inspect.Parameter.VAR_KEYWORD
        assert get_type_hints(fn, include_extras=True)["options"] == Unpack[SolveOptions], fn.__name__
    assert get_type_hints(solvegraph.benchmark, include_extras=True)["options"] == Unpack[SettingOptions]
    assert set(SettingOptions.__annotations__) < set(SolveOptions.__annotations__)
    assert "tool_options" in SettingOptions.__annotations__ and "verifier_model" in SettingOptions.__annotations__
    calls = [
        lambda: solvegraph.solve("x", max_round=1),
        lambda: asyncio.run(solvegraph.asolve("x", max_round=1)),
        lambda: solvegraph.stream("x", max_round=1),
        lambda: solvegraph.astream("x", max_round=1),
        lambda: solvegraph.benchmark("gsm8k", max_round=1),
    ]
    for call in calls:
        with pytest.raises(TypeError, match="got an unexpected keyword argument 'max_round'"):
            call()
    for fn in (solvegraph.solve, solvegraph.asolve, solvegraph.stream, solvegraph.astream, solvegraph.benchmark):
        assert fn.__doc__ and "Why" in fn.__doc__, fn.__name__
    # The package solvegraph.bench keeps its name: the function is benchmark, which importing it cannot rebind.
    importlib.import_module("solvegraph.bench.report")
    assert inspect.ismodule(solvegraph.bench) and solvegraph.bench.report.summarize
    assert inspect.isfunction(solvegraph.benchmark)


def test_bench_runs_the_dataset_and_returns_a_typed_summary(scripted, tmp_path: Path) -> None:
    """gsm8k's committed slice, the pal strategy: each program runs in the kernel and its output is scored."""
    programs = {"Janet": "print((16 - 3 - 4) * 2)", "robe": "print(2 + 2 // 2)", "Josh": "print(1)"}

    def solver(body: dict) -> str:
        question = body["messages"][-1]["content"]
        return CODE.format(next(p for key, p in programs.items() if key in question))

    seen: list[dict] = []
    with scripted({"solver": [solver]}) as model:
        summary = solvegraph.benchmark(
            "gsm8k",
            data=DATA / "gsm8k/test.jsonl",
            strategy="pal",
            limit=3,
            jobs=2,
            base_url=model.base_url,
            db=_db(tmp_path),
            on_result=seen.append,
        )
    assert isinstance(summary, BenchSummary)
    assert (summary.n, summary.correct, summary.accuracy) == (3, 2, pytest.approx(2 / 3))
    assert summary.dataset == "gsm8k" and summary.strategy == "pal" and summary.model == "scripted"
    assert summary.outcomes["correct"] == 2 and summary.outcomes["wrong"] == 1 and summary.stopped is None
    assert 0 < summary.ci95[0] < summary.accuracy < summary.ci95[1] < 1 and summary.tokens > 0
    rows = {r.sample: r for r in summary.results}
    assert all(isinstance(r, SampleResult) for r in rows.values()) and len(rows) == 3
    janet, robe, josh = (next(r for r in rows.values() if key in r.question) for key in programs)
    assert (janet.answer, janet.correct, janet.outcome, janet.trust) == ("18", True, "correct", "unchecked")
    assert (robe.answer, robe.correct) == ("3", True)
    assert (josh.answer, josh.correct, josh.outcome) == ("1", False, "wrong")
    assert str(janet.gold) == "18" and str(robe.gold) == "3"  # the gold answer the loader read
    assert sorted(r["sample"] for r in seen) == sorted(rows), "on_result saw each sample as it was scored"
    # The same run as the command reports it: listed in the store, and bench --json's summary is `report`.
    store = Store(_db(tmp_path))
    assert store.runs(1)[0]["id"] == summary.run_id and summary.report["run_id"] == summary.run_id
    assert {r["trajectory"] for r in store.results(summary.run_id)} == {r.trajectory_id for r in rows.values()}
    assert json.loads(json.dumps(summary.report))["accuracy"] == summary.accuracy


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "gsm9k", "data": "x.jsonl"}, "unknown dataset 'gsm9k'; known: "),
        ({"dataset": "minif2f"}, "the minif2f dataset has no pinned source: pass data=PATH"),
        ({"dataset": "jsonl"}, "the jsonl dataset has no pinned source: pass data=PATH"),
        ({"dataset": "jsonl", "data": "x.jsonl"}, "the jsonl dataset needs question_field= and answer_field="),
        ({"dataset": "gsm8k", "data": str(DATA / "gsm8k/test.jsonl"), "strategy": "cot"}, "unknown strategy 'cot'"),
        ({"dataset": "gsm8k", "data": str(DATA / "gsm8k/test.jsonl"), "limit": 0}, "limit must be a whole number"),
        ({"dataset": "gsm8k", "data": "/nonexistent/gsm8k.jsonl"}, "dataset file not found: /nonexistent/gsm8k.jsonl"),
    ],
)
def test_bad_bench_input_is_one_error(kwargs: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(SolvegraphError) as caught:
        solvegraph.benchmark(**kwargs, base_url="http://127.0.0.1:9/v1", db=_db(tmp_path))
    assert str(caught.value).startswith(message), caught.value
    if "gsm9k" in message:
        assert "gsm8k" in str(caught.value) and "jsonl" in str(caught.value)


def test_bench_of_a_pinned_name_downloads_it_once(scripted, tmp_path: Path, monkeypatch) -> None:
    """``benchmark("gsm8k")`` with no ``data=``: fetched on first use (here the committed slice, from a
    loopback mirror, under a pin of its own hash), then read from the cache."""
    from solvegraph.bench import Pinned, registry
    from tests.bench.test_data_registry import Mirror, sha

    body = (DATA / "gsm8k/test.jsonl").read_bytes()
    real = registry.pinned("gsm8k")
    registry.register(Pinned("gsm8k", real.url, sha(body), len(body), real.license, real.citation, real.rows))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    try:
        with Mirror({"/gsm8k/test.jsonl": body}) as mirror, scripted({"solver": ["ANSWER: 18"]}) as model:
            monkeypatch.setenv("SOLVEGRAPH_DATA_MIRROR", mirror.url)
            runs = [
                solvegraph.benchmark("gsm8k", strategy="direct", limit=2, base_url=model.base_url, db=_db(tmp_path))
                for _ in range(2)
            ]
    finally:
        registry.register(real)
    assert [(r.n, r.correct) for r in runs] == [(2, 1), (2, 1)]
    assert len(mirror.requests) == 1  # downloaded once
    assert (tmp_path / "xdg/solvegraph/datasets/gsm8k/test.jsonl").read_bytes() == body


def test_bench_inside_a_running_event_loop(scripted, tmp_path: Path) -> None:
    async def cell() -> BenchSummary:
        return solvegraph.benchmark(
            "gsm8k",
            data=DATA / "gsm8k/test.jsonl",
            strategy="direct",
            limit=2,
            base_url=model.base_url,
            db=_db(tmp_path),
        )

    with scripted({"solver": ["ANSWER: 18"]}) as model:
        summary = asyncio.run(cell())
    assert summary.n == 2 and summary.correct == 1 and [r.answer for r in summary.results] == ["18", "18"]


def _eventually(check: Callable[[], bool], seconds: float = 60.0) -> bool:
    """A process ends a moment after it is told to: poll for the state instead of asserting it at once."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _our_kernels() -> set[int]:
    """Kernel processes (and their template) started by this process: other test runs on the machine have theirs."""

    def parent(pid: int) -> int:
        try:
            return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return 0

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            pid = parent(pid)
        return False

    return {pid for pid in kernel_pids() if ours(pid)}


def test_the_solve_kernel_is_gone_when_solve_returns_and_shutdown_stops_the_warm_ones(scripted) -> None:
    cell = "import os\nprint(os.getpid())"  # sandbox none: the kernel's own pid, as the host sees it
    script = {"planner": ["p"], "solver": [CODE.format(cell), "ANSWER: 1"], "verifier": ["VERDICT: ACCEPT"]}
    alive: list[set[int]] = []  # our kernels while the solve waits on its tool output event

    def on_event(event: Event) -> None:
        if event.kind == "tool_output":
            alive.append(_our_kernels())

    with scripted(script) as model:
        trajectory = solvegraph.solve(
            "Which pid?", base_url=model.base_url, memory=False, sandbox="none", on_event=on_event
        )
    pid = int(trajectory.steps[1].tool_results[0]["output"])
    assert pid in alive[0], "the cell ran in a kernel of this process"
    assert _eventually(lambda: pid not in _our_kernels()), "the solve's own kernel was shut down"
    assert _our_kernels(), "the pool keeps a warm kernel (and its template) for the next solve"
    solvegraph.shutdown()
    assert _eventually(lambda: not _our_kernels()), "shutdown() stopped the warm kernels and their template"


def _open_connections(base_url: str) -> int:
    """Established TCP connections to the endpoint's port on this machine (client and server are both here)."""
    port = int(base_url.rsplit(":", 1)[1].split("/")[0])
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return sum(1 for row in rows if row[3] == "01" and int(row[2].split(":")[1], 16) == port)


def test_no_connection_to_the_endpoint_is_left_open_after_a_call(scripted) -> None:
    """Each call's model client closes its connections (the endpoint's model list was left open, one per call)."""
    with scripted(EVERY_SOLVE) as model:
        solvegraph.solve("What is 6*7?", base_url=model.base_url, memory=False)
        after_solve = _open_connections(model.base_url)
        asyncio.run(solvegraph.asolve("What is 6*7?", base_url=model.base_url, memory=False))
        after_asolve = _open_connections(model.base_url)
        items = list(solvegraph.stream("What is 6*7?", base_url=model.base_url, memory=False))
        after_stream = _open_connections(model.base_url)
        assert len(model.calls("verifier")) == 3  # each call went through to the verifier
    assert isinstance(items[-1], Trajectory)
    assert (after_solve, after_asolve, after_stream) == (0, 0, 0)


def test_import_solvegraph_loads_none_of_the_heavy_parts() -> None:
    """``import solvegraph`` is cheap: the API, pydantic, LangGraph and the agents load on first use."""
    code = (
        "import sys, solvegraph; heavy = ['solvegraph._api', 'solvegraph.types', 'pydantic', 'langgraph', "
        "'solvegraph.agents', 'typer', 'typing']; print([m for m in heavy if m in sys.modules]); "
        "solvegraph.solve; print('solvegraph.agents' in sys.modules, 'solvegraph._api' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout.splitlines() == ["[]", "False True"]


@pytest.mark.embedded
def test_solve_with_the_real_embedded_model(tmp_path: Path) -> None:
    """No base_url: the embedded SmolLM2 server. The tiny model need not be right: the plumbing is checked."""
    trajectory = solvegraph.solve(
        "What is 1234*5678? Write Python code.", max_rounds=1, db=_db(tmp_path), tools=["python"]
    )
    assert trajectory.status in ("solved", "unsolved")
    assert trajectory.model == "smollm2-135m-instruct"
    assert trajectory.steps[0].agent == "planner" and trajectory.usage.calls >= 2
    assert trajectory.usage.cost_usd == 0.0, "the embedded model runs here: a known price of $0"
    assert Store(_db(tmp_path)).load(trajectory.id).model == "smollm2-135m-instruct"


def test_bench_of_a_jsonl_file_chooses_its_id_field(scripted, tmp_path: Path) -> None:
    with scripted({"solver": ["ANSWER: 51"]}) as model:
        summary = solvegraph.benchmark(
            "jsonl",
            data=DATA / "svamp/SVAMP.jsonl",
            question_field=["Body", "Question"],
            answer_field="Answer",
            id_field="ID",
            strategy="direct",
            limit=2,
            base_url=model.base_url,
            db=_db(tmp_path),
        )
    assert [(r.sample, r.correct) for r in summary.results] == [("jsonl-chal-1", True), ("jsonl-chal-2", False)]
