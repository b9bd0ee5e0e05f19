"""A store with one run of each kind, written by the real CLI with the scripted model: a bench over a
small JSONL dataset (a question with commas, quotes and a newline; one that starts with '='; one with
markup), a solve, and a three-turn chat whose first turn has markup in its question and answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from solvegraph.testing import ScriptedModel
from tests.conftest import run_cli

CODE = "```python\nprint({expr})\n```"
HOSTILE_QUESTION = "first </textarea><script>window.pwned = 1</script> question"
HOSTILE_ANSWER = "</textarea><script>alert(1)</script>"
QUESTIONS = {
    "jsonl-comma": 'A "quoted", comma\'d question,\non two lines: what is -1 - 2?',
    "jsonl-formula": "=1+2 looks like a formula; what is 1+2?",
    "jsonl-markup": "<b>bold</b></textarea><script>window.pwned = 2</script> what is 2+2?",
}
GOLD = {"jsonl-comma": -3, "jsonl-formula": "3", "jsonl-markup": 4}
ANSWERS = {"jsonl-comma": "-3", "jsonl-formula": "=1+2", "jsonl-markup": HOSTILE_ANSWER}
SOLVE = 'What is 6*7? Say "yes, sir"'
CHAT = [HOSTILE_QUESTION, "second question", "third question"]


def _bench_answer(body: dict[str, Any]) -> str:
    asked = " ".join(str(m.get("content")) for m in body["messages"] if m.get("role") == "user")
    for sample, question in QUESTIONS.items():
        if question.strip() in asked:
            return "ANSWER: " + ANSWERS[sample]
    return "ANSWER: 0"


@pytest.fixture(scope="session")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(database file, {"bench" | "solve" | "chat": run id})."""
    tmp = tmp_path_factory.mktemp("kinds")
    db = tmp / "kinds.sqlite"
    url = f"sqlite:///{db}"
    data = tmp / "questions.jsonl"
    data.write_text(
        "".join(
            json.dumps({"id": s.removeprefix("jsonl-"), "question": q, "answer": GOLD[s]}) + "\n"
            for s, q in QUESTIONS.items()
        )
    )
    with ScriptedModel({"solver": [_bench_answer]}) as model:
        proc = run_cli("bench", "jsonl", "--data", str(data), "--question-field", "question", "--answer-field",
                       "answer", "--strategy", "direct", "-j", "1", "--json", "--base-url", model.base_url,
                       "--db", url)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    solve = {
        "planner": ["1. compute"],
        "solver": [CODE.format(expr="6*7"), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with ScriptedModel(solve) as model:
        proc = run_cli("solve", SOLVE, "--base-url", model.base_url, "--db", url)
        assert proc.returncode == 3, proc.stderr  # answered, model-accepted
    chat = {
        "planner": ["1. compute"],
        "solver": [CODE.format(expr="1"), f"ANSWER: {HOSTILE_ANSWER}", CODE.format(expr="2"), "ANSWER: 2",
                   CODE.format(expr="3"), "ANSWER: 3"],
        "verifier": ["VERDICT: ACCEPT"],
    }  # fmt: skip
    with ScriptedModel(chat) as model:
        proc = run_cli("chat", "--base-url", model.base_url, "--db", url, input="\n".join([*CHAT, "exit"]) + "\n")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[1:] == ["answer: 2", "answer: 3"], proc.stdout
    runs = json.loads(run_cli("runs", "list", "--json", "--db", url).stdout)
    return db, {r["kind"]: r["id"] for r in runs}
