"""solvegraph view: time to first byte of a 10,000-sample run's page and of a trajectory's page.

    python benchmarks/view_latency.py [--samples 10000]

Fills a SQLite store with one bench run of N scored samples (two steps each, written through the
benchmark runner's batched write path), serves it with uvicorn on loopback as ``solvegraph view`` does,
and times the first byte of: the run page, a trajectory page, and as the baseline in the same run a
page that touches no data (the 404 of an unknown path). Targets: run page <= 300 ms, trajectory
page <= 200 ms.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import tempfile
import threading
import time

import uvicorn

from solvegraph.memory import Step, Store, Trajectory
from solvegraph.memory.store import Write, finish_values
from solvegraph.view import make_app


def fill(store: Store, n: int) -> tuple[str, str]:
    run_id = store.start_run("bench", "scripted", "gsm8k", {"dataset": "gsm8k", "strategy": "pal", "samples": 1})
    writes: list[Write] = []
    last = ""
    for i in range(n):
        t = Trajectory(problem=f"Problem {i}: what is {i} + {i}? Show your work in Python.", model="scripted")
        writes.append(Write("begin", (t, run_id, f"gsm8k-{i}", str(2 * i))))
        code = f"print({i} + {i})"
        writes.append(Write("step", (t.id, 0, Step("solver", 1, [{"role": "user", "content": t.problem}], code))))
        step = Step(
            "solver", 1, reply="ANSWER: done", tool_calls=[{"id": "c", "name": "python", "arguments": {"code": code}}]
        )
        step.tool_results.append({"id": "c", "name": "python", "ok": True, "output": str(2 * i)})
        writes.append(Write("step", (t.id, 1, step)))
        t.answer, t.status, t.finished_at = str(2 * i), "solved", time.time()
        outcome = "correct" if i % 3 else "wrong"
        values = finish_values(
            t, score=float(outcome == "correct"), outcome=outcome, details={}, latency_s=0.1 + i % 7 / 10
        )
        writes.append(Write("finish", (t.id, values)))
        last = t.id
        if len(writes) >= 4000:
            store.write_batch(writes)
            writes = []
    if writes:
        store.write_batch(writes)
    return run_id, last


def first_byte(port: int, path: str) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    response.read(1)
    took = time.perf_counter() - started
    response.read()
    conn.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/view.sqlite")
        started = time.perf_counter()
        run_id, trajectory = fill(store, args.samples)
        print(f"filled {args.samples} samples in {time.perf_counter() - started:.1f} s")
        server = uvicorn.Server(uvicorn.Config(make_app(store), port=0, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        first_byte(port, f"/runs/{run_id}")  # warm: templates compiled, statements cached
        results = {}
        for name, path in (("baseline (404)", "/nothing-here"), ("run page", f"/runs/{run_id}"),
                           ("trajectory page", f"/t/{trajectory}")):  # fmt: skip
            times = [first_byte(port, path) for _ in range(args.repeat)]
            results[name] = statistics.median(times) * 1000
        base = results["baseline (404)"]
        for name, ms in results.items():
            print(f"{name}: median first byte {ms:.1f} ms ({ms / base:.0f}x the baseline)")
        server.should_exit = True


if __name__ == "__main__":
    main()
