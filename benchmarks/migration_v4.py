"""How long opening a schema-version-3 memory takes while schema version 4 moves sample ids onto the runs.

    python benchmarks/migration_v4.py [--trajectories 20000] [--steps 5]

A benchmark run of N scored samples (each with its steps) is written, then put back the way version 3
held it (the sample ids on the shared problems, no ``sample_id`` or ``steps.model`` column). The figure
is the time ``Store(url)`` takes to migrate it, against the time it takes to open the same database once
migrated (the baseline: what every later open costs). The migration runs under the memory's write lock,
so every other opener waits for it.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from solvegraph.memory import Step, Store, Trajectory


def build(db: Path, n: int, steps: int) -> str:
    store = Store(f"sqlite:///{db}")
    run = store.start_run("bench", "m", "jsonl")
    items = []
    for i in range(n):
        t = Trajectory(problem=f"Question number {i}: what is {i} + {i}?", model="m", status="solved")
        t.steps = [Step(agent="solver", round=1, reply="ANSWER: 0") for _ in range(steps)]
        for step in t.steps:
            step.usage.calls = 1
        items.append((t, run, f"jsonl-{i}"))
    store.save_many(items)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE trajectories SET outcome = 'correct', score = 1.0"))
    store.close()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "UPDATE problems SET dataset_id = "
            "(SELECT sample_id FROM trajectories WHERE trajectories.problem_id = problems.id)"
        )
        conn.execute("DROP INDEX ux_traj_run_sample")
        conn.execute("ALTER TABLE trajectories DROP COLUMN sample_id")
        conn.execute("ALTER TABLE steps DROP COLUMN model")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=20000)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "v3.sqlite"
        run = build(db, args.trajectories, args.steps)
        started = time.perf_counter()
        store = Store(f"sqlite:///{db}")
        migrate_s = time.perf_counter() - started
        assert store.migrated == [4] and len(store.finished_samples(run)) == args.trajectories
        store.close()
        started = time.perf_counter()
        Store(f"sqlite:///{db}").close()
        open_s = time.perf_counter() - started
    print(
        f"{args.trajectories} scored samples, {args.trajectories * args.steps} steps: migration {migrate_s:.2f} s; "
        f"opening once migrated (baseline) {open_s * 1000:.1f} ms; ratio {migrate_s / open_s:.0f}x"
    )


if __name__ == "__main__":
    main()
