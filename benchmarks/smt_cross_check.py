"""What the smt certificate's re-check adds to an answer: cvc5 against the Z3 solve, in one run.

    python benchmarks/smt_cross_check.py [--repeat 5]

Two instances from formal_latency.py: random 3-SAT (250 variables, 1000 clauses: sat, a model to check)
and pigeonhole (unsat, a core to re-solve). For each, the median over ``repeat`` runs of

- Z3's solve inside the tool (the worker's own ``solve_time``),
- cvc5's check of the certificate (``certify._cvc5`` on the same script, in this process),
- Z3's check of the certificate (``certify._z3``),
- the whole fresh-worker re-check the tool now does after every answer (start a sandboxed worker,
  import Z3 and cvc5, run both checks), against the whole tool call.

The ratios are against the Z3 solve of the same instance, on the same machine, in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from formal_latency import pigeonhole, random_3sat

from solvegraph.plugins import ToolSession
from solvegraph.sandbox import SOLVER_STACK_MB, Limits, resolve_sandbox
from solvegraph.sandbox._worker import SandboxWorker
from solvegraph.tools.smt.certify import _cvc5, _read, _z3
from solvegraph.tools.smt.host import CHECK, smt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pigeons", type=int, default=7)
    args = parser.parse_args()
    for label, (decls, assertions) in [
        ("3-SAT 250 vars", random_3sat()),
        (f"pigeonhole {args.pigeons}", pigeonhole(args.pigeons)),
    ]:
        solve, cvc5_s, z3_s, recheck, call = [], [], [], [], []
        with ToolSession() as session:
            for _ in range(args.repeat + 1):  # the first is a warm-up (worker start, imports)
                started = time.perf_counter()
                r = smt.run({"declarations": decls, "assertions": assertions, "timeout": 120}, session)
                call_s = time.perf_counter() - started
                certificate = r.data["certificate"]
                status, declarations, kept, _ = _read(certificate)
                script = [*declarations, *(f"(assert {body})" for body, _ in kept)]
                t0 = time.perf_counter()
                assert _cvc5(script, 120)[0] == status
                t1 = time.perf_counter()
                assert _z3(script, 120)[0] == status
                t2 = time.perf_counter()
                worker = SandboxWorker(
                    resolve_sandbox(session.sandbox), [CHECK], Limits(memory_mb=2048, stack_mb=SOLVER_STACK_MB)
                )
                try:
                    kind, lines = worker.call(CHECK, certificate, {}, deadline_s=240)
                finally:
                    worker.close()
                t3 = time.perf_counter()
                assert kind == "ok" and all(line["outcome"] == "passed" for line in lines), lines
                solve.append(r.data["solve_time"])
                cvc5_s.append(t1 - t0)
                z3_s.append(t2 - t1)
                recheck.append(t3 - t2)
                call.append(call_s)
        m = {
            k: statistics.median(v[1:])
            for k, v in [("solve", solve), ("cvc5", cvc5_s), ("z3", z3_s), ("recheck", recheck), ("call", call)]
        }
        print(
            f"{label} ({status}): z3 solve {m['solve'] * 1000:.1f} ms; cvc5 check {m['cvc5'] * 1000:.1f} ms "
            f"({m['cvc5'] / m['solve']:.2f}x); z3 check {m['z3'] * 1000:.1f} ms ({m['z3'] / m['solve']:.2f}x); "
            f"fresh-worker re-check {m['recheck'] * 1000:.0f} ms of a {m['call'] * 1000:.0f} ms tool call "
            f"(median of {args.repeat})"
        )


if __name__ == "__main__":
    main()
