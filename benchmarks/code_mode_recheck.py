"""milp code mode: the re-check outside the kernel against the in-kernel read-back it replaced, in one run.

    python benchmarks/code_mode_recheck.py [--repeat 10] [--sandbox auto|gvisor|bwrap|none]

Before issue 29 the host sent a cell after the model's pyscipopt code that read the model and the solution
back *in the model's kernel* (``_scip._attach_model`` and ``_solution``, as ``OLD_READ_BACK`` below). Now
the kernel only writes the model file (SCIP's CIP writer) and the claimed solution, and a fresh sandboxed
SCIP worker reads the file, solves it again and gives the evidence. Both routes run the same model code
in the same session's kernel; the figure is the whole tool call, median of ``--repeat``, and the ratio.
Most of the difference is the fresh process's start, which depends on the sandbox backend (``--sandbox``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from solvegraph.plugins import ToolResult, ToolSession
from solvegraph.tools.optimization._results import code_mode
from solvegraph.tools.optimization.milp.host import milp

OLD_READ_BACK = """
import json as _sg_json
from pyscipopt import Model as _sg_Model
from solvegraph.tools.optimization.milp._scip import _STATUS, _attach_model, _solution
def _sg_old(scip):
    status = _STATUS.get(scip.getStatus(), scip.getStatus())
    out = {"status": status, "objective": None, "values": {}, "gap": None, "solve_time": scip.getSolvingTime()}
    _attach_model(out, scip)
    out.update(_solution(scip, status))
    return out
print(_sg_json.dumps(_sg_old(model)))
"""

TINY = """
from pyscipopt import Model
model = Model()
model.hideOutput()
x = model.addVar("x", vtype="I", ub=10)
y = model.addVar("y", vtype="C")
model.addCons(x + y >= 7.5, name="need")
model.addCons(y <= 2, name="ycap")
model.setObjective(3 * x + y, "minimize")
model.optimize()
"""


def knapsack(n: int, rows: int) -> str:
    """A multi-row 0/1 knapsack: ``n`` binaries, ``rows`` capacity rows (the CIP file stays under the
    kernel's 20,000-character output cap, which bounds both routes alike)."""
    return f"""
import random
from pyscipopt import Model, quicksum
rng = random.Random(3)
model = Model()
model.hideOutput()
xs = [model.addVar(f"x{{i}}", vtype="B") for i in range({n})]
for k in range({rows}):
    model.addCons(quicksum(rng.randint(5, 40) * x for x in xs) <= {n} * 8, name=f"cap{{k}}")
model.setObjective(quicksum(rng.randint(1, 30) * x for x in xs), "maximize")
model.optimize()
"""


def timed(fn: Callable[[], ToolResult], repeat: int) -> tuple[float, ToolResult]:
    times, last = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        last = fn()
        times.append(time.perf_counter() - started)
        assert last.ok, last.error
    assert last is not None
    return statistics.median(times), last


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    rows = []
    # Without the cross-check (benchmarks/cross_check.py measures it): the re-check's own cost, as before.
    options = {"sandbox": args.sandbox, "tools": {"milp": {"cross_check": False}}}
    with ToolSession(options=options) as session:
        milp.run({"code": TINY}, session)  # the kernel is started once, outside the figures
        for name, code in (("2 variables, 2 rows", TINY), ("60 binaries, 4 rows", knapsack(60, 4))):
            old_s, old = timed(
                lambda code=code: code_mode(
                    session, code, OLD_READ_BACK, "model", "pyscipopt Model", kind="milp", time_limit=60
                ),
                args.repeat,
            )
            new_s, new = timed(lambda code=code: milp.run({"code": code}, session), args.repeat)
            assert old.data["objective"] == new.data["objective"], (old.data["objective"], new.data["objective"])
            rows.append({"model": name, "in_kernel_ms": old_s * 1000, "fresh_worker_ms": new_s * 1000,
                         "ratio": new_s / old_s})  # fmt: skip
    for row in rows:
        print(json.dumps(row))
        print(f"{row['model']}: in-kernel read-back {row['in_kernel_ms']:.0f} ms, re-check in a fresh worker "
              f"{row['fresh_worker_ms']:.0f} ms ({row['ratio']:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
