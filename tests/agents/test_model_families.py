"""The model families people run, each served in its own reply shape over real HTTP, through the commands.

Every family solves the same problems through ``solve``, ``chat``, ``bench --strategy graph`` and
``bench --strategy pal`` (real kernel, real SQLite), and must score exactly as the OpenAI-shaped baseline:
its reasoning (which hides a decoy program, a decoy answer, a decoy tool call and a decoy verdict) is kept
apart, and its calls are read in its own dialect.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from solvegraph.memory import Store
from tests.conftest import run_cli
from tests.families import DECOY, FAMILIES, problems, script, write_gsm8k

N = 4
REASONING_FAMILIES = {"r1", "r1-template", "qwen3", "vllm-reasoning", "deepseek-api", "gpt-oss"}
DIALECT = {"openai": "native", "vllm-reasoning": "native", "gpt-oss": "native", "qwen3": "hermes", "llama3": "llama"}
DIALECT |= {"llama3-bare": "llama", "mistral": "mistral", "fenced": "fenced"}


def _bench(model, tmp_path: Path, strategy: str) -> dict[str, str]:
    data, db = tmp_path / f"set-{strategy}.jsonl", tmp_path / f"{strategy}.sqlite"
    write_gsm8k(data, N)
    proc = run_cli(
        "bench", "gsm8k", "--data", str(data), "--strategy", strategy, "-j", "2", "--json",
        "--base-url", model.base_url, "--db", f"sqlite:///{db}",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    store = Store(f"sqlite:///{db}")
    try:
        rows = store.results(summary["run_id"])
        for row in rows:
            steps = store.load(row["trajectory"]).steps
            ran = [c["arguments"].get("code", "") for s in steps for c in s.tool_calls]
            assert ran and not any(DECOY in code for code in ran), ran  # no program from the reasoning ran
    finally:
        store.close()
    return {r["sample"]: r["outcome"] for r in rows}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """What the OpenAI-shaped family scores, per strategy: every other family must score the same."""
    from solvegraph.testing import ScriptedModel

    tmp = tmp_path_factory.mktemp("baseline")
    with ScriptedModel(script("openai")) as model:
        scores = {s: _bench(model, tmp, s) for s in ("graph", "pal")}
    assert set(scores["graph"].values()) == {"correct"} and len(scores["graph"]) == N, scores
    return scores


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "openai"])
def test_bench_scores_the_same_whatever_the_dialect(scripted, tmp_path: Path, family: str, baseline) -> None:
    with scripted(script(family)) as model:
        scores = {s: _bench(model, tmp_path, s) for s in ("graph", "pal")}
    assert scores == baseline


@pytest.mark.parametrize("family", FAMILIES)
def test_solve_keeps_reasoning_apart_and_reads_the_calls(scripted, tmp_path: Path, family: str) -> None:
    question, gold = problems(1)[0]
    with scripted(script(family)) as model:
        proc = run_cli("solve", question, "--json", "--base-url", model.base_url, "--no-memory")
    assert proc.returncode == 3, proc.stderr  # model-accepted: the decoy REJECT in the reasoning was not read
    t = json.loads(proc.stdout)
    assert t["answer"] == str(gold) and t["trust"] == "model-accepted"
    solver = [s for s in t["steps"] if s["agent"] == "solver"]
    assert [c["arguments"] for c in solver[0]["tool_calls"]] == [{"code": "a, b, c = 17, 23, 3\nprint(a * b + c)"}]
    assert solver[0]["reply_meta"].get("tool_format", "") == DIALECT.get(family, "")
    if family in REASONING_FAMILIES:
        assert all(DECOY in s["reasoning"] for s in solver) and all(DECOY not in s["reply"] for s in solver)
        assert t["usage"]["reasoning_tokens"] > 0 and t["steps"][-1]["reasoning"].startswith("Is it right?")
    else:
        assert not any(s["reasoning"] for s in t["steps"])


@pytest.mark.parametrize("family", ["qwen3", "r1", "deepseek-api", "llama3", "mistral"])
def test_chat_turns_in_each_dialect(scripted, family: str) -> None:
    (q1, a1), (q2, a2) = problems(2)
    with scripted(script(family)) as model:
        proc = run_cli("chat", "--base-url", model.base_url, "--no-memory", input=f"{q1}\n{q2}\nexit\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"answer: {a1}", f"answer: {a2}"]
