"""The cross-check's added time per answer: a milp/cp solve alone against the same solve + cross-check.

    python benchmarks/cross_check.py [--repeat 5] [--sandbox auto|gvisor|bwrap|none]

After a solve that found a solution, the tool runs the independent routes (exact rationals, and HiGHS for
milp or SCIP for cp) in a fresh sandboxed worker. Both figures are the whole tool call (the solve's
worker is warm: started once outside the figures), median of ``--repeat``, in one run; the ratio is
solve + cross-check over solve alone. Most of the difference at small sizes is the fresh process's start.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from solvegraph.plugins import Tool, ToolSession
from solvegraph.tools.optimization.cp.host import cp
from solvegraph.tools.optimization.milp.host import milp


def knapsack(n: int, rows: int, kind: str = "binary") -> dict[str, Any]:
    """``n`` variables, ``rows`` random capacity rows, a random objective to maximise."""
    rng = random.Random(7)
    ub = {"binary": None, "continuous": 1, "integer": 3}[kind]
    variables = [{"name": f"x{i}", "type": kind, **({"lb": 0, "ub": ub} if ub else {})} for i in range(n)]
    constraints = [
        {"name": f"cap{k}", "coeffs": {f"x{i}": rng.randint(5, 40) for i in range(n)}, "sense": "<=", "rhs": n * 8}
        for k in range(rows)
    ]
    objective = {"sense": "maximize", "coeffs": {f"x{i}": rng.randint(1, 30) for i in range(n)}}
    return {"variables": variables, "constraints": constraints, "objective": objective}


def median_s(tool: Tool, model: dict[str, Any], session: ToolSession, repeat: int) -> tuple[float, Any]:
    times, last = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        last = tool.run({"model": model, "time_limit": 60}, session)
        times.append(time.perf_counter() - started)
        assert last.ok, last.error
    return statistics.median(times), last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    cases = [
        ("milp", "LP, 50 variables x 10 rows", milp, knapsack(50, 10, "continuous")),
        ("milp", "MILP, 30 binaries x 4 rows", milp, knapsack(30, 4)),
        ("milp", "MILP, 200 binaries x 20 rows", milp, knapsack(200, 20)),
        ("cp", "CP, 30 integers x 4 rows", cp, knapsack(30, 4, "integer")),
    ]
    off = ToolSession(options={"sandbox": args.sandbox, "tools": {"milp": {"cross_check": False},
                                                                  "cp": {"cross_check": False}}})  # fmt: skip
    on = ToolSession(options={"sandbox": args.sandbox})
    with off, on:
        for tool_name, label, tool, model in cases:
            for session in (off, on):  # each solver's worker started outside the figures
                tool.run({"model": model}, session)
            alone_s, alone = median_s(tool, model, off, args.repeat)
            both_s, both = median_s(tool, model, on, args.repeat)
            assert "cross_check" not in alone.data and both.data["cross_check"]["agreed"], both.data.get("cross_check")
            row = {"tool": tool_name, "model": label, "solve_ms": alone_s * 1000, "with_cross_check_ms": both_s * 1000,
                   "ratio": both_s / alone_s, "agreed": both.data["cross_check"]["agreed"]}  # fmt: skip
            print(json.dumps(row))
            print(f"{label}: solve {alone_s * 1000:.0f} ms, + cross-check {both_s * 1000:.0f} ms "
                  f"({row['ratio']:.2f}x, +{(both_s - alone_s) * 1000:.0f} ms)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
