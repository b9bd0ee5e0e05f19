"""bench on a two-node Ray cluster on loopback against the same bench run locally, with a worker killed.

    python benchmarks/bench_ray.py [--n 400] [--jobs 8] [--strategy pal]

Starts a head and one worker node (``ray start``, 127.0.0.1, 1 CPU and 80 MB of object store each),
runs N GSM8K problems locally and then on the cluster against the same stub endpoint (100 ms a reply),
kills one node's worker (``SIGKILL``) once a quarter of the samples are scored, and checks that the
cluster run scored every sample exactly once with the same answer and outcome as the local run.
Prints both wall times. Needs ``solvegraph[ray]`` and ../shared/benchmarks/gsm8k.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from solvegraph.memory import Store

GSM8K = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "gsm8k" / "test.jsonl"
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}
RAY = [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]


def ray(*args: str) -> None:
    subprocess.run([*RAY, *args], env=ENV, check=True, capture_output=True, timeout=120)


def bench(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "solvegraph.cli", "bench", "gsm8k", *args, "--json"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outcomes(db: str, run_id: str) -> dict[str, tuple]:
    return {r["sample"]: (r["answer"], r["outcome"]) for r in Store(db).results(run_id)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--strategy", default="pal")
    parser.add_argument("--data", type=Path, default=GSM8K)
    a = parser.parse_args()
    if not a.data.is_file():
        sys.exit(f"GSM8K not found at {a.data}; pass --data")
    reply = "ANSWER: 18" if a.strategy == "direct" else "```python\nprint(18)\n```"
    stub = subprocess.Popen(
        [sys.executable, "-m", "solvegraph.testing._scripted", "--reply", reply, "--delay", "0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert stub.stdout is not None
    url = stub.stdout.readline().strip()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{s.getsockname()[1]}"
    node = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", "80000000"]
    common = [
        "--data",
        str(a.data),
        "--limit",
        str(a.n),
        "--strategy",
        a.strategy,
        "-j",
        str(a.jobs),
        "--base-url",
        url,
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local_db, ray_db = f"sqlite:///{tmp}/local.db", f"sqlite:///{tmp}/ray.db"
            started = time.perf_counter()
            local = bench([*common, "--db", local_db])
            out, err = local.communicate()
            local_s = time.perf_counter() - started
            assert local.returncode == 0, err[-2000:]
            local_run = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])["run_id"]

            port = address.split(":")[1]
            ray("start", "--head", "--port", port, "--include-dashboard", "false", "--disable-usage-stats", *node)
            ray("start", "--address", address, *node)
            started = time.perf_counter()
            proc = bench([*common, "--db", ray_db, "--ray", address])
            killed = None
            while proc.poll() is None and killed is None:
                time.sleep(0.2)
                runs = Store(ray_db).runs() if Path(f"{tmp}/ray.db").exists() else []
                if runs and len(Store(ray_db).finished_samples(runs[0]["id"])) >= a.n // 4:
                    pids = subprocess.run(["pgrep", "-f", "ray::SampleWorker"], capture_output=True, text=True)
                    if pids.stdout.split():
                        killed = int(pids.stdout.split()[0])
                        os.kill(killed, signal.SIGKILL)
            out, err = proc.communicate()
            ray_s = time.perf_counter() - started
            assert proc.returncode == 0, err[-2000:]
            lines = [line for line in out.splitlines() if line.startswith("{")]
            ray_run = json.loads(lines[-1])["run_id"]
            same = outcomes(ray_db, ray_run) == outcomes(local_db, local_run)
            store = Store(ray_db)
            rows = store.stats()["trajectories"]
            print(
                f"{a.n} problems, {a.strategy}, -j {a.jobs}: local {local_s:.1f} s, two-node Ray cluster {ray_s:.1f} s "
                f"(both whole commands); worker {f'killed at {a.n // 4} scored' if killed else 'NOT killed'}; "
                f"scored results identical to the local run: {same}; trajectories written: {rows} (samples {a.n})"
            )
    finally:
        subprocess.run([*RAY, "stop", "--force"], env=ENV, capture_output=True)
        stub.terminate()


if __name__ == "__main__":
    main()
