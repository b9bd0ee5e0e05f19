"""Per-sample export: `runs export RUN --samples` (JSON Lines and CSV) and `bench report --json`, run as a
user would over a store written by real bench, solve and chat runs with the scripted model."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from solvegraph.bench.samples import COLUMNS
from tests.conftest import run_cli
from tests.view.conftest import ANSWERS, CHAT, GOLD, HOSTILE_ANSWER, QUESTIONS, SOLVE


def _export(db: Path, run_id: str, *flags: str) -> str:
    proc = run_cli("runs", "export", run_id, "--db", f"sqlite:///{db}", *flags)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def _csv(text: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == COLUMNS
    return list(reader)


def test_a_bench_runs_samples_as_jsonl(every_kind) -> None:
    db, ids = every_kind
    rows = _jsonl(_export(db, ids["bench"], "--samples"))
    assert [tuple(r) for r in rows] == [COLUMNS] * 3, "every row has the columns, in order"
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == set(QUESTIONS)
    for sample, row in by_id.items():
        assert row["question"] == QUESTIONS[sample]
        assert row["gold"] == GOLD[sample], "the gold as its value, its type kept (-3 is a number)"
        assert row["answer"] == ANSWERS[sample]
        assert row["model"] == "scripted"
        assert row["trust"] == "unchecked", "direct answers are accepted unchecked"
        assert isinstance(row["tokens"], int) and row["tokens"] > 0
        assert row["cost"] is None, "no price for the scripted model: unknown, not $0"
        assert isinstance(row["latency"], float) and row["latency"] >= 0
    assert [by_id[s]["outcome"] for s in QUESTIONS] == ["correct", "wrong", "wrong"]


def test_a_bench_runs_samples_as_csv_round_trip_and_formulas_are_text(every_kind) -> None:
    db, ids = every_kind
    text = _export(db, ids["bench"], "--samples", "--format", "csv")
    by_id = {r["id"]: r for r in _csv(text)}
    exact = _jsonl(_export(db, ids["bench"], "--samples"))
    comma = by_id["jsonl-comma"]
    assert comma["question"] == QUESTIONS["jsonl-comma"], "commas, quotes and a newline read back unchanged"
    assert comma["answer"] == "-3" and comma["gold"] == "-3", "a negative number is a number, not a formula"
    formula = by_id["jsonl-formula"]
    assert formula["question"] == "'" + QUESTIONS["jsonl-formula"], "text starting with '=' is quoted as text"
    assert formula["answer"] == "'=1+2" and formula["gold"] == "3"
    assert by_id["jsonl-markup"]["answer"] == HOSTILE_ANSWER
    for row in exact:
        got = by_id[row["id"]]
        assert (got["outcome"], got["trust"], got["model"]) == (row["outcome"], row["trust"], row["model"])
        assert int(got["tokens"]) == row["tokens"] and float(got["latency"]) == row["latency"]
        assert got["cost"] == "", "an unknown cost is an empty cell"


def test_a_chat_exports_its_turns_and_a_solve_its_trajectory(every_kind) -> None:
    db, ids = every_kind
    turns = _jsonl(_export(db, ids["chat"], "--samples"))
    assert [t["question"] for t in turns] == CHAT, "the turns in the order they were asked"
    assert [t["answer"] for t in turns] == [HOSTILE_ANSWER, "2", "3"]
    assert {(t["gold"], t["outcome"], t["trust"], t["model"]) for t in turns} == {
        (None, "solved", "model-accepted", "scripted")
    }
    trajectories = [json.loads(line)["id"] for line in _export(db, ids["chat"]).splitlines()]
    assert [t["id"] for t in turns] == trajectories, "a turn's id is its trajectory's"
    (solve,) = _csv(_export(db, ids["solve"], "--samples", "--format", "csv"))
    assert (solve["question"], solve["answer"], solve["outcome"], solve["gold"]) == (SOLVE, "42", "solved", "")


def test_the_whole_trajectory_export_is_unchanged_and_bad_flags_are_one_line(every_kind) -> None:
    db, ids = every_kind
    lines = _jsonl(_export(db, ids["bench"]))
    assert len(lines) == 3 and all(line["steps"] and "problem" in line for line in lines)
    url = f"sqlite:///{db}"
    for flags, message in [
        (["--samples", "--format", "xml"], "jsonl or csv"),
        (["--format", "csv"], "--format csv is for --samples"),
        (["--samples"], "is a trajectory of run"),
    ]:
        target = lines[0]["id"] if message == "is a trajectory of run" else ids["bench"]
        proc = run_cli("runs", "export", target, "--db", url, *flags)
        assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_bench_report_json_has_each_runs_samples(every_kind) -> None:
    db, ids = every_kind
    proc = run_cli("bench", "report", ids["bench"], "--json", "--db", f"sqlite:///{db}")
    assert proc.returncode == 0, proc.stderr
    (summary,) = json.loads(proc.stdout)
    assert summary["n"] == 3 and summary["correct"] == 1
    assert summary["samples"] == _jsonl(_export(db, ids["bench"], "--samples")), "the same rows as runs export"
