"""Tracing off vs on: the cost per graph step of OpenTelemetry spans, in one run.

    python benchmarks/tracing_overhead.py [--problems 40]

The same solves (planner → solver with a python call → solver → verifier → finish, against the
scripted model on loopback and a real kernel) run alternately with tracing off (the baseline) and on
(the official SDK's tracer provider with an in-memory exporter, so the figure is the spans' own cost
and not a network's). Reports the median wall time per solve of each and the difference per step.
"""

from __future__ import annotations

import argparse
import statistics
import time

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from solvegraph import tracing
from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.plugins import ToolSession
from solvegraph.testing import ScriptedModel

SCRIPT = {
    "planner": ["1. multiply in python"],
    "solver": [{"tool_calls": [{"name": "python", "arguments": {"code": "print(6 * 7)"}}]}, "ANSWER: 42"],
    "verifier": ["VERDICT: ACCEPT"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=40)
    args = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    steps = spans = 0
    exporter = InMemorySpanExporter()
    with ToolSession() as session:  # one warm kernel: the kernel's own time is not what is measured
        for i in range(2 * args.problems + 2):
            on = i % 2 == 1
            if on:
                tracing.enable(exporter=exporter)
            with ScriptedModel(SCRIPT) as model:
                runner = SolveRunner(ModelClient(model.base_url, model="scripted"))
                started = time.perf_counter()
                t = runner.solve("What is 6 * 7?", session=session)
                took = time.perf_counter() - started
            tracing.disable()
            if i >= 2:  # the first pair warms imports and the kernel
                times[on].append(took)
                steps = len(t.steps)
    spans = len(exporter.get_finished_spans()) // (args.problems + 1)
    off, on_ = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"{args.problems} solves each, {steps} steps and {spans} spans a solve: tracing off {off * 1000:.1f} ms, "
        f"on {on_ * 1000:.1f} ms a solve; added {(on_ - off) * 1000 / steps:.2f} ms a step ({on_ / off:.3f}x)"
    )


if __name__ == "__main__":
    main()
