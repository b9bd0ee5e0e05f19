"""Many writers at once, and a writer killed mid-run: nothing committed is lost."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from solvegraph.memory import Store
from tests.conftest import ROOT

WRITER = [sys.executable, "-m", "tests.memory.writer"]


def test_sixteen_concurrent_sqlite_writers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/shared.sqlite"
    Store(url)  # create the schema once, as the first process to run would
    procs = [
        subprocess.Popen(
            [*WRITER, url, f"w{i}", "10", "5", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for i in range(16)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and out.strip().endswith("done")
    stats = Store(url).stats()
    assert stats["trajectories"] == 160 and stats["verified"] == 160 and stats["steps"] == 800
    assert stats["runs"] == 16 and stats["problems"] == 160


def test_kill_9_mid_run_loses_no_committed_step(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite"
    url = f"sqlite:///{path}"
    Store(url)
    proc = subprocess.Popen(
        [*WRITER, url, "victim", "100", "10", "0.02"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed = []
    assert proc.stdout is not None
    while len(committed) < 25:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        committed.append(line.split()[1:3])
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as conn:  # the file opens cleanly, and is consistent
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(url)
    stored = set()
    with store.session() as s:
        from sqlalchemy import select

        from solvegraph.memory.models import StepRow

        stored = {(t, str(q)) for t, q in s.execute(select(StepRow.trajectory_id, StepRow.seq)).all()}
    missing = [c for c in committed if tuple(c) not in stored]
    assert not missing, f"committed steps lost: {missing}"
    assert len(stored) >= len(committed)
    # The interrupted trajectory is still there, marked running, and the store keeps working.
    assert any(r["trajectories"] >= 3 for r in store.runs())
    store.start_run("solve")
