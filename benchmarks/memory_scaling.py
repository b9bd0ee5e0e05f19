"""Memory store throughput and retrieval latency from 1k to 100k trajectories (SQLite).

    python benchmarks/memory_scaling.py [--sizes 1000 10000 100000]

Insert: batched ``save_many`` of synthetic trajectories (4 steps each, realistic
message and tool-call JSON), in batches of 500, against raw ``sqlite3.executemany``
of the same rows into the same schema (the baseline). Target: >= 1,000 trajectories/s.

Retrieval: top-5 verified similar problems (full-text BM25, excluding the query's own
hash) for 50 queries, median, against the bare FTS5 MATCH query through sqlite3.
Target: median <= 20 ms at 100,000 trajectories.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from solvegraph.memory import Step, Store, Trajectory, Usage, content_hash
from solvegraph.memory.store import query_terms

RNG = random.Random(11)
VOCAB = [
    f"{RNG.choice('bcdfghklmnprstvw')}{RNG.choice('aeiou')}{RNG.choice('bcdfgklmnprst')}"
    f"{RNG.choice('aeiou')}{RNG.choice('nrstlm')}"
    for _ in range(6000)
]


def problem(rng: random.Random) -> str:
    words = rng.choices(VOCAB, k=30)
    return f"A {words[0]} has {rng.randint(2, 99)} " + " ".join(words[1:]) + f"; how many {words[5]}?"


def trajectory(rng: random.Random) -> Trajectory:
    t = Trajectory(problem=problem(rng), model="bench")
    msgs = [
        {"role": "system", "content": "You are the solvegraph solver. " * 10},
        {"role": "user", "content": t.problem},
    ]
    code = {"code": f"print({rng.randint(1, 99)} * {rng.randint(1, 99)})"}
    t.steps = [
        Step("planner", 0, msgs, "1. compute", usage=Usage(120, 10, 1)),
        Step(
            "solver",
            1,
            msgs,
            "```python\n...\n```",
            [{"id": "a", "name": "python", "arguments": code}],
            [{"id": "a", "name": "python", "ok": True, "output": "42", "error": "", "data": {}}],
            usage=Usage(150, 30, 1),
        ),
        Step("solver", 1, msgs, "ANSWER: 42", usage=Usage(180, 5, 1)),
        Step(
            "verifier",
            1,
            msgs,
            "VERDICT: ACCEPT",
            verdict={"accepted": True, "source": "model"},
            usage=Usage(200, 5, 1),
        ),
    ]
    t.answer, t.solved, t.status, t.finished_at = "42", True, "solved", time.time()
    t.reusable = True
    return t


def raw_insert(path: Path, items: list[Trajectory]) -> None:
    """Baseline: the same rows with sqlite3.executemany, one transaction per batch."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    with conn:
        conn.execute(
            "INSERT INTO runs (id, kind, model, config, created_at) VALUES ('raw', 'bench', 'm', '{}', '2026-01-01')"
        )
    for start in range(0, len(items), 500):
        batch = items[start : start + 500]
        with conn:
            cur = conn.cursor()
            pids = []
            for t in batch:
                cur.execute(
                    "INSERT INTO problems (content_hash, text) VALUES (?, ?)", (content_hash(t.problem), t.problem)
                )
                pids.append(cur.lastrowid)
            cur.executemany(
                "INSERT INTO trajectories (id, run_id, problem_id, model, config_hash, status, answer, "
                "verified, prompt_tokens, completion_tokens, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (t.id, "raw", pid, t.model, "", t.status, t.answer, 1, 1, 1, "2026-01-01")
                    for t, pid in zip(batch, pids, strict=True)
                ],
            )
            cur.executemany(
                "INSERT INTO steps (trajectory_id, seq, agent, round, messages, reply, tool_calls, "
                "tool_results, verdict, prompt_tokens, completion_tokens, model_calls, timings, started_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        t.id,
                        i,
                        s.agent,
                        s.round,
                        json.dumps(s.messages),
                        s.reply,
                        json.dumps(s.tool_calls),
                        json.dumps(s.tool_results),
                        json.dumps(s.verdict),
                        1,
                        1,
                        1,
                        "{}",
                        0.0,
                    )
                    for t in batch
                    for i, s in enumerate(t.steps)
                ],
            )
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    results = {}
    for n in args.sizes:
        rng = random.Random(n)
        items = [trajectory(rng) for _ in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{tmp}/tool.sqlite")
            run = store.start_run("bench")
            started = time.perf_counter()
            for start in range(0, n, 500):
                store.save_many([(t, run, None) for t in items[start : start + 500]])
            tool_rate = n / (time.perf_counter() - started)

            Store(f"sqlite:///{tmp}/raw.sqlite")  # same schema
            started = time.perf_counter()
            raw_insert(Path(tmp) / "raw.sqlite", items)
            raw_rate = n / (time.perf_counter() - started)

            queries = [problem(random.Random(10_000 + q)) for q in range(args.queries)]
            tool_lat, raw_lat = [], []
            conn = sqlite3.connect(Path(tmp) / "tool.sqlite")
            for q in queries:
                started = time.perf_counter()
                hits = store.search(q, k=5, verified_only=True, exclude_hash=content_hash(q))
                tool_lat.append(time.perf_counter() - started)
                assert len(hits) == 5
                match = " OR ".join(f'"{t}"' for t in query_terms(q))
                started = time.perf_counter()
                conn.execute(
                    "SELECT rowid, bm25(problems_fts) AS r FROM problems_fts WHERE problems_fts MATCH ? "
                    "ORDER BY r LIMIT 5",
                    (match,),
                ).fetchall()
                raw_lat.append(time.perf_counter() - started)
            conn.close()
        tm, rm = statistics.median(tool_lat) * 1000, statistics.median(raw_lat) * 1000
        results[n] = {
            "insert_per_s": tool_rate,
            "raw_insert_per_s": raw_rate,
            "retrieval_median_ms": tm,
            "raw_fts_median_ms": rm,
        }
        print(
            f"{n:>7} trajectories: insert {tool_rate:7.0f}/s (raw sqlite3 {raw_rate:7.0f}/s, ratio "
            f"{tool_rate / raw_rate:.2f}); top-5 retrieval median {tm:6.2f} ms (bare FTS5 {rm:6.2f} ms, "
            f"ratio {tm / rm:.2f})"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
