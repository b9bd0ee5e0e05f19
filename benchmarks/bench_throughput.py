"""Runner throughput against a stub endpoint on loopback that answers after a fixed 100 ms.

    python benchmarks/bench_throughput.py [--n 400] [--jobs 32] [--pal-n 200] [--pal-jobs 8]
                                          [--graph-n 64] [--graph-jobs 16] [--no-inspect]

1. ``direct`` over N GSM8K problems with -j JOBS: wall time against the ideal
   (model calls x 100 ms / JOBS; target <= 1.5x), and the runner's CPU per sample
   (the whole process, all threads; target <= 4 ms).
2. The peer, in the same run: Inspect AI over the same problems, endpoint and
   concurrency, a direct-answer task (benchmarks/_inspect_peer.py; skipped when
   inspect-ai is not installed). Target: solvegraph's wall time <= Inspect AI's.
3. ``pal`` over PAL_N problems with -j PAL_JOBS, a fresh kernel per problem, once with
   the sandbox (bubblewrap) and once with ``--sandbox none`` as the baseline: problems
   per second, the split of time between model, kernel and runner, and the runner
   overhead per problem (time outside the model and the tools, from each sample's own
   timings). Target (sandbox on): <= 30 ms.
4. ``graph`` (the four agents on LangGraph's astream) over GRAPH_N problems with
   -j GRAPH_JOBS, sandbox on: each problem makes about five model calls and runs three
   cells. Reported: problems per second, runner overhead per problem, and the most
   threads the process had at once (sampled every 20 ms), which shows whether samples
   in flight hold a thread each.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from solvegraph.bench.runner import BenchConfig, BenchRunner
from solvegraph.config import load_settings
from solvegraph.memory import Store

GSM8K = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "gsm8k" / "test.jsonl"


class _Threads:
    """The most threads this process had at once while it ran, sampled every 20 ms."""

    def __init__(self) -> None:
        self.most = threading.active_count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.most = max(self.most, threading.active_count())

    def __enter__(self) -> _Threads:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(strategy: str, n: int, jobs: int, data: Path, db: str, sandbox: str = "auto") -> dict:
    reply = "ANSWER: 18" if strategy == "direct" else "```python\nprint(18)\n```"
    # The stub runs in its own process, as a real endpoint would: no shared GIL with the runner.
    stub = subprocess.Popen(
        [sys.executable, "-m", "solvegraph.testing._scripted", "--reply", reply, "--delay", "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stub.stdout is not None
        base_url = stub.stdout.readline().strip()
        settings = load_settings(flags={"base_url": base_url, "sandbox": sandbox}, env={})
        store = Store(db)
        runner = BenchRunner(
            BenchConfig(dataset="gsm8k", data=str(data), strategy=strategy, limit=n, jobs=jobs), settings, store
        )
        samples = runner.prepare()
        if strategy in ("pal", "graph"):
            # The kernel template boots once per process (not counted); every problem still gets a new kernel.
            from solvegraph.tools.python import default_pool

            warm_started = time.perf_counter()
            pool = default_pool(memory_mb=settings.kernel_memory_mb, size=jobs, sandbox=sandbox)
            pool.factory()
            while len(pool._idle) < jobs:
                time.sleep(0.05)
            print(f"(template boot and {jobs} first kernels: {time.perf_counter() - warm_started:.1f} s, not counted)")
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        before = threading.active_count()
        with _Threads() as threads:
            runner.run(samples)
        wall = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    finally:
        stub.terminate()
        stub.wait()
    calls = sum(store.load(r["trajectory"]).usage.calls for r in store.results(runner.run_id or ""))
    results = store.results(runner.run_id or "")
    model_s, tool_s, overhead = [], [], []
    for r in results:
        t = store.load(r["trajectory"])
        m = sum(s.timings.get("model_s", 0.0) for s in t.steps)
        k = sum(s.timings.get("tool_s", 0.0) for s in t.steps)
        model_s.append(m)
        tool_s.append(k)
        overhead.append((r["latency_s"] or 0.0) - m - k)
    return {
        "wall_s": wall,
        "cpu_ms_per_sample": cpu / max(1, len(results)) * 1000,
        "model_calls": calls,
        "n": len(results),
        "model_s": sum(model_s),
        "tool_s": sum(tool_s),
        "overhead_median_ms": statistics.median(overhead) * 1000,
        "overhead_p90_ms": sorted(overhead)[int(0.9 * len(overhead)) - 1] * 1000,
        "threads_before": before,
        "threads_most": threads.most,
    }


def inspect_peer(n: int, jobs: int, data: Path) -> dict | None:
    """Inspect AI over the same problems, against its own copy of the same stub, in its own process."""
    if importlib.util.find_spec("inspect_ai") is None:
        return None
    stub = subprocess.Popen(
        [sys.executable, "-m", "solvegraph.testing._scripted", "--reply", "ANSWER: 18", "--delay", "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stub.stdout is not None
        base_url = stub.stdout.readline().strip()
        peer = Path(__file__).with_name("_inspect_peer.py")
        done = subprocess.run(
            [sys.executable, str(peer), base_url, str(data), str(n), str(jobs)], capture_output=True, text=True
        )
    finally:
        stub.terminate()
        stub.wait()
    if done.returncode != 0:
        print(f"inspect-ai run failed: {done.stderr.strip().splitlines()[-1:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def pal_runs(args: argparse.Namespace, tmp: str, out: dict) -> None:
    """PAL with a fresh kernel per problem on each backend; ratios against ``none`` in the same run."""
    sandboxes = args.pal_sandboxes.split(",")
    for sandbox in sandboxes:
        p = run("pal", args.pal_n, args.pal_jobs, args.data, f"sqlite:///{tmp}/pal-{sandbox}.sqlite", sandbox)
        out[f"pal_{sandbox}"] = {**p, "problems_per_s": p["n"] / p["wall_s"]}
        busy = p["model_s"] + p["tool_s"] + p["overhead_median_ms"] / 1000 * p["n"]
        print(
            f"pal, sandbox {sandbox}, -j {args.pal_jobs}: {p['n'] / p['wall_s']:.1f} problems/s; threads "
            f"{p['threads_before']} before, at most {p['threads_most']}; time split: "
            f"model {p['model_s']:.1f} s ({100 * p['model_s'] / busy:.0f}%), kernel {p['tool_s']:.1f} s "
            f"({100 * p['tool_s'] / busy:.0f}%), runner ~{p['overhead_median_ms'] / 1000 * p['n']:.1f} s "
            f"({100 * p['overhead_median_ms'] / 1000 * p['n'] / busy:.0f}%); runner overhead per problem "
            f"median {p['overhead_median_ms']:.1f} ms, p90 {p['overhead_p90_ms']:.1f} ms (target <= 30 ms)"
        )
    if "none" in sandboxes:
        for sandbox in (s for s in sandboxes if s != "none"):
            ratio = out[f"pal_{sandbox}"]["problems_per_s"] / out["pal_none"]["problems_per_s"]
            print(f"pal {sandbox} / unsandboxed throughput: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--pal-n", type=int, default=200)
    parser.add_argument("--pal-jobs", type=int, default=8)
    parser.add_argument("--graph-n", type=int, default=64)
    parser.add_argument("--graph-jobs", type=int, default=16)
    parser.add_argument("--no-inspect", action="store_true", help="skip the Inspect AI comparison")
    parser.add_argument("--data", type=Path, default=GSM8K)
    parser.add_argument(
        "--pal-sandboxes", default="bwrap,none", help="backends for the pal runs, e.g. gvisor,bwrap,none"
    )
    parser.add_argument("--only-pal", action="store_true", help="only the pal runs (backends compared)")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"GSM8K not found at {args.data}; pass --data")
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.only_pal:
            pal_runs(args, tmp, out)
            print(json.dumps(out))
            return
        d = run("direct", args.n, args.jobs, args.data, f"sqlite:///{tmp}/direct.sqlite")
        ideal = d["model_calls"] * 0.1 / args.jobs
        out["direct"] = {**d, "ideal_s": ideal, "ratio": d["wall_s"] / ideal}
        print(
            f"direct: {d['n']} problems, {d['model_calls']} model calls, -j {args.jobs}: {d['wall_s']:.2f} s vs "
            f"ideal {ideal:.2f} s = {d['wall_s'] / ideal:.2f}x (target <= 1.5x); runner CPU per sample "
            f"{d['cpu_ms_per_sample']:.2f} ms (target <= 4 ms)"
        )
        peer = None if args.no_inspect else inspect_peer(args.n, args.jobs, args.data)
        if peer is not None:
            out["inspect_ai"] = peer
            print(
                f"inspect-ai: {peer['n']} samples, max_connections {args.jobs}: {peer['wall_s']:.2f} s "
                f"({peer['wall_s'] / ideal:.2f}x ideal), CPU per sample {peer['cpu_s'] / max(1, peer['n']) * 1000:.2f} "
                f"ms; solvegraph / inspect-ai wall time: {d['wall_s'] / peer['wall_s']:.2f} (target <= 1)"
            )
        pal_runs(args, tmp, out)
        g = run("graph", args.graph_n, args.graph_jobs, args.data, f"sqlite:///{tmp}/graph.sqlite", "bwrap")
        out["graph"] = {**g, "problems_per_s": g["n"] / g["wall_s"]}
        print(
            f"graph, sandbox on, -j {args.graph_jobs}: {g['n']} problems, {g['model_calls']} model calls, "
            f"{g['n'] / g['wall_s']:.1f} problems/s; model {g['model_s']:.1f} s, kernel {g['tool_s']:.1f} s; runner "
            f"overhead per problem median {g['overhead_median_ms']:.1f} ms, p90 {g['overhead_p90_ms']:.1f} ms; "
            f"threads: {g['threads_before']} before, at most {g['threads_most']} while {args.graph_jobs} problems "
            "were in flight"
        )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
