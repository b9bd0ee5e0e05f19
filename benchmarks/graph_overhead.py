"""Graph overhead per step with the scripted model: time outside the model and the tools.

    python benchmarks/graph_overhead.py [--problems 30]

Each solve runs planner → solver (code) → solver (answer) → verifier against the
scripted OpenAI-compatible server on loopback and a real kernel. Overhead per step
is (wall time − model time − tool time) / steps, where model time is the openai
client's whole round trip. As a same-run baseline, the identical sequence of model
and tool calls is made by a plain loop without LangGraph; the difference between
the two is what the graph itself costs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.memory import Store, open_checkpointer
from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.testing import ScriptedModel
from solvegraph.tools.python import default_pool

SCRIPT = {
    "planner": ["1. multiply in python"],
    "solver": lambda body: (
        "ANSWER: 42"
        if any(m["role"] == "user" and m["content"].startswith("The code ran") for m in body["messages"])
        else "```python\nprint(6*7)\n```"
    ),
    "verifier": ["VERDICT: ACCEPT"],
}


def graph_run(graph: SolveRunner) -> tuple[float, float, int]:
    started = time.perf_counter()
    t = graph.solve("What is 6*7?")
    wall = time.perf_counter() - started
    inside = sum(s.timings.get("model_s", 0) + s.timings.get("tool_s", 0) for s in t.steps)
    assert t.solved, t.to_json()
    return wall, inside, len(t.steps)


def plain_run(client: ModelClient, tool) -> tuple[float, float, int]:
    """The same four model calls and one tool call, with no graph, state or trajectory."""
    started = time.perf_counter()
    inside = 0.0
    with ToolSession() as session:
        for messages in (
            [{"role": "system", "content": "You are the solvegraph planner."}],
            [{"role": "system", "content": "You are the solvegraph solver."}],
        ):
            reply = client.chat([*messages, {"role": "user", "content": "What is 6*7?"}])
            inside += reply.duration_s
        result = tool.run({"code": "print(6*7)"}, session)
        inside += result.duration_s
        for messages in (
            [
                {"role": "system", "content": "You are the solvegraph solver."},
                {"role": "user", "content": "The code ran. 42"},
            ],
            [{"role": "system", "content": "You are the solvegraph verifier."}],
        ):
            reply = client.chat(messages)
            inside += reply.duration_s
    return time.perf_counter() - started, inside, 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", type=int, default=30)
    args = parser.parse_args()
    plugins = PluginManager()
    default_pool().warm()
    with ScriptedModel({k: v if isinstance(v, list) else [v] for k, v in SCRIPT.items()}) as model:
        client = ModelClient(model.base_url)
        graph = SolveRunner(client, plugins)
        # The same graph with checkpoints in a SQLite file, as solve and chat run it (the saver on the store's file).
        folder = tempfile.mkdtemp(prefix="sg-bench-ckpt-")
        saver = open_checkpointer(Store(f"sqlite:///{folder}/memory.sqlite"))
        checkpointed = SolveRunner(client, plugins, checkpointer=saver)
        graph_run(graph)  # warm up imports and the kernel
        graph_run(checkpointed)
        tool = plugins.tools()["python"]
        g, p, c = [], [], []
        for _ in range(args.problems):
            wall, inside, steps = graph_run(graph)
            g.append((wall - inside) / steps)
            wall, inside, steps = plain_run(client, tool)
            p.append((wall - inside) / steps)
            wall, inside, steps = graph_run(checkpointed)
            c.append((wall - inside) / steps)
    gm, pm, cm = statistics.median(g), statistics.median(p), statistics.median(c)
    print(
        f"overhead per step: graph {gm * 1000:.2f} ms, plain loop {pm * 1000:.2f} ms, "
        f"graph-only cost {(gm - pm) * 1000:.2f} ms/step; with SQLite checkpoints {cm * 1000:.2f} ms "
        f"(checkpointer cost {(cm - gm) * 1000:.2f} ms/step)"
    )
    print(
        json.dumps(
            {
                "graph_overhead_ms_per_step": gm * 1000,
                "plain_loop_overhead_ms_per_step": pm * 1000,
                "ratio": gm / pm if pm else None,
                "checkpointed_overhead_ms_per_step": cm * 1000,
                "checkpointer_cost_ms_per_step": (cm - gm) * 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
