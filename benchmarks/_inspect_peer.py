"""The peer in bench_throughput.py: Inspect AI over the same GSM8K problems, endpoint and concurrency.

    python benchmarks/_inspect_peer.py BASE_URL DATA N JOBS

A direct-answer task (``generate()``, no tools, one call per sample), scored by matching the number
after "ANSWER:". Prints one JSON line: wall time of ``eval()`` and the process's CPU during it. Inspect
AI is a benchmark-only dependency (``pip install inspect-ai``), never a runtime one.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time


def main() -> None:
    base_url, data, n, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    os.environ.setdefault("STUB_API_KEY", "sk-no-key")
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import pattern
    from inspect_ai.solver import generate, system_message

    samples = []
    with open(data, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= n:
                break
            row = json.loads(line)
            samples.append(Sample(input=row["question"], target=row["answer"].split("####")[-1].strip(), id=i))
    task = Task(
        dataset=samples,
        solver=[system_message("Answer the question. End with a line 'ANSWER: <number>'."), generate()],
        scorer=pattern(r"ANSWER:\s*([-\d.,]+)"),
    )
    with tempfile.TemporaryDirectory() as logs:
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        (log,) = eval(
            task,
            model="openai-api/stub/scripted",
            model_base_url=base_url,
            max_connections=jobs,
            max_samples=jobs,
            display="none",
            log_dir=logs,
            log_samples=True,
        )
        wall = time.perf_counter() - started
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        status, done = log.status, len(log.samples or [])  # read while the log file is still there
    cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "status": status, "n": done}))


if __name__ == "__main__":
    main()
