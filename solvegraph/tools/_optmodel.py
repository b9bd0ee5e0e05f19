"""The declarative optimization model shared by the ``milp`` and ``cp`` tools.

One JSON object describes a model; the LLM writes it and the tools validate it
before building anything, so a mistake comes back as a precise, JSON-pathed
message the refiner can act on (``constraints[3].coeffs: unknown variable 'x9'``).

    {"variables":   [{"name": "x", "type": "integer", "lb": 0, "ub": 10}],
     "constraints": [{"name": "demand", "coeffs": {"x": 1, "y": 1}, "sense": ">=", "rhs": 20}],
     "objective":   {"sense": "minimize", "coeffs": {"x": 3, "y": 2}, "constant": 0},
     # cp only:
     "all_different": [{"name": "rows", "vars": ["q0", "q1"]}],
     "intervals":     [{"name": "j0o0", "start": "s00", "duration": 3}],
     "no_overlap":    [{"name": "machine0", "intervals": ["j0o0", "j1o0"]}]}

The independent re-check (:func:`check_solution`) recomputes every constraint,
bound, integrality and the objective from the returned values, sharing no code
with the solvers.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

VAR_TYPES = {"continuous", "integer", "binary", "boolean"}
SENSES = {"<=", ">=", "=", "=="}
INF = math.inf
_NONLINEAR = re.compile(r"[*^/()]|\*\*")
# Beyond this a coefficient, right-hand side or finite bound means nothing to a solver working with
# 1e-6 tolerances (SCIP treats 1e20 as infinity and rejects 1e300 as "error in input data").
MAX_MAGNITUDE = 1e12
# CP-SAT works on exact 64-bit integers; keeping values exact as floats too (2**53) means no rounding.
CP_MAX = 2**53

# The fields each object may have: anything else is an error naming its path, never ignored.
ROOT_FIELDS = {"name", "variables", "constraints", "objective", "description"}
CP_ROOT_FIELDS = ROOT_FIELDS | {"all_different", "intervals", "no_overlap"}
VAR_FIELDS = frozenset({"name", "type", "lb", "ub", "description"})
CONSTRAINT_FIELDS = {"name", "coeffs", "sense", "rhs", "description"}
OBJECTIVE_FIELDS = {"sense", "coeffs", "constant", "description"}
ALL_DIFFERENT_FIELDS = {"name", "vars", "description"}
INTERVAL_FIELDS = {"name", "start", "duration", "description"}
NO_OVERLAP_FIELDS = {"name", "intervals", "description"}
# What models write for a field, from LP/Pyomo/PuLP habits: suggested, never accepted silently.
_ALIASES = {
    "lower_bound": "lb", "lower": "lb", "lowbound": "lb", "low": "lb", "min": "lb", "minimum": "lb",
    "upper_bound": "ub", "upper": "ub", "upbound": "ub", "up": "ub", "max": "ub", "maximum": "ub",
    "vtype": "type", "var_type": "type", "kind": "type", "domain": "type", "cat": "type", "category": "type",
    "coefficients": "coeffs", "coef": "coeffs", "coefs": "coeffs", "terms": "coeffs", "lhs": "coeffs",
    "expr": "coeffs", "expression": "coeffs", "linear": "coeffs", "weights": "coeffs",
    "direction": "sense", "operator": "sense", "op": "sense", "relation": "sense", "type": "sense",
    "goal": "sense", "bound": "rhs", "value": "rhs", "b": "rhs", "limit": "rhs",
    "offset": "constant", "const": "constant", "variables": "vars", "size": "duration", "length": "duration",
}  # fmt: skip
_UNSUPPORTED = {
    "indicator": "indicator constraints are not part of the declarative model; use code mode",
    "quadratic": "quadratic terms are not part of the declarative model; use code mode",
    "quad_coeffs": "quadratic terms are not part of the declarative model; use code mode",
}


class ModelError(ValueError):
    """A model that cannot be built; ``str()`` starts with the JSON path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass
class Var:
    name: str
    type: str
    lb: float
    ub: float

    @property
    def integral(self) -> bool:
        return self.type in ("integer", "binary", "boolean")


@dataclass
class Constraint:
    name: str
    coeffs: dict[str, float]
    sense: str
    rhs: float


@dataclass
class Interval:
    name: str
    start: str
    duration: int


@dataclass
class OptModel:
    variables: dict[str, Var]
    constraints: list[Constraint]
    objective: dict[str, float] | None
    sense: str = "minimize"
    constant: float = 0.0
    all_different: list[tuple[str, list[str]]] = field(default_factory=list)
    intervals: dict[str, Interval] = field(default_factory=dict)
    no_overlap: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def nonzeros(self) -> int:
        return sum(len(c.coeffs) for c in self.constraints)


def check_fields(obj: dict[str, Any], allowed: set[str] | frozenset[str], path: str) -> None:
    """Every key of ``obj`` must be one of ``allowed``; else an error naming it and the likely field."""
    for key in obj:
        if key in allowed:
            continue
        where = f"{path}.{key}" if path else key
        if key in _UNSUPPORTED:
            raise ModelError(where, _UNSUPPORTED[key])
        guess = _ALIASES.get(key.lower())
        if guess not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            guess = close[0] if close else None
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise ModelError(where, f"unknown field{hint} (allowed: {', '.join(sorted(allowed))})")


def _number(value: Any, path: str, *, allow_inf: bool = True, cp: bool = False) -> float:
    """A finite number within MAX_MAGNITUDE, or (``allow_inf``) an infinity written as null or "inf".

    Which infinity is meaningful is the caller's to check (a lower bound may be -inf, never +inf).
    With ``cp`` the number must be an exact integer: CP-SAT never sees a truncated value.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        if allow_inf and value is None:
            return INF
        if allow_inf and isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity", "-inf"):
            return -INF if value.strip().startswith("-") else INF
        raise ModelError(path, f"must be a number, got {value!r}")
    if isinstance(value, float) and math.isnan(value):
        raise ModelError(path, "must be a number, got NaN")
    if isinstance(value, float) and math.isinf(value):
        if not allow_inf:
            raise ModelError(path, f"must be a finite number, got {value}")
        return value
    if abs(value) > MAX_MAGNITUDE:
        bound = " (for no bound, use null)" if allow_inf else ""
        raise ModelError(path, f"{value:g} is out of range: |value| must be at most {MAX_MAGNITUDE:g}{bound}")
    if cp and value != int(value):
        raise ModelError(path, f"CP-SAT needs integers, got {value:g} (it would be truncated)")
    return float(value)


def _coeffs(raw: Any, path: str, names: dict[str, Var]) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise ModelError(path, 'must be an object mapping variable names to numbers, e.g. {"x": 2}')
    # Fast path for the common, valid case: known names and plain finite numbers (checked in C).
    if names.keys() >= raw.keys():
        values = [float(v) for v in raw.values() if type(v) is int or type(v) is float]
        if len(values) == len(raw) and all(-MAX_MAGNITUDE <= v <= MAX_MAGNITUDE for v in values):  # NaN fails too
            return dict(zip(raw.keys(), values, strict=True))
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in names:
            if _NONLINEAR.search(key):
                raise ModelError(path, f"non-linear term '{key}': only linear terms (one variable each) are allowed")
            raise ModelError(path, f"unknown variable '{key}'")
        if isinstance(value, list | dict):
            raise ModelError(f"{path}.{key}", f"non-linear term: the coefficient must be a number, got {value!r}")
        out[key] = _number(value, f"{path}.{key}", allow_inf=False)
    return out


def _fast_var(v: Any, kind: str, default_lb: float | None) -> Var | None:
    """The common valid variable, checked with few calls; None sends it to the careful path."""
    if type(v) is not dict or not v.keys() <= VAR_FIELDS:
        return None
    name, vtype = v.get("name"), v.get("type", "continuous")
    if type(name) is not str or not name or type(vtype) is not str or vtype not in ("continuous", "integer"):
        return None
    if kind == "cp" and vtype == "continuous":
        return None
    lb, ub = v.get("lb", default_lb), v.get("ub")
    if (lb is not None and type(lb) is not int and type(lb) is not float) or (
        ub is not None and type(ub) is not int and type(ub) is not float
    ):
        return None
    lo = -INF if lb is None else float(lb)
    hi = INF if ub is None else float(ub)
    # Any infinity written as a number, an out-of-range bound or crossed bounds: the careful path says which.
    if not lo <= hi or (lb is not None and abs(lo) > MAX_MAGNITUDE) or (ub is not None and abs(hi) > MAX_MAGNITUDE):
        return None
    if kind == "cp" and (lb is None or ub is None or type(lb) is not int or type(ub) is not int):
        return None  # the careful path says what is wrong, or accepts integral floats
    return Var(name, vtype, lo, hi)


def variables_slow(v: Any, i: int, kind: str, variables: dict[str, Var]) -> None:
    """Parse one variable with every check, raising a JSON-pathed error on the first problem."""
    path = f"variables[{i}]"
    if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"]:
        raise ModelError(path, "each variable needs a non-empty string 'name'")
    check_fields(v, VAR_FIELDS, path)
    name = v["name"]
    if name in variables:
        raise ModelError(f"{path}.name", f"duplicate variable '{name}'")
    vtype = str(v.get("type", "continuous")).lower()
    if vtype not in VAR_TYPES:
        raise ModelError(f"{path}.type", f"unknown type '{vtype}'; use continuous, integer or binary")
    if kind == "cp" and vtype == "continuous":
        raise ModelError(f"{path}.type", "CP-SAT has no continuous variables; use integer or boolean")
    binary = vtype in ("binary", "boolean")
    # Like LP convention, a missing lower bound is 0 for milp; null means unbounded below.
    raw_lb = v.get("lb", 0.0 if binary or kind == "milp" else None)
    cp = kind == "cp"
    lb = -INF if raw_lb is None else _number(raw_lb, f"{path}.lb", cp=cp)
    ub = _number(v.get("ub", 1.0 if binary else None), f"{path}.ub", cp=cp)  # null (no bound) returns before cp
    if lb == INF:
        raise ModelError(f"{path}.lb", "cannot be +infinity (for no lower bound, use null)")
    if ub == -INF:
        raise ModelError(f"{path}.ub", "cannot be -infinity (for no upper bound, use null)")
    if lb > ub:
        raise ModelError(path, f"bounds are crossed: lb {lb:g} > ub {ub:g}")
    if kind == "cp" and (math.isinf(lb) or math.isinf(ub)):
        raise ModelError(path, "CP-SAT needs finite bounds: give lb and ub")
    variables[name] = Var(name, vtype, lb, ub)


def parse_model(data: Any, *, kind: str = "milp") -> OptModel:
    """Validate and parse a model; raises :class:`ModelError` naming the JSON path."""
    if not isinstance(data, dict):
        raise ModelError("(root)", "the model must be a JSON object")
    if kind == "milp" and data.keys() & (CP_ROOT_FIELDS - ROOT_FIELDS):
        key = sorted(data.keys() & (CP_ROOT_FIELDS - ROOT_FIELDS))[0]
        raise ModelError(key, "all_different, intervals and no_overlap need the cp tool")
    check_fields(data, CP_ROOT_FIELDS if kind == "cp" else ROOT_FIELDS, "")
    raw_vars = data.get("variables")
    if not isinstance(raw_vars, list) or not raw_vars:
        raise ModelError("variables", "must be a non-empty list of {name, type, lb, ub}")
    variables: dict[str, Var] = {}
    default_lb = 0.0 if kind == "milp" else None
    for i, v in enumerate(raw_vars):
        fast = _fast_var(v, kind, default_lb)
        if fast is not None and fast.name not in variables:
            variables[fast.name] = fast
            continue
        variables_slow(v, i, kind, variables)

    constraints: list[Constraint] = []
    seen: set[str] = set()
    for i, c in enumerate(data.get("constraints") or []):
        path = f"constraints[{i}]"
        if not isinstance(c, dict):
            raise ModelError(path, "must be an object {name, coeffs, sense, rhs}")
        if c.keys() - CONSTRAINT_FIELDS:
            check_fields(c, CONSTRAINT_FIELDS, path)
        name = str(c.get("name") or f"c{i}")
        if name in seen:
            raise ModelError(f"{path}.name", f"duplicate constraint name '{name}'")
        seen.add(name)
        if "sense" not in c:
            raise ModelError(f"{path}.sense", "is required: one of <=, >=, =")
        sense = str(c["sense"])
        if sense not in SENSES:
            raise ModelError(f"{path}.sense", f"must be one of <=, >=, =, got {sense!r}")
        coeffs = _coeffs(c.get("coeffs"), f"{path}.coeffs", variables)
        if not coeffs:
            raise ModelError(f"{path}.coeffs", "is empty")
        rhs = _number(c.get("rhs"), f"{path}.rhs", allow_inf=False, cp=kind == "cp")
        if kind == "cp":
            _integral(coeffs, f"{path}.coeffs")
        constraints.append(Constraint(name, coeffs, "=" if sense == "==" else sense, rhs))

    objective = None
    sense, constant = "minimize", 0.0
    if "objective" in data and data["objective"] is not None:
        obj = data["objective"]
        if not isinstance(obj, dict):
            raise ModelError("objective", "must be an object {sense, coeffs}")
        check_fields(obj, OBJECTIVE_FIELDS, "objective")
        if "sense" not in obj:
            raise ModelError("objective.sense", "is required: minimize or maximize")
        sense = str(obj["sense"]).lower()
        sense = {"min": "minimize", "max": "maximize"}.get(sense, sense)
        if sense not in ("minimize", "maximize"):
            raise ModelError("objective.sense", f"must be minimize or maximize, got {obj.get('sense')!r}")
        objective = _coeffs(obj.get("coeffs"), "objective.coeffs", variables)
        if not objective:
            raise ModelError(
                "objective.coeffs",
                "empty objective; give at least one coefficient, or omit 'objective' for a feasibility problem",
            )
        if kind == "cp":
            _integral(objective, "objective.coeffs")
        constant = _number(obj.get("constant", 0), "objective.constant", allow_inf=False, cp=kind == "cp")

    model = OptModel(variables, constraints, objective, sense, constant)
    if kind == "cp":
        _parse_cp(data, model)
    return model


def _integral(coeffs: dict[str, float], path: str) -> None:
    """CP-SAT takes exact integers: a fractional coefficient is an error, never truncated."""
    for key, value in coeffs.items():
        if value != int(value):
            raise ModelError(f"{path}.{key}", f"CP-SAT needs integer coefficients, got {value:g}")


def _parse_cp(data: dict[str, Any], model: OptModel) -> None:
    for i, group in enumerate(data.get("all_different") or []):
        path = f"all_different[{i}]"
        if isinstance(group, dict):
            check_fields(group, ALL_DIFFERENT_FIELDS, path)
        names = group.get("vars") if isinstance(group, dict) else None
        if not isinstance(names, list) or len(names) < 2:
            raise ModelError(f"{path}.vars", "needs a list of at least two variable names")
        for j, n in enumerate(names):
            if n not in model.variables:
                raise ModelError(f"{path}.vars[{j}]", f"unknown variable '{n}'")
        model.all_different.append((str(group.get("name") or f"all_different{i}"), list(names)))
    for i, iv in enumerate(data.get("intervals") or []):
        path = f"intervals[{i}]"
        if not isinstance(iv, dict) or not isinstance(iv.get("name"), str):
            raise ModelError(path, "needs {name, start, duration}")
        check_fields(iv, INTERVAL_FIELDS, path)
        if iv.get("start") not in model.variables:
            raise ModelError(f"{path}.start", f"unknown variable '{iv.get('start')}'")
        duration = iv.get("duration")
        if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= CP_MAX:
            raise ModelError(f"{path}.duration", f"must be a non-negative integer, got {duration!r}")
        model.intervals[iv["name"]] = Interval(iv["name"], iv["start"], duration)
    for i, group in enumerate(data.get("no_overlap") or []):
        path = f"no_overlap[{i}]"
        if isinstance(group, dict):
            check_fields(group, NO_OVERLAP_FIELDS, path)
        names = group.get("intervals") if isinstance(group, dict) else None
        if not isinstance(names, list):
            raise ModelError(f"{path}.intervals", "needs a list of interval names")
        for j, n in enumerate(names):
            if n not in model.intervals:
                raise ModelError(f"{path}.intervals[{j}]", f"unknown interval '{n}'")
        model.no_overlap.append((str(group.get("name") or f"no_overlap{i}"), list(names)))


# -- independent re-check ------------------------------------------------------
def objective_value(model: OptModel, values: dict[str, float]) -> float | None:
    if model.objective is None:
        return None
    return model.constant + sum(c * float(values.get(n, 0.0)) for n, c in model.objective.items())


def check_solution(
    model: OptModel, values: dict[str, float], objective: float | None = None, tol: float = 1e-6
) -> list[str]:
    """Every violation of the returned solution, named; an empty list means it checks out."""
    problems: list[str] = []
    for name, var in model.variables.items():
        if name not in values:
            problems.append(f"variable '{name}' has no value")
            continue
        x = float(values[name])
        if x < var.lb - tol * max(1.0, abs(var.lb)) or x > var.ub + tol * max(1.0, abs(var.ub)):
            problems.append(f"variable '{name}' = {x:g} is outside its bounds [{var.lb:g}, {var.ub:g}]")
        if var.integral and abs(x - round(x)) > max(tol, 1e-5):
            problems.append(f"variable '{name}' = {x:g} must be integer")
    if problems:
        return problems
    for c in model.constraints:
        lhs = sum(coef * float(values[n]) for n, coef in c.coeffs.items())
        slack = tol * max(1.0, abs(c.rhs))
        violated = (
            (c.sense == "<=" and lhs > c.rhs + slack)
            or (c.sense == ">=" and lhs < c.rhs - slack)
            or (c.sense == "=" and abs(lhs - c.rhs) > slack)
        )
        if violated:
            problems.append(f"constraint '{c.name}' is violated: {lhs:g} {c.sense} {c.rhs:g} does not hold")
    for name, names in model.all_different:
        vals = [round(float(values[n])) for n in names]
        if len(set(vals)) != len(vals):
            problems.append(f"constraint '{name}' is violated: values {vals} are not all different")
    for name, names in model.no_overlap:
        spans = sorted((float(values[model.intervals[n].start]), model.intervals[n].duration, n) for n in names)
        for (s1, d1, n1), (s2, _, n2) in itertools.pairwise(spans):
            if d1 > 0 and s1 + d1 > s2 + tol:
                problems.append(f"constraint '{name}' is violated: intervals '{n1}' and '{n2}' overlap")
    if objective is not None and model.objective is not None:
        recomputed = objective_value(model, values)
        assert recomputed is not None
        if abs(recomputed - objective) > max(1e-6, tol) * max(1.0, abs(recomputed)):
            problems.append(f"reported objective {objective:g} differs from the recomputed {recomputed:g}")
    return problems


def likely_missing_bounds(model: OptModel) -> list[str]:
    """For an unbounded model: variables that improve the objective and have no bound in that direction."""
    if model.objective is None:
        return []
    out = []
    for name, coef in model.objective.items():
        var = model.variables[name]
        improving_up = (coef > 0) == (model.sense == "maximize")
        in_constraints = any(name in c.coeffs for c in model.constraints)
        if (improving_up and math.isinf(var.ub)) or (not improving_up and math.isinf(var.lb)):
            direction = "upper" if improving_up else "lower"
            where = "" if in_constraints else " and it appears in no constraint"
            out.append(f"'{name}' has no {direction} bound{where}")
    return out
