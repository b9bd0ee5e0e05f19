"""Models the way an LLM writes them: indexed sets and parameters, expression strings parsed safely,
ranges, indicators, SOS, piecewise-linear terms, semicontinuous variables, quadratic objectives,
abs/min/max; CP scheduling, element/table and Boolean logic; LP and MPS text. Each solves to its
known optimum and is verified; each bad input gets one line naming the field; a tampered solution
is rejected by the independent re-check."""

from __future__ import annotations

from typing import Any

import pytest

from solvegraph.tools.optimization._results import review
from solvegraph.tools.optimization.cp.host import cp
from solvegraph.tools.optimization.milp.host import milp
from solvegraph.tools.optimization.model import check_solution, parse_model

# The textbook transportation instance: 2 plants, 3 markets; optimum 465 (plant s1 ships all 20 to d2).
TRANSPORT: dict[str, Any] = {
    "sets": {"S": ["s1", "s2"], "D": ["d1", "d2", "d3"]},
    "parameters": {
        "supply": {"s1": 20, "s2": 30},
        "demand": {"d1": 10, "d2": 25, "d3": 15},
        "cost": {"s1": {"d1": 8, "d2": 6, "d3": 10}, "s2": {"d1": 9, "d2": 12, "d3": 13}},
    },
    "variables": [{"name": "x", "index": ["S", "D"], "lb": 0}],
    "constraints": [
        {"name": "supply", "for": "s in S", "expr": "sum(x[s,d] for d in D) <= supply[s]"},
        {"name": "demand", "for": "d in D", "expr": "sum(x[s,d] for s in S) >= demand[d]"},
    ],
    "objective": {"sense": "minimize", "expr": "sum(cost[s][d] * x[s,d] for s in S for d in D)"},
}


def solve(tool: Any, model: dict[str, Any]) -> dict[str, Any]:
    r = tool.run({"model": model})
    assert r.ok, r.error
    verdict = review(tool.name, {"model": model}, r.data, tool.name)
    assert verdict["accepted"] is True, verdict
    return r.data


def test_indexed_transportation_reaches_the_known_optimum_and_names_each_instance() -> None:
    data = solve(milp, TRANSPORT)
    assert data["objective"] == pytest.approx(465)
    parsed = parse_model(TRANSPORT)
    assert [c.name for c in parsed.constraints] == [
        "supply[s1]",
        "supply[s2]",
        "demand[d1]",
        "demand[d2]",
        "demand[d3]",
    ]
    assert parsed.constraints[0].coeffs == {"x[s1,d1]": 1.0, "x[s1,d2]": 1.0, "x[s1,d3]": 1.0}


def test_expressions_with_where_ranges_and_bounds_from_parameters() -> None:
    """Assignment with a forbidden pair (where), variable bounds from a parameter, a ranged row."""
    model = {
        "sets": {"W": 3, "J": 3},
        "parameters": {"c": [[9, 2, 7], [6, 4, 3], [5, 8, 1]], "cap": [1, 1, 1]},
        "variables": [{"name": "a", "for": "w in W, j in J", "type": "binary", "ub": "cap[j]"}],
        "constraints": [
            {"name": "worker", "for": "w in W", "expr": "sum(a[w,j] for j in J) == 1"},
            {"name": "job", "for": "j in J", "expr": "1 <= sum(a[w,j] for w in W) <= 1"},
            {"name": "ban", "for": "w in W, j in J", "where": "w == j and w == 2", "expr": "a[w,j] <= 0"},
        ],
        "objective": {"sense": "minimize", "expr": "sum(c[w][j] * a[w,j] for w in W for j in J)"},
    }
    data = solve(milp, model)
    # Without a[2,2] the cheapest assignment is 2 + 3 + 5 = 10 (a[0,1], a[1,2], a[2,0]).
    assert data["objective"] == pytest.approx(10)
    assert [c.name for c in parse_model(model).constraints if c.name.startswith("ban")] == ["ban[2,2]"]


@pytest.mark.parametrize(
    ("model", "optimum"),
    [
        pytest.param(  # min (x-2)^2 + (y-3)^2 s.t. x + y <= 4: at (1.5, 2.5), 0.5
            {
                "variables": [{"name": "x", "lb": None}, {"name": "y", "lb": None}],
                "constraints": [{"name": "budget", "expr": "x + y <= 4"}],
                "objective": {"sense": "minimize", "expr": "(x - 2)**2 + (y - 3)**2"},
            },
            0.5,
            id="quadratic-objective",
        ),
        pytest.param(  # |x - 3.7| + max(y, 0) with x - y = 5, 2 <= x + y <= 4: x = 3.7 feasible, y = -1.3
            {
                "variables": [{"name": "x", "lb": -10, "ub": 10}, {"name": "y", "lb": -10, "ub": 10}],
                "constraints": [{"name": "r", "expr": "2 <= x + y <= 4"}, {"name": "q", "expr": "x - y == 5"}],
                "objective": {"sense": "minimize", "expr": "abs(x - 3.7) + max(y, 0)"},
            },
            0.0,
            id="abs-max-range",
        ),
        pytest.param(  # x is 0 or in [3, 10]: min (x - 1)^2 is 1 at x = 0 (x = 3 gives 4)
            {
                "variables": [{"name": "x", "type": "semicontinuous", "lb": 3, "ub": 10}],
                "objective": {"sense": "minimize", "expr": "(x - 1) * (x - 1)"},
            },
            1.0,
            id="semicontinuous",
        ),
        pytest.param(  # fixed charge: producing needs the switch y (cost 7); 4 units at 2 each: 15
            {
                "variables": [{"name": "x", "ub": 10}, {"name": "y", "type": "binary"}],
                "constraints": [
                    {"name": "off", "expr": "x <= 0", "only_if": ["~y"]},
                    {"name": "need", "expr": "x >= 4"},
                ],
                "objective": {"sense": "minimize", "expr": "2*x + 7*y"},
            },
            15.0,
            id="indicator",
        ),
        pytest.param(  # a concave cost curve through (0,0) (10,50) (20,80) (30,100): f(15) = 65
            {
                "variables": [{"name": "q", "ub": 30}, {"name": "c", "lb": None}],
                "pwl": [{"name": "cost", "x": "q", "y": "c", "points": [[0, 0], [10, 50], [20, 80], [30, 100]]}],
                "constraints": [{"name": "need", "expr": "q >= 15"}],
                "objective": {"sense": "minimize", "expr": "c"},
            },
            65.0,
            id="piecewise-linear",
        ),
        pytest.param(  # at most one of a, b, c nonzero: all on b (weight 2)
            {
                "variables": [{"name": n, "ub": 5} for n in "abc"],
                "sos": [{"name": "one", "type": 1, "vars": ["a", "b", "c"]}],
                "objective": {"sense": "maximize", "expr": "a + 2*b + c"},
            },
            10.0,
            id="sos1",
        ),
    ],
)
def test_milp_modelling_features_reach_known_optima(model: dict[str, Any], optimum: float) -> None:
    assert solve(milp, model)["objective"] == pytest.approx(optimum, abs=1e-5)


def test_cp_scheduling_with_optional_tasks_variable_durations_and_cumulative() -> None:
    """Four tasks on a crew of 2; t3 is optional (a reward of 2) with a duration of 2..4.
    Without t3 the makespan is 5; with it 6, so the optimum of makespan - 2*opt is 4."""
    model = {
        "variables": [{"name": f"s{i}", "type": "integer", "lb": 0, "ub": 20} for i in range(4)]
        + [
            {"name": "d3", "type": "integer", "lb": 2, "ub": 4},
            {"name": "mk", "type": "integer", "lb": 0, "ub": 30},
            {"name": "opt", "type": "boolean"},
        ],
        "intervals": [
            {"name": "t0", "start": "s0", "duration": 3},
            {"name": "t1", "start": "s1", "duration": 2},
            {"name": "t2", "start": "s2", "duration": 2},
            {"name": "t3", "start": "s3", "duration": "d3", "present": "opt"},
        ],
        "cumulative": [{"name": "crew", "intervals": ["t0", "t1", "t2", "t3"], "demands": [1, 1, 2, 1], "capacity": 2}],
        "constraints": [{"name": "prec", "expr": "s2 >= s0 + 3"}]
        + [{"name": f"mk{i}", "expr": f"mk >= s{i} + {d}"} for i, d in enumerate([3, 2, 2])]
        + [{"name": "mk3", "expr": "mk >= s3 + d3", "only_if": ["opt"]}],
        "objective": {"sense": "minimize", "expr": "mk - 2*opt"},
    }
    data = solve(cp, model)
    assert data["objective"] == 4
    parsed = parse_model(model, kind="cp")
    overlap = {**data["values"], "s2": data["values"]["s0"]}  # t2 needs the whole crew: never beside t0
    assert any("'crew'" in p for p in check_solution(parsed, overlap))
    absent = {**data["values"], "opt": 0, "s3": data["values"]["s2"]}  # an absent task takes no capacity
    assert not any("'crew'" in p for p in check_solution(parsed, absent))


def test_cp_element_table_boolean_reification_and_multiplication() -> None:
    model = {
        "variables": [
            {"name": "i", "type": "integer", "lb": 0, "ub": 3},
            {"name": "t", "type": "integer", "lb": 0, "ub": 100},
            {"name": "a", "type": "integer", "lb": 0, "ub": 5},
            {"name": "b", "type": "integer", "lb": 0, "ub": 5},
            {"name": "p", "type": "boolean"},
            {"name": "q", "type": "boolean"},
            {"name": "m", "type": "integer", "lb": 0, "ub": 25},
        ],
        "element": [{"name": "pick", "index": "i", "array": [7, 3, 9, 4], "target": "t"}],
        "table": [{"name": "pairs", "vars": ["a", "b"], "tuples": [[1, 2], [2, 4], [3, 1]]}],
        "boolean": [
            {"name": "either", "op": "or", "literals": ["p", "q"]},
            {"name": "notboth", "op": "at_most_one", "literals": ["p", "q"]},
        ],
        "constraints": [  # p <=> a >= 2
            {"name": "big", "expr": "a >= 2", "only_if": ["p"]},
            {"name": "small", "expr": "a <= 1", "only_if": ["~p"]},
        ],
        "general": [{"name": "prod", "fn": "mult", "result": "m", "args": ["a", "b"]}],
        "objective": {"sense": "maximize", "expr": "t + m + q"},
    }
    data = solve(cp, model)
    assert data["objective"] == 17 and data["values"]["m"] == 8  # t = 9, (a, b) = (2, 4), p
    parsed = parse_model(model, kind="cp")
    v = data["values"]
    for tamper, name in [
        ({"t": 7}, "pick"),
        ({"b": 3, "m": 6}, "pairs"),
        ({"p": 1, "q": 1}, "notboth"),
        ({"p": 0, "q": 1}, "small"),
        ({"m": 9}, "prod"),
    ]:
        assert any(f"'{name}'" in p for p in check_solution(parsed, {**v, **tamper})), name


def test_milp_tampered_solutions_of_each_feature_are_rejected() -> None:
    model = {
        "variables": [
            {"name": "x", "type": "semicontinuous", "lb": 3, "ub": 10},
            {"name": "q", "ub": 30},
            {"name": "c", "lb": None},
            {"name": "z", "type": "binary"},
            {"name": "s1", "ub": 5},
            {"name": "s2", "ub": 5},
            {"name": "s3", "ub": 5},
        ],
        "pwl": [{"name": "curve", "x": "q", "y": "c", "points": [[0, 0], [10, 50], [30, 100]]}],
        "sos": [{"name": "adjacent", "type": 2, "vars": ["s1", "s2", "s3"]}],
        "constraints": [
            {"name": "gate", "expr": "q <= 5", "only_if": ["z"]},
            {"name": "band", "expr": "1 <= s1 + s2 + s3 <= 6"},
        ],
        "objective": {"sense": "maximize", "expr": "x + c - 3*z + s1 + s2 + s3"},
    }
    good = {"x": 10, "q": 30, "c": 100, "z": 0, "s1": 0, "s2": 3, "s3": 3}
    parsed = parse_model(model)
    assert check_solution(parsed, good) == []
    for tamper, name in [
        ({"x": 1.5}, "'x'"),
        ({"c": 90}, "'curve'"),
        ({"s1": 1, "s2": 0, "s3": 1}, "'adjacent'"),
        ({"z": 1}, "'gate'"),
        ({"s2": 4, "s3": 4}, "'band'"),
    ]:
        assert any(name in p for p in check_solution(parsed, {**good, **tamper})), name


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("__import__('os').system('id') <= 1", "only sum, abs, min, max and range"),
        ("x.__class__ <= 1", "is not allowed in a model expression"),
        ("(lambda: 1)() <= 1", "only sum, abs, min, max and range"),
        ("open('/etc/passwd') <= 1", "only sum, abs, min, max and range"),
        ("x*x*x <= 1", "has a term of degree above 2"),
        ("xx <= 2", "unknown name 'xx'; did you mean 'x'?"),
        ("x < 2", "strict < and > have no meaning"),
        ("x + ", "cannot parse"),
        ("sum(1 for a in S for b in S for c in S) + x <= 1", "expands to more than 5,000,000 terms"),
        ("x / (x + 1) <= 1", "only +, -, * and / by a constant"),
        ("[x for x in S] <= 2", "is not allowed in a model expression"),
        ("2 <= 3", "has no variables left"),
        ("x[0] <= 1", "cannot be indexed"),
        ("+".join(["x"] * 4500) + " <= 1", "nested too deeply"),
        ("x\x00 <= 1", "cannot parse"),
        # Building a range is charged even when nothing iterates it (max over 10^6 members, 10^6 times).
        ("sum(max(range(1000000)) for a in range(1000000)) + x <= 1", "expands to more than 5,000,000 terms"),
        ("sum(1 for a in S if a.real > 0) + x <= 1", "is not allowed in a model expression"),
        ("x * S[int] <= 1", "unknown name 'int'"),  # no builtins but the five
    ],
)
def test_hostile_or_wrong_expressions_get_one_line_naming_the_field(expr: str, message: str) -> None:
    r = milp.run(
        {"model": {"sets": {"S": 1000}, "variables": [{"name": "x"}], "constraints": [{"name": "c", "expr": expr}]}}
    )
    assert not r.ok and r.error.startswith("invalid model: constraints[0].expr: ") and message in r.error, r.error
    assert "\n" not in r.error


def test_an_index_that_is_infinity_is_a_model_error_not_a_crash() -> None:
    """json.loads reads Infinity; int(inf) raised OverflowError, which the worker reported as a crash."""
    model = {
        "sets": {"I": 2},
        "parameters": {"far": float("inf")},
        "variables": [{"name": "x", "index": "I"}],
        "constraints": [{"name": "c", "expr": "x[far] <= 1"}],
    }
    r = milp.run({"model": model})
    assert not r.ok
    assert r.error == "invalid model: constraints[0].expr: an index must be a set member or number, got inf"


def test_an_indexed_variable_too_big_to_build_is_refused_before_it_is_built() -> None:
    """10^6 x 10^6 scalar variables: refused by counting, not after minutes of making names."""
    model = {"sets": {"I": 1_000_000}, "variables": [{"name": "x", "index": ["I", "I"]}]}
    r = milp.run({"model": model, "time_limit": 5})
    assert not r.ok and "expands to more than 5,000,000 terms" in r.error


def test_each_expression_is_compiled_once_and_rows_keep_their_values() -> None:
    """A row written once for 300 instances: every instance gets its own coefficients and right-hand side."""
    from solvegraph.tools.optimization.model import Expander

    n = 300
    model = {
        "sets": {"I": n},
        "parameters": {"w": [i + 1 for i in range(n)]},
        "variables": [{"name": "x", "index": "I", "ub": "w[i]"}],
        "constraints": [{"name": "c", "for": "i in I", "where": "i % 2 == 0", "expr": "w[i] * x[i] <= 2 * w[i]"}],
        "objective": {"sense": "max", "expr": "sum(x[i] for i in I)"},
    }
    expander = Expander(model)
    out = expander.expand()
    assert len(expander._compiled) == 3  # the bound, the where clause and the objective
    assert len(expander._comparisons) == 1  # the row, once for its 150 instances
    rows = {c["name"]: c for c in out["constraints"]}
    assert len(rows) == n // 2
    assert rows["c[10]"] == {"name": "c[10]", "coeffs": {"x[10]": 11.0}, "sense": "<=", "rhs": 22.0}
    assert out["variables"][7] == {"name": "x[7]", "ub": 8}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"variables": [{"name": "x", "index": "K"}]}, "variables[0].index[0]: unknown set 'K'"),
        ({"sets": {"I": [1, 1]}, "variables": [{"name": "x"}]}, "sets.I: has repeated members"),
        (
            {
                "sets": {"I": 2},
                "variables": [{"name": "x", "index": "I"}],
                "constraints": [{"name": "c", "expr": "x[5] <= 1"}],
            },
            "constraints[0].expr: x[5] is not a variable",
        ),
        (
            {
                "variables": [{"name": "x"}, {"name": "y"}],
                "constraints": [{"name": "c", "expr": "x <= 1", "only_if": ["y"]}],
            },
            "constraints[0].only_if[0]: 'y' must be binary",
        ),
        (
            {
                "variables": [{"name": "x"}, {"name": "y"}],
                "pwl": [{"name": "f", "x": "x", "y": "y", "points": [[0, 0], [0, 1]]}],
            },
            "pwl[0].points: the x values must be strictly increasing",
        ),
        (
            {"variables": [{"name": "x", "lb": None}], "objective": {"sense": "min", "expr": "abs(x)"}},
            "general[0].args: abs(...) is linearised with big-M: its variables need finite bounds",
        ),
        ({"variables": [{"name": "x", "type": "semicontinuous", "lb": 2}]}, "semicontinuous 'x' needs"),
        (
            {"variables": [{"name": "x"}], "constraints": [{"name": "c", "coeffs": {"x": 1}, "lb": 5, "ub": 1}]},
            "constraints[0]: the range [5, 1] is empty",
        ),
        (
            {"variables": [{"name": "x"}], "constraints": [{"name": "c", "expr": "x <= 1", "sense": "<="}]},
            "constraints[0].sense: give either 'expr' or coeffs/sense/rhs",
        ),
    ],
)
def test_bad_extended_models_name_the_field(model: dict[str, Any], message: str) -> None:
    r = milp.run({"model": model})
    assert not r.ok and message in r.error, r.error


def test_cp_rejects_what_it_cannot_represent_exactly() -> None:
    base = {
        "variables": [
            {"name": "x", "type": "integer", "lb": 0, "ub": 5},
            {"name": "d", "type": "integer", "lb": -2, "ub": 3},
        ]
    }
    r = cp.run({"model": {**base, "objective": {"sense": "min", "expr": "x*x"}}})
    assert not r.ok and "objective.quadratic: CP-SAT has no quadratic rows" in r.error
    r = cp.run({"model": {**base, "intervals": [{"name": "t", "start": "x", "duration": "d"}]}})
    assert not r.ok and "intervals[0].duration: must be non-negative" in r.error
    r = cp.run({"model": {**base, "sos": []}})
    assert not r.ok and "sos: SOS and piecewise-linear terms need the milp tool" in r.error


LP_TEXT = """Maximize
 obj: 3 x + 2 y
Subject To
 c1: x + y <= 4
 c2: x + 3 y <= 6
Bounds
 0 <= x <= 3
General
 y
End
"""

MPS_TEXT = """NAME          TESTMPS
ROWS
 N  COST
 L  LIM1
 G  LIM2
COLUMNS
    X         COST         1.0   LIM1         1.0
    X         LIM2         1.0
    Y         COST         2.0   LIM1         1.0
RHS
    RHS       LIM1         4.0   LIM2         1.0
BOUNDS
 UP BND       X            4.0
ENDATA
"""


def test_lp_and_mps_text_are_solved_and_re_checked_against_the_model_scip_read() -> None:
    r = milp.run({"lp": LP_TEXT})
    assert r.ok and r.data["objective"] == pytest.approx(11) and r.data["values"] == {"x": 3.0, "y": 1.0}
    assert review("milp", {"lp": LP_TEXT}, r.data, "milp")["accepted"] is True
    tampered = {**r.data, "values": {"x": 3.0, "y": 2.0}, "objective": 13}
    assert "'c1' is violated" in review("milp", {"lp": LP_TEXT}, tampered, "milp")["feedback"]
    r = milp.run({"mps": MPS_TEXT})
    assert r.ok and r.data["objective"] == pytest.approx(1) and review("milp", {}, r.data, "milp")["accepted"]


def test_bad_or_infeasible_lp_text() -> None:
    r = milp.run({"lp": "Maximize\n obj: x\nSubject To\n c1: x + <= 4\nEnd\n"})
    assert not r.ok and r.error == "invalid model: SCIP could not read the LP text: check its syntax"
    r = milp.run({"lp": "Minimize\n obj: x\nSubject To\n a: x >= 5\n b: x <= 3\n c: y <= 2\nEnd\n"})
    assert r.ok and r.data["status"] == "infeasible" and sorted(r.data["iis"]) == ["a", "b"]
    assert r.data["iis_confirmed"] is True
