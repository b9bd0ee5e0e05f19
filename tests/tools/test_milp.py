"""The milp tool against real SCIP: optima, IIS, unbounded, bad input, code mode, and the re-check."""

from __future__ import annotations

import os

import pytest

from solvegraph.plugins import ToolSession
from solvegraph.testing import assert_conformant
from solvegraph.tools.optimization._results import review
from solvegraph.tools.optimization.milp.host import milp
from solvegraph.tools.optimization.model import check_solution, parse_model


def production(rhs_cap: float = 40) -> dict:
    """max 3x + 5y s.t. x <= 4, 2y <= 12, 3x + 2y <= 18: the classic LP, optimum 36 at (2, 6)."""
    return {
        "variables": [{"name": "x", "type": "continuous"}, {"name": "y", "type": "continuous"}],
        "constraints": [
            {"name": "plant1", "coeffs": {"x": 1}, "sense": "<=", "rhs": 4},
            {"name": "plant2", "coeffs": {"y": 2}, "sense": "<=", "rhs": 12},
            {"name": "plant3", "coeffs": {"x": 3, "y": 2}, "sense": "<=", "rhs": 18},
            {"name": "unused", "coeffs": {"x": 1, "y": 1}, "sense": "<=", "rhs": rhs_cap},
        ],
        "objective": {"sense": "maximize", "coeffs": {"x": 3, "y": 5}},
    }


def test_lp_optimum() -> None:
    r = milp.run({"model": production()})
    assert r.ok and r.data["status"] == "optimal"
    assert r.data["objective"] == pytest.approx(36)
    assert r.data["values"] == pytest.approx({"x": 2, "y": 6})
    assert r.data["gap"] == pytest.approx(0) and r.data["solve_time"] >= 0
    assert r.output.splitlines()[-1] == "objective = 36"


def test_integer_knapsack_optimum() -> None:
    items = {"a": (5, 10), "b": (4, 40), "c": (6, 30), "d": (3, 50)}  # weight, value; capacity 10 -> b + d = 90
    model = {
        "variables": [{"name": n, "type": "binary"} for n in items],
        "constraints": [
            {"name": "capacity", "coeffs": {n: w for n, (w, _) in items.items()}, "sense": "<=", "rhs": 10}
        ],
        "objective": {"sense": "maximize", "coeffs": {n: v for n, (_, v) in items.items()}},
    }
    r = milp.run({"model": model})
    assert r.data["status"] == "optimal" and r.data["objective"] == pytest.approx(90)
    assert {n for n, v in r.data["values"].items() if v > 0.5} == {"b", "d"}


def test_ducks_nl4opt_record_0_integer_optimum() -> None:
    # NL4Opt record 0 (ducks): boat 10 ducks/20 min, canoe 8 ducks/40 min, <= 12 boat trips,
    # >= 60% canoe trips, >= 300 ducks; minimize time. Gold: 1160.
    model = {
        "variables": [{"name": "boat", "type": "integer"}, {"name": "canoe", "type": "integer"}],
        "constraints": [
            {"name": "boat_limit", "coeffs": {"boat": 1}, "sense": "<=", "rhs": 12},
            {"name": "canoe_share", "coeffs": {"canoe": 0.4, "boat": -0.6}, "sense": ">=", "rhs": 0},
            {"name": "ducks", "coeffs": {"boat": 10, "canoe": 8}, "sense": ">=", "rhs": 300},
        ],
        "objective": {"sense": "minimize", "coeffs": {"boat": 20, "canoe": 40}},
    }
    assert milp.run({"model": model}).data["objective"] == pytest.approx(1160)


def test_infeasible_model_names_the_conflicting_constraints() -> None:
    model = production()
    model["constraints"].append({"name": "too_much", "coeffs": {"x": 1, "y": 1}, "sense": ">=", "rhs": 20})
    r = milp.run({"model": model})
    assert r.ok and r.data["status"] == "infeasible"
    iis = set(r.data["iis"])
    assert "too_much" in iis and "unused" not in iis
    assert {"plant1", "plant2"} <= iis or "plant3" in iis
    assert "conflicting constraints: " in r.output and r.output.splitlines()[-1] == "infeasible"
    verdict = review("milp", {"model": model}, r.data, "milp")
    assert not verdict["accepted"] and "too_much" in verdict["feedback"]


def test_unbounded_model_names_the_missing_bound() -> None:
    model = {
        "variables": [{"name": "x"}, {"name": "y"}],
        "constraints": [{"name": "c", "coeffs": {"x": 1, "y": -1}, "sense": "<=", "rhs": 3}],
        "objective": {"sense": "maximize", "coeffs": {"x": 1}},
    }
    r = milp.run({"model": model})
    assert r.data["status"] in ("unbounded", "infeasible_or_unbounded")
    if r.data["status"] == "unbounded":
        assert "'x' has no upper bound" in r.output
        verdict = review("milp", {"model": model}, r.data, "milp")
        assert not verdict["accepted"] and "unbounded" in verdict["feedback"]


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            {
                "variables": [{"name": "x"}],
                "constraints": [
                    {"name": "a", "coeffs": {"x": 1}, "sense": "<=", "rhs": 1},
                    {"name": "b", "coeffs": {"x9": 1}, "sense": "<=", "rhs": 1},
                ],
            },
            "constraints[1].coeffs: unknown variable 'x9'",
        ),
        (
            {
                "variables": [{"name": "x"}, {"name": "y"}],
                "constraints": [{"coeffs": {"x*y": 1}, "sense": "<=", "rhs": 1}],
            },
            "constraints[0].coeffs: non-linear term 'x*y'",
        ),
        (
            {"variables": [{"name": "x"}], "constraints": [{"coeffs": {"x": [1, 2]}, "sense": "<=", "rhs": 1}]},
            "constraints[0].coeffs.x: non-linear term",
        ),
        ({"variables": [{"name": "x", "lb": 5, "ub": 2}]}, "variables[0]: bounds are crossed: lb 5 > ub 2"),
        (
            {"variables": [{"name": "x"}], "objective": {"sense": "minimize", "coeffs": {}}},
            "objective.coeffs: empty objective",
        ),
        ({"variables": []}, "variables: must be a non-empty list"),
        (
            {"variables": [{"name": "x"}], "constraints": [{"coeffs": {"x": 1}, "sense": "<", "rhs": 1}]},
            "constraints[0].sense: must be one of",
        ),
        ({"variables": [{"name": "x", "type": "real"}]}, "variables[0].type: unknown type 'real'"),
        # Unknown keys never change the model silently: each is an error naming its path and the likely field.
        (
            {"variables": [{"name": "x", "lower_bound": 2}]},
            "variables[0].lower_bound: unknown field; did you mean 'lb'?",
        ),
        (
            {"variables": [{"name": "x", "upper_bound": 2}]},
            "variables[0].upper_bound: unknown field; did you mean 'ub'?",
        ),
        (
            {"variables": [{"name": "x"}], "constraints": [{"coeffs": {"x": 1}, "type": "<=", "rhs": 1}]},
            "constraints[0].type: unknown field; did you mean 'sense'?",
        ),
        (
            {"variables": [{"name": "x"}], "constraints": [{"lhs": {"x": 1}, "sense": "<=", "rhs": 1}]},
            "constraints[0].lhs: unknown field; did you mean 'coeffs'?",
        ),
        (
            {"variables": [{"name": "x"}], "constraints": [{"coeffs": {"x": 1}, "rhs": 1}]},
            "constraints[0].sense: is required",
        ),
        (
            {
                "variables": [{"name": "x"}, {"name": "b", "type": "binary"}],
                "constraints": [{"coeffs": {"x": 1}, "sense": "<=", "rhs": 1, "indicator": {"var": "b"}}],
            },
            'constraints[0].indicator: write an indicator as "only_if": ["z"]',
        ),
        (
            {"variables": [{"name": "x"}], "objective": {"sense": "min", "coeffs": {"x": 1}, "quadratic": {}}},
            "objective.quadratic: must be a list of [var, var, coefficient]",
        ),
        (
            {"variables": [{"name": "x"}], "objective": {"type": "maximize", "coeffs": {"x": 1}}},
            "objective.type: unknown field; did you mean 'sense'?",
        ),
        ({"variables": [{"name": "x"}], "objective": {"coeffs": {"x": 1}}}, "objective.sense: is required"),
        # Infinity and out-of-range magnitudes, wherever they are not meaningful, with the path named.
        ({"variables": [{"name": "x", "lb": float("inf")}]}, "variables[0].lb: cannot be +infinity"),
        ({"variables": [{"name": "x", "lb": "inf"}]}, "variables[0].lb: cannot be +infinity"),
        ({"variables": [{"name": "x", "ub": "-inf"}]}, "variables[0].ub: cannot be -infinity"),
        (
            {"variables": [{"name": "x"}], "constraints": [{"coeffs": {"x": 1}, "sense": "<=", "rhs": float("inf")}]},
            "constraints[0].rhs: must be a finite number",
        ),
        (
            {"variables": [{"name": "x"}], "objective": {"sense": "min", "coeffs": {"x": 1}, "constant": float("inf")}},
            "objective.constant: must be a finite number",
        ),
        (
            {"variables": [{"name": "x"}], "constraints": [{"coeffs": {"x": 1e300}, "sense": "<=", "rhs": 1}]},
            "constraints[0].coeffs.x: 1e+300 is out of range",
        ),
        ({"variables": [{"name": "x", "ub": 1e20}]}, "variables[0].ub: 1e+20 is out of range"),
    ],
)
def test_bad_models_get_json_pathed_errors(model: dict, message: str) -> None:
    r = milp.run({"model": model})
    assert not r.ok and message in r.error


def test_solver_segfault_is_a_tool_error_and_solvegraph_survives() -> None:
    """SCIP runs in a sandboxed worker: a SIGSEGV in it is a result, and the next call gets a new worker."""
    import signal
    import threading
    import time
    from pathlib import Path

    from solvegraph.plugins import ToolSession

    with ToolSession() as session:
        assert milp.run({"model": production()}, session).ok  # the worker exists now
        worker = session._resources["milp_worker"]
        if worker.process.cgroup is None:
            pytest.skip("no writable cgroup: the worker's inner pid cannot be found from here")
        box: dict = {}
        model = slow_knapsack()
        thread = threading.Thread(target=lambda: box.update(r=milp.run({"model": model, "time_limit": 30}, session)))
        thread.start()
        time.sleep(0.3)
        for pid in worker.process.cgroup.pids():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"solvegraph.sandbox._worker" in cmdline and b"bwrap" not in cmdline.split(b"\0")[0]:
                os.kill(pid, signal.SIGSEGV)
        thread.join(60)
        if box["r"].ok:
            pytest.skip("the solve finished before the signal arrived")
        assert "SCIP" in box["r"].error and "solvegraph is unaffected" in box["r"].error, box["r"].error
        assert milp.run({"model": production()}, session).ok, "a fresh worker serves the next call"


def slow_knapsack() -> dict:
    import random

    rng = random.Random(7)
    n = 120  # a strongly correlated knapsack with many side constraints: slow to prove
    weights = [rng.randint(20, 100) for _ in range(n)]
    return {
        "variables": [{"name": f"x{i}", "type": "binary"} for i in range(n)],
        "constraints": [
            {
                "name": f"cap{k}",
                "coeffs": {f"x{i}": rng.randint(20, 100) for i in range(n)},
                "sense": "<=",
                "rhs": 1500 + k,
            }
            for k in range(15)
        ]
        + [{"name": "main", "coeffs": {f"x{i}": w for i, w in enumerate(weights)}, "sense": "<=", "rhs": 2500}],
        "objective": {"sense": "maximize", "coeffs": {f"x{i}": w + 10 for i, w in enumerate(weights)}},
    }


def test_time_limit_returns_the_incumbent() -> None:
    model = slow_knapsack()
    r = milp.run({"model": model, "time_limit": 0.2})
    assert r.ok and r.data["status"] == "time_limit"
    assert r.data["values"] and r.data["objective"] > 0 and r.data["gap"] > 0
    assert "not proven optimal" in r.output
    assert check_solution(parse_model(model), r.data["values"], r.data["objective"]) == []


def chain_lp(n: int) -> dict:
    """x_i + x_{i+1} >= 1, minimise the sum: optimum n/2. SCIP's postsolve of its aggregations recurses n deep."""
    return {
        "variables": [{"name": f"x{i}", "type": "continuous", "lb": 0} for i in range(n)],
        "constraints": [
            {"name": f"c{i}", "coeffs": {f"x{i}": 1, f"x{i + 1}": 1}, "sense": ">=", "rhs": 1} for i in range(n - 1)
        ],
        "objective": {"sense": "minimize", "coeffs": {f"x{i}": 1 for i in range(n)}},
    }


def test_the_100k_chain_lp_ends_as_optimal_or_time_limit_not_a_crash() -> None:
    """Issue 29 item 7: on the default 8 MB stack SCIP segfaulted on this model; its worker now has a large
    stack, and its time limit is enforced (SCIP's postsolve here runs for minutes past its own limit)."""
    with ToolSession() as session:
        r = milp.run({"model": chain_lp(100_000), "time_limit": 5}, session)
        worker = session._resources.get("milp_worker")
        assert r.data.get("status") in ("optimal", "time_limit"), (r.error, r.output[-300:])
        if r.data["status"] == "optimal":
            assert r.ok and r.data["objective"] == pytest.approx(50_000)
        else:
            assert "time_limit" in r.error and "process was stopped" in r.error
            assert worker is None or not worker.alive
        assert milp.run({"model": production()}, session).ok, "a fresh worker serves the next call"


def test_recheck_catches_a_corrupted_solution() -> None:
    model = production()
    r = milp.run({"model": model})
    parsed = parse_model(model)
    assert check_solution(parsed, r.data["values"], r.data["objective"]) == []
    bad = dict(r.data["values"], x=5)
    problems = check_solution(parsed, bad, r.data["objective"])
    assert any("'x' = 5" in p or "plant1" in p for p in problems)
    assert any("plant3" in p for p in check_solution(parsed, {"x": 4, "y": 6}))
    assert any("differs from the recomputed" in p for p in check_solution(parsed, r.data["values"], 40))
    ints = parse_model({"variables": [{"name": "n", "type": "integer"}]})
    assert check_solution(ints, {"n": 2.5}) == ["variable 'n' = 2.5 must be integer"]
    corrupted = dict(r.data, values=bad)
    verdict = review("milp", {"model": model}, corrupted, "milp")
    assert not verdict["accepted"] and "independent re-check" in verdict["feedback"]


CODE = """
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


def test_code_mode_reads_the_model_back() -> None:
    with ToolSession() as session:
        r = milp.run({"code": CODE}, session)
    assert r.ok and r.data["status"] == "optimal"
    assert r.data["objective"] == pytest.approx(3 * 6 + 1.5)
    names = {c["name"] for c in r.data["model"]["constraints"]}
    assert names == {"need", "ycap"}
    assert review("milp", {"code": CODE}, r.data, "milp")["accepted"]


# The model's code solves max x (x <= 10, integer) with a Model whose getters lie: the point x = 3 looks
# optimal (status "optimal", dual bound 3, gap 0). The true optimum is 10. Read back in the kernel, as before
# issue 29, this came out "optimal, tool-verified".
PATCHED_GETTERS = """
import pyscipopt

class Model(pyscipopt.Model):
    def getStatus(self): return "optimal"
    def getDualbound(self): return 3.0
    def getGap(self): return 0.0
    def getSolVal(self, sol, var): return 3.0
    def getSolObjVal(self, sol, original=True): return 3.0

model = Model()
model.hideOutput()
x = model.addVar("x", vtype="I", ub=10)
model.addCons(x <= 10, name="cap")
model.setObjective(x, "maximize")
model.optimize()
"""


def test_code_mode_evidence_never_comes_from_the_kernel() -> None:
    """Issue 29 item 3: what the model's code leaves in the kernel shapes only the claim. The fresh worker's
    own solve of the model file gives the dual bound (10), so "optimal at 3" is refused."""
    with ToolSession() as session:
        r = milp.run({"code": PATCHED_GETTERS}, session)
    assert r.ok, r.error
    assert r.data["values"] == {"x": 3.0} and r.data["objective"] == 3.0  # the claim, as the kernel made it
    assert r.data["dual_bound"] == pytest.approx(10) and r.data["recheck"]["objective"] == pytest.approx(10)
    assert "fresh sandboxed worker" in r.data["recheck"]["by"]
    verdict = review("milp", {"code": PATCHED_GETTERS}, r.data, "milp")
    assert verdict["accepted"] is False and "labelled optimal" in verdict["feedback"], verdict


def test_code_mode_checks_what_the_lp_writer_would_drop() -> None:
    """The model file is SCIP's CIP, which keeps every constraint: an xor (a comment in LP format) is named
    as not checked, so the answer is not verified, instead of passing unseen."""
    code = (
        "from pyscipopt import Model\nmodel = Model()\nmodel.hideOutput()\n"
        "a = model.addVar('a', vtype='B')\nb = model.addVar('b', vtype='B')\n"
        "model.addConsXor([a, b], True, name='one_of')\nmodel.setObjective(a + 2 * b, 'maximize')\nmodel.optimize()"
    )
    with ToolSession() as session:
        r = milp.run({"code": code}, session)
    assert r.ok and r.data["status"] == "optimal" and r.data["objective"] == pytest.approx(2)
    assert any("one_of" in u for u in r.data["unchecked"])
    verdict = review("milp", {"code": code}, r.data, "milp")
    assert "accepted" not in verdict and "not verified" in verdict["feedback"]


def test_code_mode_reads_a_model_larger_than_a_cells_output_cap() -> None:
    """The model file goes from the kernel in the export cell's output, which is not cut at the 20,000
    characters a model's own cell keeps: before, a 300-variable model could not be read back."""
    code = (
        "from pyscipopt import Model, quicksum\nmodel = Model()\nmodel.hideOutput()\n"
        "xs = [model.addVar(f'x{i}', vtype='B') for i in range(1000)]\n"
        "model.addCons(quicksum((i % 7 + 1) * x for i, x in enumerate(xs)) <= 1000, name='cap')\n"
        "model.setObjective(quicksum((i % 5 + 1) * x for i, x in enumerate(xs)), 'maximize')\nmodel.optimize()"
    )
    with ToolSession() as session:
        r = milp.run({"code": code}, session)
    assert r.ok and r.data["status"] == "optimal", r.error
    assert len(r.data["values"]) == 1000 and len(r.data["model"]["variables"]) == 1000
    assert review("milp", {"code": code}, r.data, "milp")["accepted"]


def test_code_mode_without_a_model_says_so() -> None:
    with ToolSession() as session:
        r = milp.run({"code": "answer = 42"}, session)
        assert not r.ok and "never built a model" in r.error
        r = milp.run({"code": "from pyscipopt import Model\nmodel = Model()"}, session)
        assert not r.ok and "never optimized" in r.error
        r = milp.run({"code": "model = 'not a model'"}, session)
        assert not r.ok and "expected a pyscipopt Model" in r.error


def test_milp_is_conformant() -> None:
    assert_conformant(milp, {"model": production()}, invalid={"model": {"variables": "x"}})


KNAPSACK = {
    "variables": [{"name": n, "type": "binary"} for n in ("a", "b", "c")],
    "constraints": [{"name": "weight", "coeffs": {"a": 3, "b": 4, "c": 2}, "sense": "<=", "rhs": 6}],
    "objective": {"sense": "maximize", "coeffs": {"a": 5, "b": 6, "c": 4}},
}


def test_optimal_needs_the_solvers_dual_bound_not_just_a_feasible_point() -> None:
    r = milp.run({"model": KNAPSACK})
    assert r.data["status"] == "optimal" and r.data["objective"] == 10 and r.data["dual_bound"] == 10
    assert "dual bound: 10" in r.output
    verdict = review("milp", {"model": KNAPSACK}, r.data, "milp")
    assert verdict["accepted"] and "optimal: dual bound 10" in verdict["feedback"]
    # A feasible but worse point (a only: 5) labelled optimal: every constraint holds, the objective is
    # recomputed right, and only the dual bound shows it is not optimal.
    worse = {**r.data, "values": {"a": 1, "b": 0, "c": 0}, "objective": 5}
    verdict = review("milp", {"model": KNAPSACK}, worse, "milp")
    assert (
        not verdict["accepted"] and "dual bound 10 leaves a relative gap of 1 to the objective 5" in verdict["feedback"]
    )
    unbacked = {**worse, "dual_bound": None}
    verdict = review("milp", {"model": KNAPSACK}, unbacked, "milp")
    assert not verdict["accepted"] and "no finite dual bound" in verdict["feedback"]


def _without(model: dict, member: str) -> dict:
    """``model`` with one IIS member removed: a constraint dropped, or a bound relaxed to infinity."""
    if member.startswith("bound "):
        name, side = member.split()[1], "lb" if ">=" in member else "ub"
        variables = [{**v, side: None} if v["name"] == name else v for v in model["variables"]]
        return {**model, "variables": variables}
    return {**model, "constraints": [c for c in model["constraints"] if c["name"] != member]}


def _assert_irreducible(model: dict, iis: list[str]) -> None:
    assert iis, "an infeasible model gets a conflict"
    for member in iis:
        status = milp.run({"model": _without(model, member)}).data["status"]
        assert status in ("optimal", "feasible", "unbounded"), f"without {member} it is still {status}"


def test_the_iis_is_irreducible_and_lists_only_bounds_that_take_part() -> None:
    model = {
        "variables": [
            {"name": "x", "type": "continuous", "lb": 0, "ub": 4},
            {"name": "y", "type": "continuous", "lb": 0, "ub": 4},
            {"name": "z", "type": "integer", "lb": 0, "ub": 9},  # in no conflicting constraint
        ],
        "constraints": [
            {"name": "need", "coeffs": {"x": 1, "y": 1}, "sense": ">=", "rhs": 10},
            {"name": "fine", "coeffs": {"z": 1}, "sense": "<=", "rhs": 5},
        ],
        "objective": {"sense": "minimize", "coeffs": {"x": 1, "y": 1, "z": 1}},
    }
    r = milp.run({"model": model})
    assert r.data["status"] == "infeasible" and r.data["iis_confirmed"]
    assert sorted(r.data["iis"]) == ["bound x <= 4", "bound y <= 4", "need"]
    _assert_irreducible(model, r.data["iis"])


def test_an_integer_parity_conflict_gets_a_core() -> None:
    model = {
        "variables": [
            {"name": "x", "type": "integer", "lb": 0, "ub": 10},
            {"name": "y", "type": "integer", "lb": 0, "ub": 10},
        ],
        "constraints": [
            {"name": "parity", "coeffs": {"x": 2, "y": -2}, "sense": "=", "rhs": 1},
            {"name": "other", "coeffs": {"x": 1}, "sense": "<=", "rhs": 8},
        ],
        "objective": {"sense": "maximize", "coeffs": {"x": 1}},
    }
    r = milp.run({"model": model})
    assert r.data["status"] == "infeasible"
    assert r.data["iis"] == ["parity"] and r.data["iis_integrality"] == ["x", "y"]
    _assert_irreducible(model, r.data["iis"])


def test_infeasible_or_unbounded_is_resolved_by_solving_without_the_objective() -> None:
    model = {  # SCIP's presolve stops at "infeasible or unbounded": x is free and y is boxed out
        "variables": [{"name": "x", "lb": None}, {"name": "y"}],
        "constraints": [
            {"name": "y_low", "coeffs": {"y": 1}, "sense": ">=", "rhs": 1},
            {"name": "y_high", "coeffs": {"y": 1}, "sense": "<=", "rhs": 0},
        ],
        "objective": {"sense": "maximize", "coeffs": {"x": 1}},
    }
    r = milp.run({"model": model})
    assert r.data["status"] == "infeasible" and "without the objective no feasible point" in r.data["resolved"]
    assert sorted(r.data["iis"]) == ["y_high", "y_low"]
    _assert_irreducible(model, r.data["iis"])


def test_code_mode_lists_non_linear_constraints_and_keeps_repeated_names() -> None:
    nonlinear = (
        "from pyscipopt import Model, exp\nmodel = Model()\nmodel.hideOutput()\n"
        "x = model.addVar('x', ub=5)\ny = model.addVar('y', ub=5)\n"
        "model.addCons(exp(x) <= 4 + y, name='area')\nmodel.addCons(x + y <= 6, name='sum')\n"
        "model.setObjective(x + y, 'maximize')\nmodel.optimize()"
    )
    with ToolSession() as session:
        r = milp.run({"code": nonlinear}, session)
        assert r.ok, r.error
        assert len(r.data["unchecked"]) == 1 and "(area)" in r.data["unchecked"][0]
        verdict = review("milp", {"code": nonlinear}, r.data, "milp")
        assert "accepted" not in verdict and "not checked: 1" in verdict["feedback"], verdict
        repeated = (
            "from pyscipopt import Model\nmodel = Model()\nmodel.hideOutput()\n"
            "x = model.addVar('x', ub=10)\nmodel.addCons(x <= 7, name='cap')\nmodel.addCons(x <= 9, name='cap')\n"
            "model.setObjective(x, 'maximize')\nmodel.optimize()"
        )
        r = milp.run({"code": repeated}, session)
    verdict = review("milp", {"code": repeated}, r.data, "milp")
    assert verdict["accepted"], verdict  # a correct solution: repeated names no longer get it rejected
