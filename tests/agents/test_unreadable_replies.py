"""Replies the client cannot read (malformed or split calls, cut-off replies, unterminated reasoning) through
the graph, the commands and the stored record: one line the model sees, never anything run, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from solvegraph.agents import Budget, SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.memory import Store
from tests.conftest import run_cli
from tests.families import DECOY, script, write_gsm8k
from tests.view.test_viewer import _serving

CALL = '<tool_call>{{"name": "python", "arguments": {{"code": "{}"}}}}</tool_call>'


def _solve(model, **client):
    budget = Budget(max_rounds=1, max_solver_turns=4)
    return SolveRunner(ModelClient(model.base_url, **client), budget=budget).solve("What is 6*7?")


def test_a_malformed_call_is_shown_to_the_model_and_never_run_then_split_calls_run_in_order(scripted) -> None:
    unterminated = '<tool_call>{"name": "python", "arguments": {"code": "print(1/0)"}}'
    halves = '<tool_call>{"name": "python", "arguments": {"code": </tool_call><tool_call>"print(1/0)"}}</tool_call>'
    split = "First x.\n" + CALL.format("x = 6") + "\nThen the product.\n" + CALL.format("print(x * 7)")
    script = {
        "planner": ["p"],
        "solver": [unterminated, halves, split, "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        t = _solve(model)
        seen = [r["messages"][-1]["content"] for r in model.calls("solver")]
    solver = [s for s in t.steps if s.agent == "solver"]
    assert t.answer == "42" and t.solved
    assert [len(s.tool_calls) for s in solver] == [0, 0, 2, 0]  # nothing from the unreadable replies ran
    assert [c["arguments"]["code"] for c in solver[2].tool_calls] == ["x = 6", "print(x * 7)"]
    assert solver[0].reply_meta["problems"] == [
        "the model's reply had an unterminated <tool_call> (no </tool_call>); it was not run"
    ]
    assert len(solver[1].reply_meta["problems"]) == 2
    assert "unterminated <tool_call>" in seen[1] and "not valid JSON" in seen[2]  # the model was told
    assert all(s.reply_meta.get("tool_format") == "hermes" for s in solver[:3])


def test_a_reply_cut_off_is_asked_again_and_recorded(scripted) -> None:
    long_call = CALL.format("print(6 * 7)")
    thinking = "<think>" + "hmm " * 40 + "</think>\n"

    def solver(body):  # each try of a cut-off reply is a request of its own: the same reply until the tool ran
        return "ANSWER: 42" if "The code ran" in str(body["messages"][-1]["content"]) else thinking + long_call

    script = {"planner": ["p"], "solver": [solver], "verifier": ["VERDICT: ACCEPT"]}
    with scripted(script, honour_max_tokens=True) as model:
        t = SolveRunner(
            ModelClient(model.base_url, max_tokens_limit=256),
            budget=Budget(max_rounds=1, max_tokens={"planner": 16, "solver": 16, "verifier": 16, "refiner": 16}),
        ).solve("What is 6*7?")
    first = next(s for s in t.steps if s.agent == "solver")
    assert t.answer == "42" and [r["max_tokens"] for r in first.reply_meta["retries"]] == [16, 32]
    assert first.usage.calls == 3 and first.tool_results[0]["output"] == "42"


def test_a_reply_still_cut_off_and_unterminated_reasoning_are_no_answer(scripted) -> None:
    script = {
        "planner": ["p"],
        "solver": [
            "<think>the answer is surely\nANSWER: 999",  # ends inside its reasoning
            "word " * 50 + "\nANSWER: 999",  # cut off at max_tokens, and no budget to ask again
        ],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script, honour_max_tokens=True) as model:
        t = SolveRunner(
            ModelClient(model.base_url, max_tokens=20), budget=Budget(max_rounds=1, max_solver_turns=2)
        ).solve("What is 6*7?")
    solver = [s for s in t.steps if s.agent == "solver"]
    assert t.answer is None and not t.solved
    assert "ended inside its reasoning" in solver[0].reply_meta["problems"][0] and solver[0].reply == ""
    assert "cut off at max_tokens=20" in solver[1].reply_meta["problems"][0]
    assert solver[1].reply_meta["finish_reason"] == "length"


def test_bench_scores_the_same_when_every_reply_must_be_asked_again(scripted, tmp_path: Path) -> None:
    """A reasoning family whose every reply is longer than the max_tokens asked: retried, same scores."""
    data = tmp_path / "set.jsonl"
    write_gsm8k(data, 3)
    config = tmp_path / "solvegraph.toml"
    config.write_text(
        "[solvegraph]\nmax_tokens = 16\nplanner_max_tokens = 16\nverifier_max_tokens = 16\nmax_tokens_limit = 512\n"
    )
    outcomes = {}
    with scripted(script("r1"), honour_max_tokens=True) as model:
        for strategy in ("graph", "pal"):
            db = f"sqlite:///{tmp_path}/{strategy}.sqlite"
            proc = run_cli(
                "bench", "gsm8k", "--data", str(data), "--strategy", strategy, "--json", "--config", str(config),
                "--base-url", model.base_url, "--db", db,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            run_id = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
            store = Store(db)
            rows = store.results(run_id)
            outcomes[strategy] = {r["outcome"] for r in rows}
            retried = [s for r in rows for s in store.load(r["trajectory"]).steps if s.reply_meta.get("retries")]
            store.close()
            assert retried, strategy
    assert outcomes == {"graph": {"correct"}, "pal": {"correct"}}


def test_runs_show_and_the_viewer_show_reasoning_collapsed(scripted, tmp_path: Path) -> None:
    import urllib.request

    db = tmp_path / "m.sqlite"
    with scripted(script("qwen3")) as model:
        proc = run_cli("solve", "What is 17 * 23 + 3?", "--base-url", model.base_url, "--db", f"sqlite:///{db}")
    assert proc.returncode == 3, proc.stderr
    shown = run_cli("runs", "show", "--db", f"sqlite:///{db}", _only_run(db))
    assert shown.returncode == 0, shown.stderr
    assert "▸ reasoning (" in shown.stdout and "<tool_call>" in shown.stdout
    assert DECOY not in shown.stdout  # collapsed: its size, not its text
    trajectory = Store(f"sqlite:///{db}").load(_only_trajectory(db))
    assert any(DECOY in s.reasoning for s in trajectory.steps) and trajectory.usage.reasoning_tokens > 0
    with _serving(db) as url:
        page = urllib.request.urlopen(f"{url}/t/{trajectory.id}").read().decode()
    assert '<details class="reasoning"><summary>reasoning' in page and "calls as hermes" in page
    assert "&lt;tool_call&gt;" in page and "<tool_call>" not in page  # model text is data, escaped


def _only_run(db: Path) -> str:
    runs = json.loads(run_cli("runs", "list", "--json", "--db", f"sqlite:///{db}").stdout)
    return str(runs[0]["id"])


def _only_trajectory(db: Path) -> str:
    store = Store(f"sqlite:///{db}")
    _, ids = store.resolve(_only_run(db))
    store.close()
    return ids[0]
