"""A run's samples are its own: ids, gold and outcomes on the run's rows, never on the problem shared across runs.

The reported bug, step by step: two SVAMP problems solved with ``solve`` first, then a bench over ten SVAMP
lines that include them, then ``--resume`` on the finished run. The problem rows were shared by content, so
the two samples lost their ids, resume ran them again and reported 12/12, and ``bench compare`` crashed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from solvegraph.memory import Store
from solvegraph.memory.store import MIGRATIONS
from tests.conftest import DATA, run_cli

SVAMP = DATA / "svamp" / "SVAMP.jsonl"
SVAMP_ARGS = ("jsonl", "--data", str(SVAMP), "--question-field", "Body,Question", "--answer-field", "Answer")


def svamp() -> list[dict]:
    return [json.loads(line) for line in SVAMP.read_text().splitlines()]


def right_answers(body: dict) -> str:
    """The gold of whichever SVAMP question the request carries (solve and bench prompts alike)."""
    asked = json.dumps(body["messages"])
    for row in svamp():
        if row["Question"] in asked and row["Body"] in asked:
            return f"ANSWER: {row['Answer']:g}"
    return "ANSWER: 0"


def bench_json(model, db: Path, *args: str) -> tuple[int, dict, str]:
    proc = run_cli("bench", *args, "--json", "--base-url", model.base_url, "--db", f"sqlite:///{db}")
    summary = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    return proc.returncode, summary, proc.stderr


def test_problems_seen_by_solve_keep_their_ids_in_a_bench_and_resume_of_a_finished_run_does_nothing(
    scripted, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"
    with scripted({"solver": [right_answers], "planner": ["Plan: answer."], "verifier": ["ACCEPT"]}) as model:
        for row in svamp()[:2]:
            proc = run_cli("solve", f"{row['Body']} {row['Question']}", "--base-url", model.base_url, "--db",
                           f"sqlite:///{db}", "-q")  # fmt: skip
            assert "Traceback" not in proc.stderr
        code, first, said = bench_json(model, db, *SVAMP_ARGS, "--strategy", "direct", "--id-field", "ID")
        assert code == 0, said
        assert (first["n"], first["correct"]) == (10, 10)
        results = Store(f"sqlite:///{db}").results(first["run_id"])
        assert sorted(r["sample"] for r in results) == sorted(f"jsonl-{r['ID']}" for r in svamp())

        code, again, said = bench_json(model, db, "--resume", first["run_id"][:12])
        assert code == 0, said
        assert "is finished: all 10 samples are scored; nothing to run" in said
        assert (again["n"], again["correct"]) == (10, 10)
        asked = len(model.calls("solver"))
        code, _, said = bench_json(model, db, "--resume", first["run_id"][:12])
        assert code == 0 and len(model.calls("solver")) == asked, "a finished run asks the model nothing"

        code, other, said = bench_json(model, db, *SVAMP_ARGS, "--strategy", "direct", "--id-field", "ID")
        assert code == 0, said
    proc = run_cli("bench", "compare", first["run_id"], other["run_id"], "--json", "--db", f"sqlite:///{db}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["shared"] == 10


def _as_written_before_v4(db: Path, run_id: str, lost: list[str], rerun: list[str]) -> None:
    """Put a v4 database back the way schema version 3 held the bug: sample ids on the shared problems, lost
    for the ``lost`` samples (their problem was first seen by a solve), and those run a second time by the
    old resume (``rerun``), scored again under no id."""
    conn = sqlite3.connect(db)
    with conn:
        for sample, problem in conn.execute(
            "SELECT sample_id, problem_id FROM trajectories WHERE run_id = ?", (run_id,)
        ).fetchall():
            conn.execute(
                "UPDATE problems SET dataset_id = ? WHERE id = ?", (None if sample in lost else sample, problem)
            )
        for sample in rerun:
            tid, started = conn.execute(
                "SELECT id, started_at FROM trajectories WHERE run_id = ? AND sample_id = ?", (run_id, sample)
            ).fetchone()
            conn.execute(
                "INSERT INTO trajectories (id, run_id, problem_id, model, config_hash, status, answer, verified, "
                "gold, score, outcome, details, latency_s, prompt_tokens, completion_tokens, started_at) "
                "SELECT ?, run_id, problem_id, model, config_hash, status, answer, verified, gold, score, outcome, "
                "details, latency_s, prompt_tokens, completion_tokens, ? FROM trajectories WHERE id = ?",
                (f"again{tid[:20]}", started.replace(" ", "T").split("+")[0] + "9", tid),
            )
        conn.execute("DROP INDEX ux_traj_run_sample")
        conn.execute("ALTER TABLE trajectories DROP COLUMN sample_id")
        conn.execute("ALTER TABLE steps DROP COLUMN model")
        conn.execute("ALTER TABLE steps DROP COLUMN reply_meta")  # schema 5's
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()


def test_the_migration_and_resume_repair_a_run_the_bug_had_double_counted(scripted, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    with scripted({"solver": [right_answers]}) as model:
        code, first, said = bench_json(model, db, *SVAMP_ARGS, "--strategy", "direct", "--id-field", "ID")
        assert code == 0, said
        run_id = first["run_id"]
        lost = ["jsonl-chal-1", "jsonl-chal-2"]
        _as_written_before_v4(db, run_id, lost, rerun=lost)
        old = tmp_path / "v3.sqlite"
        shutil.copy(db, old)

        store = Store(f"sqlite:///{db}")
        assert store.migrated == [m.version for m in MIGRATIONS if m.version >= 4]
        rows = store.results(run_id)
        assert len(rows) == 12, "the migration drops no score: it only moves the ids it can trust"
        assert sorted(r["sample"] for r in rows if r["sample"] is not None) == sorted(
            f"jsonl-{r['ID']}" for r in svamp()[2:]
        )
        proc = run_cli("bench", "report", run_id, "--json", "--db", f"sqlite:///{db}")
        assert proc.returncode == 0, proc.stderr
        store.close()

        code, resumed, said = bench_json(model, db, "--resume", run_id)
        assert code == 0, said
        assert (
            "repaired run" in said and "2 scored samples named again from the dataset, 2 scored twice kept once" in said
        )
        assert "nothing to run" in said
        assert (resumed["n"], resumed["correct"]) == (10, 10)
    store = Store(f"sqlite:///{db}")
    rows = store.results(run_id)
    assert sorted(r["sample"] for r in rows) == sorted(f"jsonl-{r['ID']}" for r in svamp())
    with store.engine.connect() as conn:
        kept = conn.execute(
            text("SELECT status FROM trajectories WHERE run_id = :r AND outcome IS NULL"), {"r": run_id}
        )
        assert [s for (s,) in kept] == ["duplicate", "duplicate"], "the second runs are kept, unscored"
    assert store.stats()["trajectories"] == 12

    # The same database on the old schema, compared before any resume: unpaired rows are left out, no crash.
    proc = run_cli("bench", "compare", run_id, run_id, "--json", "--db", f"sqlite:///{old}")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["shared"] == 8


def test_a_sample_is_scored_at_most_once_per_run_by_the_database_itself(tmp_path: Path) -> None:
    from solvegraph.memory import StoreError, Trajectory

    store = Store(f"sqlite:///{tmp_path}/m.sqlite")
    run = store.start_run("bench")
    for _ in range(2):
        t = Trajectory(problem="What is 2+2?")
        store.begin(t, run, sample_id="s-1")
        t.status, t.answer = "solved", "4"
        if _ == 0:
            store.finish(t, score=1.0, outcome="correct")
        else:
            with pytest.raises(StoreError):
                store.finish(t, score=1.0, outcome="correct")
    assert [r["sample"] for r in store.results(run)] == ["s-1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--question-field", "body", "--answer-field", "Answer"],
            "has the field 'body'; its fields: ID, Body, Question, Equation, Answer, Type; did you mean 'Body'?",
        ),
        (["--question-field", "Body", "--answer-field", "answer"], "did you mean 'Answer'?"),
        (["--question-field", "Body", "--answer-field", "Answer", "--id-field", "Id"], "did you mean 'ID'?"),
        (["--question-field", "Body", "--answer-field", "Answer", "--limit", "0"], "--limit"),
        (["--question-field", "Body", "--answer-field", "Answer", "-j", "0"], "'-j' / '--jobs'"),
        (["--question-field", "Body", "--answer-field", "Answer", "--max-seconds", "-5"], "--max-seconds"),
        (["--question-field", "Body", "--answer-field", "Answer", "--select", "best"], "majority, verifier"),
    ],
)
def test_strict_loader_and_flags_are_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    proc = run_cli("bench", "jsonl", "--data", str(SVAMP), *args, "--base-url", "http://127.0.0.1:9/v1", "--db",
                   f"sqlite:///{db}")  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    if db.exists():
        assert Store(f"sqlite:///{db}").runs() == [], "no run is created for a command that cannot run"


def test_ids_and_categories_in_any_case_and_null_gold_skipped_and_said(scripted, tmp_path: Path) -> None:
    rows = svamp()[:4]
    rows[3]["Answer"] = None
    data = tmp_path / "svamp.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with scripted({"solver": [right_answers]}) as model:
        code, s, said = bench_json(
            model, tmp_path / "m.sqlite", "jsonl", "--data", str(data), "--question-field", "Body,Question",
            "--answer-field", "Answer", "--strategy", "direct",
        )  # fmt: skip
    assert code == 0, said
    assert (s["n"], s["correct"], s["skipped_lines"]) == (3, 3, 1)
    assert f"{data}:4: null gold in field 'Answer'" in said
    assert s["categories"] == {"Subtraction": {"correct": 3, "n": 3, "accuracy": 1.0}}
    got = {r["sample"] for r in Store(f"sqlite:///{tmp_path}/m.sqlite").results(s["run_id"])}
    assert got == {"jsonl-chal-1", "jsonl-chal-2", "jsonl-chal-3"}


def test_resume_refuses_what_defines_the_run_and_applies_jobs(scripted, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    with scripted({"solver": [right_answers]}) as model:
        code, s, said = bench_json(model, db, *SVAMP_ARGS, "--strategy", "direct", "--limit", "3")
        assert code == 0, said
        for extra, flag in ((["--strategy", "pal"], "--strategy"), (["--limit", "5"], "--limit"),
                            (["--data", str(SVAMP)], "--data")):  # fmt: skip
            code, _, said = bench_json(model, db, "--resume", s["run_id"], *extra)
            assert code == 2 and f"drop {flag}" in said, said
        code, _, said = bench_json(model, db, "--resume", s["run_id"], "-j", "7")
        assert code == 0, said
    assert Store(f"sqlite:///{db}").run_config(s["run_id"])["jobs"] == 7
    with scripted({"solver": [right_answers]}, model="other") as other:
        code, _, said = bench_json(other, db, "--resume", s["run_id"], "--model", "other")
        assert code == 2 and "ran on model 'scripted': to go on with 'other' add --switch-model" in said, said
        code, _, said = bench_json(other, db, "--resume", s["run_id"], "--model", "other", "--switch-model")
        assert code == 0, said
    config = Store(f"sqlite:///{db}").run_config(s["run_id"])
    assert "model_switches" not in config, "the run was finished: no sample ran on the other model"


def test_an_id_another_dataset_left_on_the_shared_problem_is_renamed_on_resume(scripted, tmp_path: Path) -> None:
    """Before schema version 4 the problem row kept the id of the first benchmark that asked its text: a run of
    another file with the same questions inherited those ids, and resume ran its samples again."""
    db = tmp_path / "m.sqlite"
    rows = svamp()[:3]
    files = {}
    for prefix in ("first", "second"):
        files[prefix] = tmp_path / f"{prefix}.jsonl"
        files[prefix].write_text("".join(json.dumps({**r, "ID": f"{prefix}-{r['ID']}"}) + "\n" for r in rows))
    args = ("--question-field", "Body,Question", "--answer-field", "Answer", "--id-field", "ID", "--strategy", "direct")
    with scripted({"solver": [right_answers]}) as model:
        runs = {}
        for prefix, path in files.items():
            code, summary, said = bench_json(model, db, "jsonl", "--data", str(path), *args)
            assert code == 0, said
            runs[prefix] = summary["run_id"]
        conn = sqlite3.connect(db)
        with conn:  # schema version 3 as the bug left it: the first run's ids on the shared problems
            for sample, problem in conn.execute(
                "SELECT sample_id, problem_id FROM trajectories WHERE run_id = ?", (runs["first"],)
            ).fetchall():
                conn.execute("UPDATE problems SET dataset_id = ? WHERE id = ?", (sample, problem))
            conn.execute("DROP INDEX ux_traj_run_sample")
            conn.execute("ALTER TABLE trajectories DROP COLUMN sample_id")
            conn.execute("ALTER TABLE steps DROP COLUMN model")
            conn.execute("ALTER TABLE steps DROP COLUMN reply_meta")  # schema 5's
            conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        conn.close()
        inherited = {r["sample"] for r in Store(f"sqlite:///{db}").results(runs["second"])}
        assert inherited == {f"jsonl-first-{r['ID']}" for r in rows}, "the shared rows' ids, as the old schema had"
        asked = len(model.calls("solver"))
        code, resumed, said = bench_json(model, db, "--resume", runs["second"])
        assert code == 0, said
        assert "3 scored samples named again from the dataset, 0 scored twice kept once" in said
        assert "nothing to run" in said and len(model.calls("solver")) == asked, "no sample is run again"
    assert (resumed["n"], resumed["correct"]) == (3, 3)
    got = {r["sample"] for r in Store(f"sqlite:///{db}").results(runs["second"])}
    assert got == {f"jsonl-second-{r['ID']}" for r in rows}
    first = {r["sample"] for r in Store(f"sqlite:///{db}").results(runs["first"])}
    assert first == {f"jsonl-first-{r['ID']}" for r in rows}, "the first run keeps its own"


def test_a_result_another_process_scored_first_is_kept_unscored_and_the_batch_lands(tmp_path: Path) -> None:
    """Two resumes of one run at once: the second result for a sample must not roll back the others with it."""
    from solvegraph.memory import Trajectory
    from solvegraph.memory.store import ALREADY_SCORED, Write, finish_values

    store = Store(f"sqlite:///{tmp_path}/m.sqlite")
    run = store.start_run("bench")
    first, again, other = (Trajectory(problem=f"What is {n}+{n}?") for n in (1, 1, 2))
    store.begin(first, run, sample_id="s-1")
    first.status, first.answer = "solved", "2"
    store.finish(first, score=1.0, outcome="correct")
    for t in (again, other):
        t.status, t.answer = "solved", "2" if t is again else "4"
    writes = [
        Write("begin", (again, run, "s-1", None)),
        Write("begin", (other, run, "s-2", None)),
        Write("finish", (again.id, finish_values(again, score=1.0, outcome="correct"))),
        Write("finish", (other.id, finish_values(other, score=1.0, outcome="correct"))),
    ]
    out = store.write_batch(writes)
    assert out[2] == ALREADY_SCORED and out[3] is None
    assert sorted(r["sample"] for r in store.results(run)) == ["s-1", "s-2"]
    assert store.load(again.id).status == "duplicate", "kept, unscored"
    assert store.finished_samples(run) == {"s-1": first.id, "s-2": other.id}
