"""``solvegraph verify`` on a MILP certificate against the solve that issued it, in one run.

    python benchmarks/verify_certificate.py [--repeat 3] [--sources 40 --sinks 60] [--infeasible]

1. The original solve: a transportation MILP (integer flows, ``sources * sinks`` variables) through the
   milp tool from its JSON model, in a fresh ToolSession (its sandboxed SCIP worker starts cold, as in a
   solve), then the verifier's review, which issues the certificate.
2. The re-check in-process: :func:`solvegraph.plugins._certify.verify_all` (validate, a fresh sandboxed
   worker, the checker: read the CIP file, bounds, constraints twice, objective, a re-solve for
   optimality).
3. The whole command: ``solvegraph verify CERT.json`` as a subprocess (interpreter start and imports too).

With ``--infeasible`` the demand exceeds the supply by one unit per sink: the solve proves infeasibility and
makes its IIS irreducible (a deletion filter, one solve per constraint), the review issues the certificate of
the answer "infeasible", and verify re-solves the IIS alone (SCIP, HiGHS) and checks irreducibility (one
solve per member, up to 50 members).

Ratios are against the original solve's time in the same run (medians over ``--repeat``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.plugins._certify import verify_all
from solvegraph.tools.optimization._results import review
from solvegraph.tools.optimization.milp.host import milp


def transport(n_src: int, n_dst: int, seed: int = 1, infeasible: bool = False) -> dict:
    rng = random.Random(seed)
    supply = [rng.randint(50, 100) for _ in range(n_src)]
    demand = [sum(supply) // n_dst + (1 if infeasible else -1)] * n_dst
    cost = [[rng.randint(1, 60) for _ in range(n_dst)] for _ in range(n_src)]
    variables = [{"name": f"x_{i}_{j}", "type": "integer", "lb": 0} for i in range(n_src) for j in range(n_dst)]
    constraints = [
        {"name": f"supply_{i}", "coeffs": {f"x_{i}_{j}": 1 for j in range(n_dst)}, "sense": "<=", "rhs": supply[i]}
        for i in range(n_src)
    ]
    constraints += [
        {"name": f"demand_{j}", "coeffs": {f"x_{i}_{j}": 1 for i in range(n_src)}, "sense": ">=", "rhs": demand[j]}
        for j in range(n_dst)
    ]
    objective = {"sense": "minimize", "coeffs": {f"x_{i}_{j}": cost[i][j] for i in range(n_src) for j in range(n_dst)}}
    return {"variables": variables, "constraints": constraints, "objective": objective}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sources", type=int, default=40)
    parser.add_argument("--sinks", type=int, default=60)
    parser.add_argument("--infeasible", action="store_true", help="demand exceeds supply: certify 'infeasible'")
    args = parser.parse_args()
    model = transport(args.sources, args.sinks, infeasible=args.infeasible)
    answer = "infeasible" if args.infeasible else None
    checkers = PluginManager().certificate_checkers()
    solve_s, core_s, cli_s = [], [], []
    certificate: dict = {}
    for _ in range(args.repeat):
        session = ToolSession()
        started = time.perf_counter()
        result = milp.run({"model": model, "time_limit": 120}, session)
        said = review("milp", {"model": model}, result.data, "milp", answer=answer)
        solve_s.append(time.perf_counter() - started)
        session.close()
        assert said is not None and said.get("accepted") and said.get("certificate"), said
        certificate = said["certificate"]
        started = time.perf_counter()
        (report,) = verify_all([("bench", certificate)], checkers)
        core_s.append(time.perf_counter() - started)
        assert report.outcome == "verified", report
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "cert.json"
            path.write_text(json.dumps(certificate))
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "solvegraph.cli", "verify", str(path)], capture_output=True)
            cli_s.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stdout + done.stderr
    size = sum(len(t) for t in certificate["artifacts"].values())
    solve, core, cli = (statistics.median(x) for x in (solve_s, core_s, cli_s))
    n = args.sources * args.sinks
    what = f"infeasible, IIS of {len(certificate['claim']['iis'])}" if args.infeasible else "feasible"
    print(f"transportation MILP ({what}): {n} integer variables, {args.sources + args.sinks} constraints; "
          f"certificate artifacts {size / 1e6:.2f} MB (model.cip, model.mps, model.json)")  # fmt: skip
    print(f"original solve (tool + review, cold worker): {solve:.3f} s")
    print(f"verify, in-process core (fresh sandboxed checker): {core:.3f} s  ratio {core / solve:.2f}x")
    print(f"verify, whole command (subprocess):             {cli:.3f} s  ratio {cli / solve:.2f}x")


if __name__ == "__main__":
    main()
