"""Cold start: whole ``solvegraph`` processes, each measured over repeated runs (issue 30 item 5).

    python benchmarks/cold_start.py [--runs 7] [--python PYTHON] [--n 800] [--jobs 32] [--skip-800]

solvegraph's bytecode is compiled first (as a wheel's install does). Each figure is the median of
``--runs`` fresh processes (the interpreter started anew every time, as a user starts the command), with
the interpreter's own start (``python -c pass``) measured in the same run as the baseline:

1. ``solvegraph --help`` and ``--version``: spawn to exit. Target: --help <= 0.3 s.
2. ``solvegraph solve``: spawn to the first chat-completion request arriving at a scripted endpoint on
   loopback (zero delay). Target <= 0.6 s. Also with ``--no-memory`` (no store to read before it).
3. a 10-sample ``bench`` (``--strategy direct``) against a zero-delay endpoint: spawn to exit, the
   summary written. Target <= 1.2 s.
4. an N-sample ``direct`` bench at ``-j JOBS`` against an endpoint that answers after 100 ms (its own
   process, as a real endpoint is), start-up included, against a bare asyncio client (httpx, JOBS at
   once, timed in this process, so without any start-up) sending the same number of requests with the
   same questions. Target <= 1.3x. Run once (it is long): 800 x 100 ms / 32 = 2.5 s ideal.

``--python`` measures another installation (e.g. the main branch's venv) the same way, for a before/after.
Numbers move with the machine's load: compare the figures of one run, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from solvegraph.testing import ScriptedModel

ROOT = Path(__file__).resolve().parent.parent
GSM8K = ROOT / "tests" / "fixtures" / "datasets" / "gsm8k" / "test.jsonl"


def _env() -> dict[str, str]:
    """The user's environment without settings that would change what is measured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOLVEGRAPH_", "OTEL_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # every run reads the same .pyc files; none is written meanwhile
    return env


def wall(cmd: list[str], runs: int) -> float:
    """The median wall time of ``runs`` processes of ``cmd``, spawn to exit."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=_env(), cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.decode()[-2000:]}")
    return statistics.median(times)


def to_first_request(python: str, runs: int, tmp: Path, *extra: str) -> float:
    """Median time from spawning ``solvegraph solve`` to its first chat completion at the endpoint."""
    times = []
    with ScriptedModel({"default": ["ANSWER: 42"]}) as model:
        for i in range(runs):
            before = len(model.requests)
            db = f"sqlite:///{tmp}/solve{i}.sqlite"
            cmd = [python, "-m", "solvegraph.cli", "solve", "What is 6*7?", "-q", "--base-url", model.base_url,
                   "--db", db, "--sandbox", "none", *extra]  # fmt: skip
            started = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env())
            while len(model.requests) == before:
                if proc.poll() is not None:
                    raise SystemExit(f"solve exited before asking the model: {proc.stderr.read().decode()[-2000:]}")
                time.sleep(0.0005)
            times.append(time.perf_counter() - started)
            proc.wait(timeout=120)
    return statistics.median(times)


def small_bench(python: str, runs: int, tmp: Path) -> float:
    """Median wall time of a whole 10-sample direct bench process against a zero-delay endpoint."""
    times = []
    with ScriptedModel({"default": ["ANSWER: 18"]}) as model:
        for i in range(runs):
            cmd = [python, "-m", "solvegraph.cli", "bench", "gsm8k", "--data", str(GSM8K), "--limit", "10",
                   "--strategy", "direct", "--base-url", model.base_url, "--db", f"sqlite:///{tmp}/b{i}.sqlite",
                   "--json", "--sandbox", "none"]  # fmt: skip
            started = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, env=_env())
            times.append(time.perf_counter() - started)
            if proc.returncode != 0:
                raise SystemExit(f"bench failed: {proc.stderr.decode()[-2000:]}")
    return statistics.median(times)


async def _bare(base_url: str, questions: list[str], jobs: int) -> None:
    import httpx

    limit = asyncio.Semaphore(jobs)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=httpx.Limits(max_connections=jobs)) as client:

        async def ask(question: str) -> None:
            async with limit:
                body = {"model": "scripted", "messages": [{"role": "user", "content": question}], "temperature": 0}
                response = await client.post("/chat/completions", json=body)
                response.raise_for_status()
                response.json()["choices"][0]["message"]["content"]

        await asyncio.gather(*(ask(q) for q in questions))


def big_bench(python: str, n: int, jobs: int, tmp: Path) -> dict[str, float]:
    """An N-sample direct bench at -j JOBS (a whole process) and a bare client, against a 100 ms endpoint."""
    data = tmp / "many.jsonl"
    questions = [f"What is {i} + {i % 7}?" for i in range(n)]
    data.write_text("".join(json.dumps({"id": str(i), "question": q, "answer": str(i + i % 7)}) + "\n"
                            for i, q in enumerate(questions)))  # fmt: skip
    stub = subprocess.Popen(
        [sys.executable, "-m", "solvegraph.testing._scripted", "--reply", "ANSWER: 1", "--delay", "0.1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stub.stdout is not None
        base_url = stub.stdout.readline().strip()
        started = time.perf_counter()
        asyncio.run(_bare(base_url, questions, jobs))
        bare = time.perf_counter() - started
        cmd = [python, "-m", "solvegraph.cli", "bench", "jsonl", "--data", str(data), "--question-field", "question",
               "--answer-field", "answer", "--strategy", "direct", "-j", str(jobs), "--base-url", base_url,
               "--db", f"sqlite:///{tmp}/many.sqlite", "--json", "--sandbox", "none"]  # fmt: skip
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, env=_env())
        bench = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"bench failed: {proc.stderr.decode()[-2000:]}")
        summary = json.loads(proc.stdout.decode().strip().splitlines()[-1])
        assert summary["n"] == n, summary["n"]
    finally:
        stub.terminate()
        stub.wait()
    return {"bench_s": bench, "bare_s": bare, "ideal_s": n * 0.1 / jobs, "ratio": bench / bare}


def compile_package(python: str) -> None:
    """Write solvegraph's .pyc files first, as installing a wheel does.

    The runs themselves write none (PYTHONDONTWRITEBYTECODE), so a checkout whose bytecode is missing or
    stale (an editable install used with PYTHONDONTWRITEBYTECODE=1, or files just edited) would otherwise
    compile the same modules again in every measured process.
    """
    where = subprocess.run(
        [python, "-c", "import os, solvegraph; print(os.path.dirname(solvegraph.__file__))"],
        capture_output=True, text=True, check=True, env=_env(),
    ).stdout.strip()  # fmt: skip
    subprocess.run([python, "-m", "compileall", "-q", "-j", "0", where], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--python", default=sys.executable, help="the interpreter whose solvegraph is measured")
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--jobs", type=int, default=32)
    parser.add_argument("--skip-800", action="store_true", help="leave out the long N-sample run")
    args = parser.parse_args()
    py, runs = args.python, args.runs
    compile_package(py)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        out: dict[str, object] = {
            "python -c pass": wall([py, "-c", "pass"], runs),
            "solvegraph --help": wall([py, "-m", "solvegraph.cli", "--help"], runs),
            "solvegraph --version": wall([py, "-m", "solvegraph.cli", "--version"], runs),
            "solve: to first model request": to_first_request(py, runs, tmp),
            "solve --no-memory: to first model request": to_first_request(py, runs, tmp, "--no-memory"),
            "bench, 10 samples, zero-delay model": small_bench(py, runs, tmp),
        }
        if not args.skip_800:
            out[f"bench, {args.n} direct samples, -j {args.jobs}, 100 ms model"] = big_bench(py, args.n, args.jobs, tmp)
    print(f"python: {py}; median of {runs} processes; load average {os.getloadavg()[0]:.1f}")
    for name, value in out.items():
        if isinstance(value, dict):
            print(f"{name}: bench {value['bench_s']:.2f} s, bare client {value['bare_s']:.2f} s "
                  f"(ideal {value['ideal_s']:.2f} s): {value['ratio']:.2f}x")  # fmt: skip
        else:
            print(f"{name}: {value:.3f} s")


if __name__ == "__main__":
    main()
