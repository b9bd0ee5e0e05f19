"""The milp tool against pyscipopt called directly, on the same models, in one run.

    python benchmarks/milp_overhead.py [--repeat 5]

1. Solve overhead: a model SCIP solves in about 0.25 s (a small facility location), a
   transportation MILP with >= 10k nonzeros that SCIP solves in a fraction of that, and the
   10k-nonzero facility location, solved (a) through the tool from the JSON format
   (validation, build, solve, read-back, rendering) and (b) by hand-written pyscipopt code
   building the same model. Target: <= 5% (``--repeat-hard 0`` skips the slow model).
2. Build time: a 100k-nonzero model from JSON (validate + build, no solve), against
   the same build written directly in pyscipopt. Target: <= 1 s. Also the same
   transportation model written with sets, parameters and expression strings.
3. The out-of-process solve's fixed cost: a one-variable model solved in-process
   (``solve_declarative``), through the tool with a warm sandboxed worker, and with a
   cold one (a new session: the worker starts, imports pyscipopt, then solves).

The tool runs in one ToolSession per model, as the agent does (one session per problem),
so its sandboxed solver worker is started once and reused.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from pyscipopt import Model, quicksum
from pyscipopt.scip import Expr

from solvegraph.plugins import ToolSession
from solvegraph.tools.optimization.milp.host import milp
from solvegraph.tools.optimization.milp.worker import build_scip, solve_declarative
from solvegraph.tools.optimization.model import parse_model


def transport(n_src: int, n_dst: int, seed: int = 1) -> dict:
    rng = random.Random(seed)
    supply = [rng.randint(50, 100) for _ in range(n_src)]
    total = sum(supply)
    demand = [total // n_dst - 1] * n_dst
    cost = [[rng.randint(1, 60) for _ in range(n_dst)] for _ in range(n_src)]
    variables = [{"name": f"x_{i}_{j}", "type": "integer"} for i in range(n_src) for j in range(n_dst)]
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


def facility(n_fac: int = 20, n_cust: int = 260, seed: int = 3) -> dict:
    """Capacitated facility location: binary openings, fractional assignment. ~13 s for SCIP here."""
    rng = random.Random(seed)
    d = [rng.randint(5, 35) for _ in range(n_cust)]
    cap = [rng.randint(300, 700) for _ in range(n_fac)]
    fixed = [rng.randint(2000, 4000) for _ in range(n_fac)]
    cost = [[rng.randint(1, 100) for _ in range(n_fac)] for _ in range(n_cust)]
    variables = [{"name": f"y{j}", "type": "binary"} for j in range(n_fac)]
    variables += [{"name": f"x{i}_{j}", "type": "continuous", "ub": 1} for i in range(n_cust) for j in range(n_fac)]
    constraints = [
        {"name": f"assign{i}", "coeffs": {f"x{i}_{j}": 1 for j in range(n_fac)}, "sense": "=", "rhs": 1}
        for i in range(n_cust)
    ]
    constraints += [
        {
            "name": f"cap{j}",
            "coeffs": {**{f"x{i}_{j}": d[i] for i in range(n_cust)}, f"y{j}": -cap[j]},
            "sense": "<=",
            "rhs": 0,
        }
        for j in range(n_fac)
    ]
    objective = {
        "sense": "minimize",
        "coeffs": {
            **{f"y{j}": fixed[j] for j in range(n_fac)},
            **{f"x{i}_{j}": cost[i][j] * d[i] for i in range(n_cust) for j in range(n_fac)},
        },
    }
    return {"variables": variables, "constraints": constraints, "objective": objective}


def direct_build(data: dict) -> tuple[Model, dict]:
    """The same SCIP model written by hand in pyscipopt, with the same calls in the same order.

    Building it identically matters: SCIP's search depends on insertion order, and a
    differently built model can take a different (longer or shorter) path, which would
    swamp the tool's own cost. ``quicksum_build`` is the textbook alternative.
    """
    m = Model()
    m.hideOutput()
    codes = {"integer": "I", "binary": "B", "continuous": "C"}
    obj = data["objective"]["coeffs"]
    xs = {
        v["name"]: m.addVar(v["name"], vtype=codes[v["type"]], lb=0, ub=v.get("ub"), obj=obj.get(v["name"], 0.0))
        for v in data["variables"]
    }
    for c in data["constraints"]:
        e = Expr()
        row = e <= c["rhs"] if c["sense"] == "<=" else e >= c["rhs"] if c["sense"] == ">=" else e == c["rhs"]
        cons = m.addCons(row, name=c["name"])
        for n, k in c["coeffs"].items():
            m.addConsCoeff(cons, xs[n], k)
    m.setMinimize()
    return m, xs


def quicksum_build(data: dict) -> tuple[Model, dict]:
    """The textbook pyscipopt way (expressions with quicksum), for the build-time comparison."""
    m = Model()
    m.hideOutput()
    codes = {"integer": "I", "binary": "B", "continuous": "C"}
    xs = {v["name"]: m.addVar(v["name"], vtype=codes[v["type"]], lb=0, ub=v.get("ub")) for v in data["variables"]}
    for c in data["constraints"]:
        e = quicksum(k * xs[n] for n, k in c["coeffs"].items())
        cons = e <= c["rhs"] if c["sense"] == "<=" else e >= c["rhs"] if c["sense"] == ">=" else e == c["rhs"]
        m.addCons(cons, name=c["name"])
    m.setObjective(quicksum(k * xs[n] for n, k in data["objective"]["coeffs"].items()), "minimize")
    return m, xs


def sparse(n_vars: int = 10_000, n_cons: int = 200, per_row: int = 500, seed: int = 2) -> dict:
    rng = random.Random(seed)
    variables = [{"name": f"v{i}", "type": "integer", "ub": 10} for i in range(n_vars)]
    constraints = [
        {
            "name": f"r{k}",
            "coeffs": {f"v{i}": rng.randint(1, 9) for i in rng.sample(range(n_vars), per_row)},
            "sense": "<=",
            "rhs": 1000,
        }
        for k in range(n_cons)
    ]
    objective = {"sense": "minimize", "coeffs": {f"v{i}": -rng.randint(1, 5) for i in range(n_vars)}}
    return {"variables": variables, "constraints": constraints, "objective": objective}


def direct_solve(data: dict) -> float:
    started = time.perf_counter()
    m, xs = direct_build(data)
    m.optimize()
    sol = m.getBestSol()
    _ = {n: m.getSolVal(sol, x) for n, x in xs.items()}, m.getSolObjVal(sol)
    return time.perf_counter() - started


def indexed_transport(n_src: int, n_dst: int, seed: int = 1) -> dict:
    """``transport`` as an LLM writes it: sets, parameters and expression strings."""
    plain = transport(n_src, n_dst, seed)
    cost = plain["objective"]["coeffs"]
    return {
        "sets": {"S": n_src, "D": n_dst},
        "parameters": {
            "supply": [c["rhs"] for c in plain["constraints"][:n_src]],
            "demand": [c["rhs"] for c in plain["constraints"][n_src:]],
            "cost": [[cost[f"x_{i}_{j}"] for j in range(n_dst)] for i in range(n_src)],
        },
        "variables": [{"name": "x", "index": ["S", "D"], "type": "integer"}],
        "constraints": [
            {"name": "supply", "for": "i in S", "expr": "sum(x[i,j] for j in D) <= supply[i]"},
            {"name": "demand", "for": "j in D", "expr": "sum(x[i,j] for i in S) >= demand[j]"},
        ],
        "objective": {"sense": "minimize", "expr": "sum(cost[i][j] * x[i,j] for i in S for j in D)"},
    }


def tool_solve(data: dict, session: ToolSession | None = None) -> float:
    started = time.perf_counter()
    result = milp.run({"model": data}, session)
    assert result.ok and result.data["status"] == "optimal", result.error
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--repeat-hard", type=int, default=2, help="repeats of the ~13 s facility-location solve")
    args = parser.parse_args()
    out = {}

    for label, model, repeat in [
        ("small facility-location MILP (11 x 55, about 0.25 s)", facility(11, 55), args.repeat),
        ("easy transportation MILP (100 x 60)", transport(100, 60), args.repeat),
        ("facility-location MILP (20 x 260)", facility(), args.repeat_hard),
    ]:
        if not repeat:
            continue
        nnz = parse_model(model).nonzeros
        direct, tool = [], []
        with ToolSession() as session:
            tool_solve(model, session)  # start the session's sandboxed worker (its cost is part 3)
            for _ in range(repeat):  # interleaved, so drift hits both sides alike
                direct.append(direct_solve(model))
                tool.append(tool_solve(model, session))
        d, t = statistics.median(direct), statistics.median(tool)
        out[label] = {"nonzeros": nnz, "direct_s": d, "tool_s": t, "overhead": t / d - 1}
        print(
            f"solve {label}, {nnz} nonzeros: direct pyscipopt {d * 1000:.0f} ms, milp tool {t * 1000:.0f} ms, "
            f"overhead {100 * (t / d - 1):+.1f}% ({(t - d) * 1000:+.0f} ms; target <= 5%)"
        )

    for label, big, plain in [
        ("50k variables (transport 500x100)", transport(500, 100), None),
        ("10k variables (random sparse rows)", sparse(), None),
        (
            "50k variables (transport 500x100, sets + expression strings)",
            indexed_transport(500, 100),
            transport(500, 100),
        ),
    ]:
        nnz = parse_model(big).nonzeros
        text, baseline = json.dumps(big), json.dumps(plain or big)
        quick, tool = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            quicksum_build(json.loads(baseline))
            quick.append(time.perf_counter() - started)
            started = time.perf_counter()
            build_scip(parse_model(json.loads(text)))
            tool.append(time.perf_counter() - started)
        q, t = statistics.median(quick), statistics.median(tool)
        out[f"build {label}"] = {"nonzeros": nnz, "quicksum_s": q, "tool_s": t, "ratio": t / q}
        print(
            f"build from JSON text, {nnz} nonzeros, {label}: pyscipopt quicksum {q * 1000:.0f} ms, "
            f"tool (json.loads + validate + build) {t * 1000:.0f} ms, ratio {t / q:.2f} (target <= 1 s)"
        )
    tiny = {"variables": [{"name": "x", "ub": 5}], "objective": {"sense": "maximize", "coeffs": {"x": 1}}}
    inproc, warm, cold = [], [], []
    with ToolSession() as session:
        tool_solve(tiny, session)
        for _ in range(args.repeat * 4):
            started = time.perf_counter()
            solve_declarative(tiny, 10, 1)
            inproc.append(time.perf_counter() - started)
            warm.append(tool_solve(tiny, session))
    for _ in range(args.repeat):
        with ToolSession() as fresh:
            cold.append(tool_solve(tiny, fresh))
    i, w, c = statistics.median(inproc), statistics.median(warm), statistics.median(cold)
    out["out-of-process fixed cost"] = {"in_process_s": i, "warm_worker_s": w, "cold_worker_s": c}
    print(
        f"one-variable model: in-process solve {i * 1000:.1f} ms, tool with a warm sandboxed worker "
        f"{w * 1000:.1f} ms (+{(w - i) * 1000:.1f} ms fixed), with a cold worker {c * 1000:.0f} ms"
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
