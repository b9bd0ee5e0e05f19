"""``bench --epochs K --strategy direct``: a problem's K epochs drawn in one request with ``n``, against K requests.

    python benchmarks/epochs_n.py [--problems 48] [--epochs 8] [--jobs 8] [--delay 0.1]

The scripted endpoint (in this process, on loopback) answers each request after DELAY seconds, once with
``n`` support and once ignoring ``n`` (as llama.cpp's server does: one choice a request, the baseline).
Reported for both: HTTP requests made, wall time, prompt tokens counted. The stub's delay is per request,
not per choice: the saving measured is the per-request share of a real endpoint's cost (queueing, the
round trip, prefilling the prompt), while decoding K completions still costs K times on a real server.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from solvegraph.bench.runner import BenchConfig, BenchRunner
from solvegraph.config import load_settings
from solvegraph.memory import Store
from solvegraph.testing import ScriptedModel


def run(data: Path, problems: int, epochs: int, jobs: int, delay: float, supports_n: bool) -> dict:
    with ScriptedModel({"default": ["ANSWER: 7"]}, delay_s=delay, supports_n=supports_n) as model:
        settings = load_settings(flags={"base_url": model.base_url}, env={})
        store = Store(f"sqlite:///{data.parent / f'n{supports_n}.sqlite'}")
        config = BenchConfig(
            dataset="jsonl", data=str(data), question_fields=["q"], answer_field="a", strategy="direct",
            epochs=epochs, jobs=jobs, limit=problems,
        )  # fmt: skip
        runner = BenchRunner(config, settings, store)
        samples = runner.prepare()
        started = time.perf_counter()
        runner.run(samples)
        wall = time.perf_counter() - started
        requests = model.http_requests
    rows = store.results(runner.run_id or "")
    prompt = sum(store.load(r["trajectory"]).usage.prompt_tokens for r in rows)
    return {"samples": len(rows), "requests": requests, "wall_s": wall, "prompt_tokens": prompt}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--problems", type=int, default=48)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "problems.jsonl"
        data.write_text(
            "".join(json.dumps({"q": f"What is {i} + 7 - {i}?", "a": 7}) + "\n" for i in range(args.problems))
        )
        one = run(data, args.problems, args.epochs, args.jobs, args.delay, supports_n=True)
        each = run(data, args.problems, args.epochs, args.jobs, args.delay, supports_n=False)
    for name, r in (("n in one request", one), ("K requests (baseline)", each)):
        print(f"{name:24} {r['samples']} samples, {r['requests']} requests, {r['wall_s']:.2f} s, "
              f"{r['prompt_tokens']} prompt tokens")  # fmt: skip
    print(
        f"requests {each['requests'] / one['requests']:.1f}x fewer, wall time {each['wall_s'] / one['wall_s']:.1f}x "
        f"shorter, prompt tokens {each['prompt_tokens'] / max(1, one['prompt_tokens']):.1f}x fewer"
    )


if __name__ == "__main__":
    main()
