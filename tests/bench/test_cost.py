"""Dollar cost: [prices] in solvegraph.toml, cost per call, per sample and per run, and --max-cost as a
run limit, with the scripted model over real HTTP and a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solvegraph.config import load_settings
from solvegraph.errors import ConfigError
from solvegraph.memory import Store
from solvegraph.types import Price, Usage, dollars, price_for
from tests.bench.test_runner import bench, per_sample
from tests.conftest import DATA, run_cli

# The scripted model counts a reply's words as its completion tokens: "ANSWER: 12" is 2 tokens, so at
# $5,000 per million output tokens (and input free) every call costs exactly one cent.
CENT_A_CALL = "[prices]\nscripted = { input = 0, output = 5000 }\n"


def _config(tmp_path: Path, text: str = CENT_A_CALL) -> Path:
    path = tmp_path / "solvegraph.toml"
    path.write_text(text)
    return path


def test_prices_are_read_from_the_toml_with_globs_and_bad_entries_are_one_line(tmp_path: Path) -> None:
    cfg = _config(
        tmp_path,
        '[solvegraph]\nmax_rounds = 2\n\n[prices]\n"gpt-4o-mini" = { input = 0.15, output = 0.6 }\n'
        '"gpt-4o*" = { input = 2.5, output = 10 }\n"*" = { input = 1, output = 1 }\n',
    )
    settings = load_settings(config_file=cfg, env={}, flags={"base_url": "http://x/v1"})
    assert settings.max_rounds == 2, "[prices] beside a [solvegraph] table"
    assert settings.price("gpt-4o-mini") == Price(0.15, 0.6), "its own entry beats every pattern"
    assert settings.price("gpt-4o-2024-08-06") == Price(2.5, 10.0), "the most specific pattern wins"
    assert settings.price("llama") == Price(1.0, 1.0)
    assert price_for({"gpt-4o*": Price(1, 1)}, "o1") is None
    assert Price(0.15, 0.6).cost(1_000_000, 500_000) == pytest.approx(0.45)
    cached = _config(tmp_path, '[prices]\n"gpt-4.1" = { input = 2, output = 8, cached_input = 0.5 }\n')
    assert load_settings(config_file=cached, env={}, flags={"base_url": "http://x/v1"}).price("gpt-4.1") == Price(
        2.0, 8.0, 0.5
    )
    # The embedded model runs here: it is free unless priced; another endpoint's model is unpriced.
    assert load_settings(env={}, config_file=_config(tmp_path, "")).price("smollm2") == Price(0.0, 0.0)
    assert load_settings(env={}, config_file=_config(tmp_path, ""), flags={"base_url": "http://x"}).price("m") is None
    for bad, says in [
        ("[prices]\nm = { input = 1 }\n", "give input and output"),
        ("[prices]\nm = { input = 1, output = 1, cached = 0.1 }\n", "give input and output (and cached_input"),
        ("[prices]\nm = { input = 1, output = 1, cached_input = -0.1 }\n", "zero or more"),
        ("[prices]\nm = { input = -1, output = 1 }\n", "zero or more"),
        ('[prices]\nm = { input = "1", output = 1 }\n', "numbers of dollars"),
        ("prices = 3\n", "[prices] must be a table"),
    ]:
        with pytest.raises(ConfigError, match=r".*") as caught:
            load_settings(env={}, config_file=_config(tmp_path, bad))
        assert says in str(caught.value) and "\n" not in str(caught.value)


def test_usage_sums_cost_and_keeps_unknown_apart_from_free() -> None:
    total = Usage()
    total.add(Usage(10, 2, 1))
    assert total.cost_usd is None, "no priced call: unknown, not $0"
    total.add(Usage(10, 2, 1, 0.25))
    total.add(Usage(1, 1, 1, 0.5))
    assert total.cost_usd == 0.75 and total.to_dict()["cost_usd"] == 0.75
    assert [dollars(v) for v in (None, 0.0123456, 1234.5)] == ["—", "$0.0123", "$1,234.50"]


def test_a_reply_with_malformed_or_negative_counts_costs_nothing_and_does_not_crash() -> None:
    """An endpoint's usage is read as data: a negative count would let a run spend past --max-cost."""
    from solvegraph.llm import ModelClient

    client = ModelClient("http://127.0.0.1:9/v1", model="m", price=Price(1000.0, 1000.0))
    choice = {"message": {"content": "ANSWER: 1"}, "finish_reason": "stop"}
    for usage, cost in [
        ({"prompt_tokens": 1000, "completion_tokens": 2000}, 3.0),
        ({"prompt_tokens": -(10**9), "completion_tokens": 1000}, 1.0),
        ({"prompt_tokens": "many", "completion_tokens": None}, 0.0),
        ({"prompt_tokens": 1e308, "completion_tokens": float("nan")}, None),
        ({"prompt_tokens": True, "completion_tokens": 1000.0}, 1.0),
    ]:
        reply = client._reply({"choices": [choice], "usage": usage}, 0.1)
        assert reply.text == "ANSWER: 1" and reply.usage.prompt_tokens >= 0 and reply.usage.completion_tokens >= 0
        if cost is not None:
            assert reply.usage.cost_usd == pytest.approx(cost)


def test_prompt_tokens_served_from_the_endpoints_cache_cost_the_cached_price() -> None:
    """``prompt_tokens_details.cached_tokens`` at ``cached_input``; read as data like every count."""
    from solvegraph.llm import ModelClient

    choice = {"message": {"content": "ANSWER: 1"}, "finish_reason": "stop"}
    discounted = ModelClient("http://127.0.0.1:9/v1", model="m", price=Price(1000.0, 1000.0, 100.0))
    full = ModelClient("http://127.0.0.1:9/v1", model="m", price=Price(1000.0, 1000.0))
    for details, with_discount in [
        ({"cached_tokens": 600}, 0.4 + 0.06),
        ({"cached_tokens": 5000}, 0.1),  # more cached than sent: at most the whole prompt
        ({"cached_tokens": -600}, 1.0),
        ({"cached_tokens": "600"}, 1.0),
        ("600", 1.0),
        (None, 1.0),
    ]:
        usage = {"prompt_tokens": 1000, "completion_tokens": 0, "prompt_tokens_details": details}
        reply = discounted._reply({"choices": [choice], "usage": usage}, 0.1)
        assert reply.usage.cost_usd == pytest.approx(with_discount) and reply.usage.prompt_tokens == 1000
        assert full._reply({"choices": [choice], "usage": usage}, 0.1).usage.cost_usd == pytest.approx(1.0)


def test_a_cached_prompt_is_priced_at_the_cached_rate_end_to_end(scripted, tmp_path: Path) -> None:
    """Over HTTP and into the store: 200 fresh prompt tokens at $10/M and 800 cached at $1/M."""
    reply = {
        "content": "ANSWER: 12",
        "usage": {"prompt_tokens": 1000, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 800}},
    }
    prices = "[prices]\nscripted = { input = 10, output = 10, cached_input = 1 }\n"
    db = tmp_path / "m.sqlite"
    with scripted({"solver": [reply]}) as model:
        proc, s = bench(model, db, "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "2",
                        "--strategy", "direct", "--config", str(_config(tmp_path, prices)))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert s["cost_usd"]["mean"] == pytest.approx((200 * 10 + 800 * 1) / 1e6)
    assert all(r["cost_usd"] == pytest.approx(0.0028) for r in per_sample(db, s["run_id"]).values())


def test_cost_per_call_sample_and_run_in_json_store_and_report(scripted, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    with scripted({"solver": ["ANSWER: 12"]}) as model:
        proc, s = bench(model, db, "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "4",
                        "--strategy", "direct", "--config", str(_config(tmp_path)))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert s["cost_usd"]["total"] == pytest.approx(0.04) and s["cost_usd"]["mean"] == pytest.approx(0.01)
    assert s["cost_usd"]["spent"] == pytest.approx(0.04) and s["cost_usd"]["unpriced"] == 0
    assert "cost $0.0400 total, $0.0100 per problem" in proc.stderr
    store = Store(f"sqlite:///{db}")
    rows = per_sample(db, s["run_id"])
    assert all(r["cost_usd"] == pytest.approx(0.01) for r in rows.values())
    trajectory = store.load(next(iter(rows.values()))["trajectory"])
    assert [step.usage.cost_usd for step in trajectory.steps] == [pytest.approx(0.01)]
    assert trajectory.to_dict()["usage"]["cost_usd"] == pytest.approx(0.01)
    report = run_cli("bench", "report", s["run_id"], "--json", "--db", f"sqlite:///{db}")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)[0]["cost_usd"]["total"] == pytest.approx(0.04)

    # The same run unpriced: the cost is unknown (null), said once, never $0.
    with scripted({"solver": ["ANSWER: 12"]}) as model:
        proc, s = bench(model, db, "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "2",
                        "--strategy", "direct", "--config", str(_config(tmp_path, "")))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert s["cost_usd"]["total"] is None and s["cost_usd"]["unpriced"] == 2
    assert "cost unknown: model scripted has no price" in proc.stderr


def test_max_cost_stops_the_run_and_resume_with_more_money_finishes_it_once(scripted, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    common = ["gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "8", "--strategy", "direct"]
    cfg = ["--config", str(_config(tmp_path))]
    with scripted({"solver": ["ANSWER: 12"]}) as model:
        proc = run_cli("bench", *common, *cfg, "-j", "1", "--max-cost", "0.025", "--json",
                       "--base-url", model.base_url, "--db", f"sqlite:///{db}")  # fmt: skip
        assert proc.returncode == 3, proc.stderr
        s = json.loads(proc.stdout.strip().splitlines()[-1])
        assert s["stopped"] == "max_cost" and s["n"] == 3, "three one-cent calls reach 2.5 cents; no fourth starts"
        assert s["cost_usd"]["limit"] == 0.025 and s["cost_usd"]["spent"] == pytest.approx(0.03)
        assert "cost limit reached: $0.0300 spent of $0.0250; 5 samples left unscored" in proc.stderr
        assert f"solvegraph bench --resume {s['run_id'][:12]}" in proc.stderr
        run_id = s["run_id"]

        again = ["bench", "--resume", run_id, *cfg, "--json", "--db", f"sqlite:///{db}"]
        proc = run_cli(*again, env={"SOLVEGRAPH_BASE_URL": model.base_url})
        assert proc.returncode == 2 and "has spent $0.0300 of its --max-cost $0.0250: 5 samples left" in proc.stderr
        assert "Traceback" not in proc.stderr

        proc = run_cli(*again, "--max-cost", "0.045", "-j", "1", env={"SOLVEGRAPH_BASE_URL": model.base_url})
        assert proc.returncode == 3, proc.stderr
        assert json.loads(proc.stdout.strip().splitlines()[-1])["n"] == 5

        proc = run_cli(*again, "--max-cost", "1", env={"SOLVEGRAPH_BASE_URL": model.base_url})
        assert proc.returncode == 0, proc.stderr
        s = json.loads(proc.stdout.strip().splitlines()[-1])
    assert s["n"] == 8 and "stopped" not in s
    assert s["cost_usd"]["total"] == pytest.approx(0.08) and s["cost_usd"]["spent"] == pytest.approx(0.08)
    assert len(model.calls()) == 8, "every sample asked the model exactly once over the three runs"
    assert sorted(per_sample(db, run_id)) == [f"gsm8k-{i}" for i in range(1, 9)]


def test_max_cost_reached_mid_sample_leaves_it_unscored_and_its_spend_counted(scripted, tmp_path: Path) -> None:
    """In the graph a sample makes several calls: the one that reaches the limit is the last made; the
    sample is left unscored (not "wrong") and --resume runs it once, its first spend still counted."""
    db = tmp_path / "m.sqlite"
    data = tmp_path / "one.jsonl"
    data.write_text('{"q": "What is 1?", "a": 1}\n')
    script = {"planner": ["plan it"], "solver": ["ANSWER: 1"], "verifier": ["VERDICT: ACCEPT"]}
    common = ["jsonl", "--data", str(data), "--question-field", "q", "--answer-field", "a", "--strategy", "graph"]
    cfg = ["--config", str(_config(tmp_path))]
    with scripted(script) as model:
        proc = run_cli("bench", *common, *cfg, "--max-cost", "0.015", "--json",
                       "--base-url", model.base_url, "--db", f"sqlite:///{db}")  # fmt: skip
        assert proc.returncode == 3, proc.stderr
        s = json.loads(proc.stdout.strip().splitlines()[-1])
        assert s["n"] == 0 and s["cost_usd"]["spent"] == pytest.approx(0.02), "planner and solver, then stopped"
        assert len(model.calls()) == 2, "the next call (the refiner's) was never made"
        store = Store(f"sqlite:///{db}")
        assert store.results(s["run_id"]) == []
        proc = run_cli("bench", "--resume", s["run_id"], *cfg, "--max-cost", "1", "--json",
                       "--db", f"sqlite:///{db}", env={"SOLVEGRAPH_BASE_URL": model.base_url})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    s = json.loads(proc.stdout.strip().splitlines()[-1])
    assert s["n"] == 1 and s["correct"] == 1
    (row,) = per_sample(db, s["run_id"]).values()
    calls = [step.usage.calls for step in store.load(row["trajectory"]).steps]
    assert s["cost_usd"]["total"] == pytest.approx(0.01 * sum(calls)), "the scored sample's own calls"
    assert s["cost_usd"]["spent"] == pytest.approx(0.01 * sum(calls) + 0.02), "and the stopped attempt's two"
    assert f"{dollars(s['cost_usd']['spent'])} spent in all, unscored samples included" in proc.stderr


def test_max_cost_without_a_price_is_one_line(scripted, tmp_path: Path) -> None:
    with scripted({"solver": ["ANSWER: 12"]}) as model:
        proc, _ = bench(model, tmp_path / "m.sqlite", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"),
                        "--max-cost", "1", "--config", str(_config(tmp_path, "")))  # fmt: skip
    assert proc.returncode == 2
    assert "--max-cost needs the price of model 'scripted': add it under [prices]" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not model.calls()


def test_chat_and_runs_show_say_what_a_priced_turn_cost(scripted, tmp_path: Path) -> None:
    script = {"planner": ["p"], "solver": ["```python\nprint(42)\n```", "ANSWER: 42"], "verifier": ["VERDICT: ACCEPT"]}
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with scripted(script) as model:
        proc = run_cli("chat", "--base-url", model.base_url, "--db", db, "--config", str(_config(tmp_path)),
                       input="What is 6 * 7?\nexit\n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    calls = len(model.calls())
    line = next(x for x in proc.stderr.splitlines() if " tokens · " in x)
    assert "accepted by the verifier model only" in line and " tokens · $0.0" in line, line
    (run,) = Store(db).runs()
    (trajectory_id,) = Store(db).resolve(run["id"])[1]
    cost = Store(db).load(trajectory_id).usage.cost_usd
    assert cost is not None and cost > 0 and f"{dollars(cost)} · " in line and calls >= 3
    shown = run_cli("runs", "show", run["id"], "--db", db)
    assert shown.returncode == 0 and f"cost: {dollars(cost)}" in shown.stdout
