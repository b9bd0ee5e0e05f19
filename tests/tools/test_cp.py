"""The cp tool against real CP-SAT, with solutions checked by independent checkers written here."""

from __future__ import annotations

import itertools

import pytest

from solvegraph.plugins import ToolSession
from solvegraph.testing import assert_conformant
from solvegraph.tools.optimization._results import review
from solvegraph.tools.optimization.cp.host import cp


def queens_model(n: int) -> dict:
    qs = [f"q{i}" for i in range(n)]
    variables = [{"name": q, "type": "integer", "lb": 0, "ub": n - 1} for q in qs]
    variables += [{"name": f"u{i}", "type": "integer", "lb": -n, "ub": 2 * n} for i in range(n)]
    variables += [{"name": f"v{i}", "type": "integer", "lb": -n, "ub": 2 * n} for i in range(n)]
    constraints = [{"name": f"u_def{i}", "coeffs": {f"u{i}": 1, f"q{i}": -1}, "sense": "=", "rhs": i} for i in range(n)]
    constraints += [
        {"name": f"v_def{i}", "coeffs": {f"v{i}": 1, f"q{i}": -1}, "sense": "=", "rhs": -i} for i in range(n)
    ]
    return {
        "variables": variables,
        "constraints": constraints,
        "all_different": [
            {"name": "columns", "vars": qs},
            {"name": "diag_up", "vars": [f"u{i}" for i in range(n)]},
            {"name": "diag_down", "vars": [f"v{i}" for i in range(n)]},
        ],
    }


def queens_ok(cols: list[int]) -> bool:
    """Independent checker: no two queens share a column or a diagonal."""
    return all(a != b and abs(a - b) != j - i for (i, a), (j, b) in itertools.combinations(enumerate(cols), 2))


@pytest.mark.parametrize("n", [4, 8])
def test_n_queens(n: int) -> None:
    r = cp.run({"model": queens_model(n)})
    assert r.ok and r.data["status"] == "optimal"
    cols = [int(r.data["values"][f"q{i}"]) for i in range(n)]
    assert queens_ok(cols), cols


def test_three_queens_is_infeasible() -> None:
    r = cp.run({"model": queens_model(3)})
    assert r.data["status"] == "infeasible"


JOBS = [[(0, 3), (1, 2), (2, 2)], [(0, 2), (2, 1), (1, 4)], [(1, 4), (2, 3)]]  # (machine, duration)


def jobshop_model() -> dict:
    horizon = sum(d for job in JOBS for _, d in job)
    variables = [{"name": "makespan", "type": "integer", "lb": 0, "ub": horizon}]
    constraints, intervals, machines = [], [], {}
    for j, ops in enumerate(JOBS):
        for o, (m, d) in enumerate(ops):
            variables.append({"name": f"s{j}_{o}", "type": "integer", "lb": 0, "ub": horizon})
            intervals.append({"name": f"op{j}_{o}", "start": f"s{j}_{o}", "duration": d})
            machines.setdefault(m, []).append(f"op{j}_{o}")
            if o:
                constraints.append(
                    {
                        "name": f"order{j}_{o}",
                        "coeffs": {f"s{j}_{o}": 1, f"s{j}_{o - 1}": -1},
                        "sense": ">=",
                        "rhs": ops[o - 1][1],
                    }
                )
        constraints.append(
            {"name": f"end{j}", "coeffs": {"makespan": 1, f"s{j}_{len(ops) - 1}": -1}, "sense": ">=", "rhs": ops[-1][1]}
        )
    return {
        "variables": variables,
        "constraints": constraints,
        "intervals": intervals,
        "no_overlap": [{"name": f"machine{m}", "intervals": names} for m, names in machines.items()],
        "objective": {"sense": "minimize", "coeffs": {"makespan": 1}},
    }


def jobshop_makespan(starts: dict[str, int]) -> int:
    """Independent checker: precedence within jobs, no overlap per machine; returns the makespan."""
    by_machine: dict[int, list[tuple[int, int]]] = {}
    end = 0
    for j, ops in enumerate(JOBS):
        prev_end = 0
        for o, (m, d) in enumerate(ops):
            s = starts[f"s{j}_{o}"]
            assert s >= prev_end, f"job {j} op {o} starts before its predecessor ends"
            prev_end = s + d
            by_machine.setdefault(m, []).append((s, s + d))
        end = max(end, prev_end)
    for spans in by_machine.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(spans))
    return end


def test_small_job_shop() -> None:
    r = cp.run({"model": jobshop_model()})
    assert r.data["status"] == "optimal"
    starts = {k: int(v) for k, v in r.data["values"].items()}
    assert jobshop_makespan(starts) == r.data["objective"] == 11
    assert review("cp", {"model": jobshop_model()}, r.data, "cp")["accepted"]


def test_unsat_core_names_the_conflict() -> None:
    model = {
        "variables": [
            {"name": "x", "type": "integer", "lb": 0, "ub": 10},
            {"name": "y", "type": "integer", "lb": 0, "ub": 10},
        ],
        "constraints": [
            {"name": "total", "coeffs": {"x": 1, "y": 1}, "sense": ">=", "rhs": 15},
            {"name": "x_small", "coeffs": {"x": 1}, "sense": "<=", "rhs": 3},
            {"name": "harmless", "coeffs": {"y": 1}, "sense": "<=", "rhs": 19},
        ],
    }
    r = cp.run({"model": model})
    assert r.data["status"] == "infeasible"
    assert set(r.data["unsat_core"]) == {"total", "x_small"}
    assert "total" in review("cp", {"model": model}, r.data, "cp")["feedback"]
    # With an objective the core is the same: it is computed without it (before, every constraint came back).
    with_objective = {**model, "objective": {"sense": "maximize", "coeffs": {"x": 1, "y": 1}}}
    r = cp.run({"model": with_objective})
    assert r.data["status"] == "infeasible" and set(r.data["unsat_core"]) == {"total", "x_small"}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"variables": [{"name": "x", "type": "continuous", "lb": 0, "ub": 1}]}, "CP-SAT has no continuous"),
        ({"variables": [{"name": "x", "type": "integer"}]}, "CP-SAT needs finite bounds"),
        (
            {
                "variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 3}],
                "constraints": [{"coeffs": {"x": 0.5}, "sense": "<=", "rhs": 1}],
            },
            "constraints[0].coeffs.x: CP-SAT needs integer",
        ),
        # Exact integers or an error naming the field: never truncated by int(), never a raw pybind error.
        (
            {"variables": [{"name": "x", "type": "integer", "lb": 0.5, "ub": 3}]},
            "variables[0].lb: CP-SAT needs integers",
        ),
        (
            {"variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 1e19}]},
            "variables[0].ub: 1e+19 is out of range",
        ),
        (
            {
                "variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 3}],
                "objective": {"sense": "maximize", "coeffs": {"x": 1}, "constant": 0.5},
            },
            "objective.constant: CP-SAT needs integers, got 0.5",
        ),
        (
            {
                "variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 3}],
                "constraints": [{"coeffs": {"x": 1}, "sense": "<=", "rhs": 2.5}],
            },
            "constraints[0].rhs: CP-SAT needs integers, got 2.5",
        ),
        (
            {
                "variables": [{"name": "s", "type": "integer", "lb": 0, "ub": 9}],
                "intervals": [{"name": "a", "start": "s", "size": 3}],
            },
            "intervals[0].size: unknown field; did you mean 'duration'?",
        ),
        (
            {
                "variables": [{"name": "x", "type": "integer", "lb": 0, "ub": 3}],
                "all_different": [{"vars": ["x", "nope"]}],
            },
            "all_different[0].vars[1]: unknown variable 'nope'",
        ),
    ],
)
def test_bad_cp_models(model: dict, message: str) -> None:
    r = cp.run({"model": model})
    assert not r.ok and message in r.error


def test_cp_code_mode() -> None:
    code = (
        "from ortools.sat.python import cp_model\nmodel = cp_model.CpModel()\n"
        "x = model.NewIntVar(0, 10, 'x')\ny = model.NewIntVar(0, 10, 'y')\n"
        "model.Add(x + y <= 7)\nmodel.AddAllDifferent([x, y])\nmodel.Maximize(2 * x + y)\n"
        "solver = cp_model.CpSolver()\nsolver.Solve(model)"
    )
    with ToolSession() as session:
        r = cp.run({"code": code}, session)
        assert r.ok and r.data["objective"] == 14 and r.data["values"] == {"x": 7, "y": 0}
        assert review("cp", {"code": code}, r.data, "cp")["accepted"]
        r = cp.run(
            {
                "code": "from ortools.sat.python import cp_model\nmodel = cp_model.CpModel()\n"
                "solver = cp_model.CpSolver()"
            },
            session,
        )
        assert not r.ok and "never solved" in r.error


def test_cp_code_mode_evidence_never_comes_from_the_kernel() -> None:
    """Issue 29 item 3: the kernel's solver solved a tighter model (x <= 3) than the ``model`` it names
    (x <= 10, maximise x). Read back in the kernel, its response said "optimal at 3" with bound 3, and the
    point is feasible for ``model``: it came out tool-verified. The fresh worker's own solve bounds it by 10."""
    code = (
        "from ortools.sat.python import cp_model\nmodel = cp_model.CpModel()\n"
        "x = model.NewIntVar(0, 10, 'x')\nmodel.Maximize(x)\n"
        "other = cp_model.CpModel()\nz = other.NewIntVar(0, 3, 'x')\nother.Maximize(z)\n"
        "solver = cp_model.CpSolver()\nsolver.Solve(other)"
    )
    with ToolSession() as session:
        r = cp.run({"code": code}, session)
    assert r.ok, r.error
    assert r.data["values"] == {"x": 3} and r.data["objective"] == 3  # the claim
    assert r.data["dual_bound"] == 10 and r.data["recheck"]["objective"] == 10
    assert "fresh sandboxed worker" in r.data["recheck"]["by"]
    verdict = review("cp", {"code": code}, r.data, "cp")
    assert verdict["accepted"] is False and "labelled optimal" in verdict["feedback"], verdict


def test_cp_is_conformant() -> None:
    assert_conformant(cp, {"model": queens_model(4)}, invalid={"model": {"variables": []}})


def test_cp_reports_its_dual_bound_and_optimal_is_checked_against_it() -> None:
    model = {
        "variables": [
            {"name": "x", "type": "integer", "lb": 0, "ub": 10},
            {"name": "y", "type": "integer", "lb": 0, "ub": 10},
        ],
        "constraints": [{"name": "cap", "coeffs": {"x": 2, "y": 3}, "sense": "<=", "rhs": 12}],
        "objective": {"sense": "maximize", "coeffs": {"x": 3, "y": 4}},
    }
    r = cp.run({"model": model})
    assert r.data["status"] == "optimal" and r.data["objective"] == 18 and r.data["dual_bound"] == 18
    assert review("cp", {"model": model}, r.data, "cp")["accepted"]
    worse = {**r.data, "values": {"x": 0, "y": 0}, "objective": 0}
    verdict = review("cp", {"model": model}, worse, "cp")
    assert not verdict["accepted"] and "leaves a relative gap" in verdict["feedback"]


def test_code_mode_says_which_constraints_it_did_not_check() -> None:
    """A constraint kind the checker cannot evaluate (here a circuit) is named, and the verdict is not a
    verification; repeated constraint names are kept apart."""
    code = (
        "from ortools.sat.python import cp_model\nmodel = cp_model.CpModel()\n"
        "arcs = [(i, j, model.NewBoolVar(f'a{i}{j}')) for i in range(3) for j in range(3) if i != j]\n"
        "model.AddCircuit(arcs).WithName('tour')\ns = model.NewIntVar(0, 10, 's')\n"
        "model.Add(s <= 20).WithName('cap')\nmodel.Add(s <= 30).WithName('cap')\n"
        "model.Minimize(s)\nsolver = cp_model.CpSolver()\nsolver.Solve(model)"
    )
    with ToolSession() as session:
        r = cp.run({"code": code}, session)
    assert r.ok and r.data["status"] == "optimal", r.error
    assert r.data["unchecked"] == ["1 circuit constraint (tour)"]
    assert [c["name"] for c in r.data["model"]["constraints"]] == ["cap", "cap#2"], "repeated names are kept apart"
    verdict = review("cp", {"code": code}, r.data, "cp")
    assert "accepted" not in verdict and "not checked: 1 circuit constraint (tour)" in verdict["feedback"]
