"""A memory writer process for the concurrency and crash tests: trajectories step by step."""

from __future__ import annotations

import sys
import time

from solvegraph.memory import Step, Store, Trajectory, Usage


def main() -> None:
    url, name, count, steps, delay = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    store = Store(url)
    run = store.start_run("bench", model="writer", dataset=name)
    for i in range(count):
        t = Trajectory(problem=f"{name} problem {i}: how many widgets does worker {name} make?", model="writer")
        store.begin(t, run, sample_id=f"{name}-{i}")
        for k in range(steps):
            step = Step(
                agent="solver",
                round=1,
                reply=f"step {k}",
                usage=Usage(10, 5, 1),
                tool_calls=[{"id": str(k), "name": "python", "arguments": {"code": f"print({k})"}}],
                tool_results=[{"id": str(k), "ok": True, "output": str(k)}],
            )
            t.steps.append(step)
            store.add_step(t.id, k, step)
            print(f"committed {t.id} {k}", flush=True)  # printed only after the commit returned
            if delay:
                time.sleep(delay)
        t.status, t.solved, t.answer, t.finished_at = "solved", True, str(i), time.time()
        t.reusable = True
        store.finish(t)
    print("done", flush=True)


if __name__ == "__main__":
    main()
