"""bench --ray on a real two-node Ray cluster on loopback: the same scored results as a local run, and a
worker killed mid-run loses and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.memory import Store
from tests.conftest import DATA, ROOT, run_cli

pytest.importorskip("ray", reason="the ray extra is part of the test install")

ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
PAL = "```python\nprint(3 * 6)\n```"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray(*args: str) -> None:
    """The ``ray`` command of the Ray this Python imports (a venv may reach it through system site-packages)."""
    cli = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]
    done = subprocess.run([*cli, *args], env=ENV, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def cluster() -> Iterator[str]:
    """A head and one worker node, both on 127.0.0.1, with small object stores."""
    address = f"127.0.0.1:{_free_port()}"
    common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", "80000000"]
    _ray(
        "start",
        "--head",
        "--port",
        address.split(":")[1],
        "--include-dashboard",
        "false",
        "--disable-usage-stats",
        *common,
    )
    try:
        _ray("start", "--address", address, *common)
        yield address
    finally:
        _ray("stop", "--force")


def _sample_workers() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "ray::SampleWorker"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _outcomes(db: Path, run_id: str) -> dict[str, tuple]:
    return {r["sample"]: (r["answer"], r["outcome"]) for r in Store(f"sqlite:///{db}").results(run_id)}


def test_bench_on_a_two_node_ray_cluster_survives_a_killed_worker(cluster: str, scripted, tmp_path: Path) -> None:
    data = ["--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "12", "--strategy", "pal", "-j", "4"]
    with scripted({"solver": [PAL]}, delay_s=0.4) as model:
        local = run_cli(
            "bench", "gsm8k", *data, "--json", "--base-url", model.base_url, "--db", f"sqlite:///{tmp_path}/l.db"
        )
        assert local.returncode == 0, local.stderr
        local_summary = json.loads(local.stdout.strip().splitlines()[-1])

        db = tmp_path / "ray.sqlite"
        proc = subprocess.Popen(
            [sys.executable, "-m", "solvegraph.cli", "bench", "gsm8k", *data, "--json", "--base-url", model.base_url,
             "--db", f"sqlite:///{db}", "--ray", cluster],
            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # Kill one node's worker once some samples are scored and others are in flight on it.
        deadline = time.monotonic() + 120
        killed, watch = None, None
        while time.monotonic() < deadline and killed is None and proc.poll() is None:
            time.sleep(0.2)
            if watch is None:
                if not db.exists():
                    continue
                watch = Store(f"sqlite:///{db}")  # may open the memory while the bench is creating it
            runs = watch.runs()
            workers = _sample_workers()
            if runs and len(watch.finished_samples(runs[0]["id"])) >= 2 and len(workers) == 2:
                killed = workers[0]
                os.kill(killed, signal.SIGKILL)
        if watch is not None:
            watch.close()
        out, errs = proc.communicate(timeout=300)
    assert killed is not None, "a worker was killed mid-run"
    assert proc.returncode == 0, errs[-3000:]
    (line,) = out.strip().splitlines()  # Ray's own notices about the dead worker went to stderr
    summary = json.loads(line)
    assert summary["n"] == 12 == local_summary["n"]
    assert _outcomes(db, summary["run_id"]) == _outcomes(tmp_path / "l.db", local_summary["run_id"])
    store = Store(f"sqlite:///{db}")
    results = store.results(summary["run_id"])
    assert len({r["trajectory"] for r in results}) == 12
    assert store.stats()["trajectories"] == 12, "a sample retried after the kill was written once"
    assert all(len(store.load(r["trajectory"]).steps) == 1 for r in results), "no step written twice"


def test_ray_without_an_endpoint_or_a_cluster_is_one_line(tmp_path: Path) -> None:
    data = ["gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "1", "--db", f"sqlite:///{tmp_path}/x.db"]
    proc = run_cli("bench", *data, "--ray")
    assert proc.returncode != 0 and "--ray needs --base-url" in proc.stderr and "Traceback" not in proc.stderr
    port = _free_port()
    proc = run_cli("bench", *data, "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--ray", f"127.0.0.1:{port}")
    assert proc.returncode != 0 and "cannot join the Ray cluster" in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
