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

The independent re-check (:mod:`._optcheck`) recomputes every constraint, bound,
integrality and the objective from the returned values, sharing no code with the solvers.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ._errors import MAX_MAGNITUDE, ModelError, without_cyclic_gc
from ._expressions import expand

VAR_TYPES = {"continuous", "integer", "binary", "boolean", "semicontinuous"}
SENSES = {"<=", ">=", "=", "=="}
INF = math.inf
_NONLINEAR = re.compile(r"[*^/()]|\*\*")
# CP-SAT works on exact 64-bit integers; keeping values exact as floats too (2**53) means no rounding.
CP_MAX = 2**53

# The fields each object may have: anything else is an error naming its path, never ignored.
BASE_ROOT_FIELDS = {"name", "variables", "constraints", "objective", "description", "general"}
ROOT_FIELDS = BASE_ROOT_FIELDS | {"sos", "pwl"}
CP_ONLY = {"all_different", "intervals", "no_overlap", "cumulative", "element", "table", "boolean"}
CP_ROOT_FIELDS = BASE_ROOT_FIELDS | CP_ONLY
VAR_FIELDS = frozenset({"name", "type", "lb", "ub", "description"})
CONSTRAINT_FIELDS = {"name", "coeffs", "sense", "rhs", "lb", "ub", "quadratic", "only_if", "description"}
OBJECTIVE_FIELDS = {"sense", "coeffs", "constant", "quadratic", "description"}
ALL_DIFFERENT_FIELDS = {"name", "vars", "description"}
INTERVAL_FIELDS = {"name", "start", "duration", "end", "present", "description"}
NO_OVERLAP_FIELDS = {"name", "intervals", "description"}
CUMULATIVE_FIELDS = {"name", "intervals", "demands", "capacity", "description"}
ELEMENT_FIELDS = {"name", "index", "array", "target", "description"}
TABLE_FIELDS = {"name", "vars", "tuples", "forbidden", "description"}
BOOLEAN_FIELDS = {"name", "op", "literals", "only_if", "description"}
BOOLEAN_OPS = {"or", "and", "xor", "at_most_one", "exactly_one"}
GENERAL_FIELDS = {"name", "fn", "result", "args", "description"}
GENERAL_FNS = {"abs", "min", "max"}
CP_GENERAL_FNS = GENERAL_FNS | {"mult", "div", "mod"}
SOS_FIELDS = {"name", "type", "vars", "weights", "description"}
PWL_FIELDS = {"name", "x", "y", "points", "description"}
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
    "quad_coeffs": "quadratic", "quad": "quadratic", "qcoeffs": "quadratic", "enforce_if": "only_if",
    "enforcement": "only_if", "if": "only_if", "when": "only_if", "condition": "only_if", "function": "fn",
    "operands": "args", "arguments": "args", "target": "result", "demand": "demands", "optional": "present",
    "is_present": "present", "breakpoints": "points",
}  # fmt: skip
_UNSUPPORTED = {
    "indicator": 'write an indicator as "only_if": ["z"] (active when z = 1) or ["~z"] (when z = 0)',
}


@dataclass
class Var:
    name: str
    type: str
    lb: float
    ub: float

    @property
    def integral(self) -> bool:
        return self.type in ("integer", "binary", "boolean")


Affine = tuple[dict[str, float], float]  # coefficients and constant: an expression like 2*x + 3
Literal = tuple[str, bool]  # a boolean variable, and whether it is taken positively ("~z" is (z, False))


@dataclass
class Constraint:
    """``coeffs·x (+ quadratic) sense rhs``; sense "range" means ``lo <= ... <= rhs``; ``only_if`` enforces it
    only when all its literals hold (an indicator, or reification with a second, negated constraint)."""

    name: str
    coeffs: dict[str, float]
    sense: str
    rhs: float
    lo: float = -math.inf
    quadratic: list[tuple[str, str, float]] = field(default_factory=list)
    only_if: list[Literal] = field(default_factory=list)


@dataclass
class Interval:
    """A task: ``start + duration == end``; with ``present`` it is optional (absent when the literal is false)."""

    name: str
    start: Affine
    duration: Affine
    end: Affine | None = None
    present: Literal | None = None


@dataclass
class General:
    """``result == fn(args)`` for abs/min/max (and, for CP, mult/div/mod); linearised for SCIP."""

    name: str
    fn: str
    result: Affine
    args: list[Affine]


@dataclass
class Cumulative:
    name: str
    intervals: list[str]
    demands: list[Affine]
    capacity: Affine


@dataclass
class Element:
    """``target == array[index]`` (index from 0)."""

    name: str
    index: Affine
    array: list[Affine]
    target: Affine


@dataclass
class Table:
    name: str
    vars: list[str]
    tuples: list[list[int]]
    forbidden: bool = False


@dataclass
class Boolean:
    name: str
    op: str
    literals: list[Literal]
    only_if: list[Literal] = field(default_factory=list)


@dataclass
class Sos:
    name: str
    type: int
    vars: list[str]
    weights: list[float]


@dataclass
class Pwl:
    """``y == f(x)`` for the piecewise-linear f through ``points`` (x strictly increasing)."""

    name: str
    x: str
    y: str
    points: list[tuple[float, float]]


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
    quadratic: list[tuple[str, str, float]] = field(default_factory=list)  # objective terms x*y*coef
    general: list[General] = field(default_factory=list)
    cumulative: list[Cumulative] = field(default_factory=list)
    element: list[Element] = field(default_factory=list)
    table: list[Table] = field(default_factory=list)
    boolean: list[Boolean] = field(default_factory=list)
    sos: list[Sos] = field(default_factory=list)
    pwl: list[Pwl] = field(default_factory=list)

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
    if kind == "cp" and vtype in ("continuous", "semicontinuous"):
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


@without_cyclic_gc
def parse_model(data: Any, *, kind: str = "milp") -> OptModel:
    """Validate and parse a model; raises :class:`ModelError` naming the JSON path.

    Indexed sets, parameters and expression strings (:mod:`._optexpr`) are expanded first.
    """
    if not isinstance(data, dict):
        raise ModelError("(root)", "the model must be a JSON object")
    data = expand(data)
    if kind == "milp" and data.keys() & CP_ONLY:
        key = sorted(data.keys() & CP_ONLY)[0]
        raise ModelError(key, f"{', '.join(sorted(CP_ONLY))} need the cp tool")
    if kind == "cp" and data.keys() & {"sos", "pwl"}:
        raise ModelError(sorted(data.keys() & {"sos", "pwl"})[0], "SOS and piecewise-linear terms need the milp tool")
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
        constraints.append(_constraint(c, i, kind, variables, seen))

    objective = None
    sense, constant = "minimize", 0.0
    quadratic: list[tuple[str, str, float]] = []
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
        objective = _coeffs(obj.get("coeffs", {}), "objective.coeffs", variables)
        quadratic = _quadratic(obj.get("quadratic"), "objective.quadratic", variables, kind)
        if not objective and not quadratic:
            raise ModelError(
                "objective.coeffs",
                "empty objective; give at least one coefficient, or omit 'objective' for a feasibility problem",
            )
        if kind == "cp":
            _integral(objective, "objective.coeffs")
        constant = _number(obj.get("constant", 0), "objective.constant", allow_inf=False, cp=kind == "cp")

    model = OptModel(variables, constraints, objective, sense, constant, quadratic=quadratic)
    for i, g in enumerate(data.get("general") or []):
        model.general.append(_general(g, f"general[{i}]", model, kind))
    if kind == "cp":
        _parse_cp(data, model)
    else:
        _parse_milp_extras(data, model)
    return model


def _constraint(c: Any, i: int, kind: str, variables: dict[str, Var], seen: set[str]) -> Constraint:
    path = f"constraints[{i}]"
    if not isinstance(c, dict):
        raise ModelError(path, "must be an object {name, coeffs, sense, rhs}")
    if c.keys() - CONSTRAINT_FIELDS:
        check_fields(c, CONSTRAINT_FIELDS, path)
    name = str(c.get("name") or f"c{i}")
    if name in seen:
        raise ModelError(f"{path}.name", f"duplicate constraint name '{name}'")
    seen.add(name)
    cp = kind == "cp"
    coeffs = _coeffs(c.get("coeffs"), f"{path}.coeffs", variables)
    quadratic = _quadratic(c.get("quadratic"), f"{path}.quadratic", variables, kind)
    if not coeffs and not quadratic:
        raise ModelError(f"{path}.coeffs", "is empty")
    if cp:
        _integral(coeffs, f"{path}.coeffs")
    only_if = _literals(c.get("only_if", []), f"{path}.only_if", variables)
    if kind == "milp" and len(only_if) > 1:
        raise ModelError(f"{path}.only_if", "SCIP indicator constraints take one binary variable")
    if kind == "milp" and only_if and quadratic:
        raise ModelError(f"{path}.only_if", "an indicator constraint must be linear")
    if "lb" in c or "ub" in c:  # a ranged row: lb <= coeffs·x <= ub
        if "sense" in c or "rhs" in c:
            raise ModelError(path, "give either sense and rhs, or lb and/or ub (a range), not both")
        lo = -math.inf if c.get("lb") is None else _number(c["lb"], f"{path}.lb", cp=cp)
        hi = _number(c.get("ub"), f"{path}.ub", cp=cp)
        if lo == math.inf or hi == -math.inf or lo > hi:
            raise ModelError(path, f"the range [{lo:g}, {hi:g}] is empty")
        if math.isinf(lo) and math.isinf(hi):
            raise ModelError(path, "a range needs a finite lb or ub")
        if math.isinf(lo):
            return Constraint(name, coeffs, "<=", hi, quadratic=quadratic, only_if=only_if)
        if math.isinf(hi):
            return Constraint(name, coeffs, ">=", lo, quadratic=quadratic, only_if=only_if)
        sense = "=" if lo == hi else "range"
        return Constraint(name, coeffs, sense, hi, lo=lo, quadratic=quadratic, only_if=only_if)
    if "sense" not in c:
        raise ModelError(f"{path}.sense", "is required: one of <=, >=, = (or give lb/ub for a range)")
    sense = str(c["sense"])
    if sense not in SENSES:
        raise ModelError(f"{path}.sense", f"must be one of <=, >=, =, got {sense!r}")
    rhs = _number(c.get("rhs"), f"{path}.rhs", allow_inf=False, cp=cp)
    return Constraint(name, coeffs, "=" if sense == "==" else sense, rhs, quadratic=quadratic, only_if=only_if)


def _quadratic(raw: Any, path: str, variables: dict[str, Var], kind: str) -> list[tuple[str, str, float]]:
    """Quadratic terms as ``[[x, y, coef], ...]`` (``[x, x, c]`` is c·x²)."""
    if raw is None or raw == []:
        return []
    if kind == "cp":
        raise ModelError(path, 'CP-SAT has no quadratic rows: use a general {"fn": "mult"} and a linear row')
    if not isinstance(raw, list):
        raise ModelError(path, 'must be a list of [var, var, coefficient], e.g. [["x", "y", 2]]')
    out = []
    for j, term in enumerate(raw):
        if not isinstance(term, list) or len(term) != 3:
            raise ModelError(f"{path}[{j}]", "must be [var, var, coefficient]")
        for n in term[:2]:
            if n not in variables:
                raise ModelError(f"{path}[{j}]", f"unknown variable {n!r}")
        out.append((term[0], term[1], _number(term[2], f"{path}[{j}][2]", allow_inf=False)))
    return out


def _literals(raw: Any, path: str, variables: dict[str, Var]) -> list[Literal]:
    """Boolean literals: ``"z"`` (z is 1) or ``"~z"`` / ``"not z"`` (z is 0), on binary variables."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise ModelError(path, 'must be a list of literals like ["z"] or ["~z"]')
    out = []
    for j, lit in enumerate(items):
        where = f"{path}[{j}]" if not isinstance(raw, str) else path
        if not isinstance(lit, str):
            raise ModelError(where, f"must be a variable name, optionally with ~, got {lit!r}")
        text = lit.strip()
        positive = not (text.startswith("~") or text.startswith("not ") or text.startswith("!"))
        name = text if positive else text.lstrip("~!").removeprefix("not ").strip()
        var = variables.get(name)
        if var is None:
            raise ModelError(where, f"unknown variable '{name}'")
        if not (var.type in ("binary", "boolean") or (var.type == "integer" and var.lb >= 0 and var.ub <= 1)):
            raise ModelError(where, f"'{name}' must be binary to be used as a condition")
        out.append((name, positive))
    return out


def _affine(raw: Any, path: str, variables: dict[str, Var], cp: bool) -> Affine:
    """A number, a variable name, or ``{"coeffs": {...}, "constant": c}``."""
    if isinstance(raw, str):
        if raw not in variables:
            raise ModelError(path, f"unknown variable '{raw}'")
        return {raw: 1.0}, 0.0
    if isinstance(raw, dict):
        check_fields(raw, {"coeffs", "constant"}, path)
        coeffs = _coeffs(raw.get("coeffs", {}), f"{path}.coeffs", variables)
        if cp:
            _integral(coeffs, f"{path}.coeffs")
        return coeffs, _number(raw.get("constant", 0), f"{path}.constant", allow_inf=False, cp=cp)
    return {}, _number(raw, path, allow_inf=False, cp=cp)


def affine_bounds(expr: Affine, variables: dict[str, Var]) -> tuple[float, float]:
    """Interval arithmetic: the least and greatest value ``expr`` can take within the variable bounds."""
    coeffs, lo = expr
    hi = lo
    for n, c in coeffs.items():
        v = variables[n]
        a, b = (c * v.lb, c * v.ub) if c >= 0 else (c * v.ub, c * v.lb)
        lo += a if c else 0.0
        hi += b if c else 0.0
    return lo, hi


def _general(g: Any, path: str, model: OptModel, kind: str) -> General:
    if not isinstance(g, dict):
        raise ModelError(path, "must be an object {name, fn, result, args}")
    check_fields(g, GENERAL_FIELDS, path)
    fns = CP_GENERAL_FNS if kind == "cp" else GENERAL_FNS
    fn = g.get("fn")
    if fn not in fns:
        raise ModelError(f"{path}.fn", f"must be one of {', '.join(sorted(fns))}, got {fn!r}")
    raw_args = g.get("args")
    if not isinstance(raw_args, list) or not raw_args:
        raise ModelError(f"{path}.args", "must be a non-empty list of expressions")
    want = {"abs": 1, "div": 2, "mod": 2}.get(fn)
    if want and len(raw_args) != want:
        raise ModelError(f"{path}.args", f"{fn} takes {want} argument{'s' if want > 1 else ''}")
    cp = kind == "cp"
    args = [_affine(a, f"{path}.args[{j}]", model.variables, cp) for j, a in enumerate(raw_args)]
    result = _affine(g.get("result"), f"{path}.result", model.variables, cp)
    name = str(g.get("name") or path)
    bounds = [affine_bounds(a, model.variables) for a in args]
    if kind == "milp" and any(math.isinf(b) for pair in bounds for b in pair):
        raise ModelError(f"{path}.args", f"{fn}(...) is linearised with big-M: its variables need finite bounds")
    if fn in GENERAL_FNS and len(result[0]) == 1 and not result[1]:
        # result == fn(args) bounds the result variable: tighten an unbounded one (CP needs finite bounds)
        (rname, rc), = result[0].items()  # fmt: skip
        lo, hi = _fn_bounds(fn, bounds)
        var = model.variables[rname]
        if rc == 1 and (math.isinf(var.lb) or math.isinf(var.ub)):
            model.variables[rname] = Var(rname, var.type, max(var.lb, lo), min(var.ub, hi))
    return General(name, fn, result, args)


def _fn_bounds(fn: str, bounds: list[tuple[float, float]]) -> tuple[float, float]:
    if fn == "abs":
        lo, hi = bounds[0]
        return (0.0 if lo <= 0 <= hi else min(abs(lo), abs(hi))), max(abs(lo), abs(hi))
    if fn == "max":
        return max(b[0] for b in bounds), max(b[1] for b in bounds)
    return min(b[0] for b in bounds), min(b[1] for b in bounds)


def _names(raw: Any, path: str, known: dict[str, Any], what: str, least: int = 1) -> list[str]:
    if not isinstance(raw, list) or len(raw) < least:
        raise ModelError(path, f"needs a list of at least {least} {what} name{'s' if least > 1 else ''}")
    for j, n in enumerate(raw):
        if n not in known:
            raise ModelError(f"{path}[{j}]", f"unknown {what} '{n}'")
    return list(raw)


def _entries(data: dict[str, Any], key: str, fields: set[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, name, object) for each entry of a list field, its fields checked."""
    raw = data.get(key) or []
    if not isinstance(raw, list):
        raise ModelError(key, "must be a list")
    out = []
    for i, item in enumerate(raw):
        path = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise ModelError(path, f"must be an object with {', '.join(sorted(fields - {'description'}))}")
        check_fields(item, fields, path)
        out.append((path, str(item.get("name") or f"{key}{i}"), item))
    return out


def _parse_milp_extras(data: dict[str, Any], model: OptModel) -> None:
    for path, name, item in _entries(data, "sos", SOS_FIELDS):
        if item.get("type") not in (1, 2):
            raise ModelError(f"{path}.type", "must be 1 (at most one nonzero) or 2 (at most two, adjacent)")
        names = _names(item.get("vars"), f"{path}.vars", model.variables, "variable", 2)
        weights = item.get("weights", list(range(1, len(names) + 1)))
        if not isinstance(weights, list) or len(weights) != len(names):
            raise ModelError(f"{path}.weights", "needs one weight per variable")
        ws = [_number(w, f"{path}.weights[{j}]", allow_inf=False) for j, w in enumerate(weights)]
        if len(set(ws)) != len(ws):
            raise ModelError(f"{path}.weights", "must be distinct: they order the variables")
        order = sorted(range(len(names)), key=lambda j: ws[j])
        model.sos.append(Sos(name, int(item["type"]), [names[j] for j in order], [ws[j] for j in order]))
    for path, name, item in _entries(data, "pwl", PWL_FIELDS):
        x, y = item.get("x"), item.get("y")
        for side, n in (("x", x), ("y", y)):
            if n not in model.variables:
                raise ModelError(f"{path}.{side}", f"unknown variable {n!r}")
        raw = item.get("points")
        if not isinstance(raw, list) or len(raw) < 2 or not all(isinstance(p, list) and len(p) == 2 for p in raw):
            raise ModelError(f"{path}.points", "needs at least two [x, y] breakpoints")
        points = [
            (_number(p[0], f"{path}.points[{j}][0]", allow_inf=False),
             _number(p[1], f"{path}.points[{j}][1]", allow_inf=False))
            for j, p in enumerate(raw)
        ]  # fmt: skip
        if any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
            raise ModelError(f"{path}.points", "the x values must be strictly increasing")
        model.pwl.append(Pwl(name, str(x), str(y), points))
    for i, var in enumerate(model.variables.values()):
        if var.type == "semicontinuous" and (math.isinf(var.ub) or var.lb < 0):
            raise ModelError(f"variables[{i}]", f"semicontinuous '{var.name}' needs 0 <= lb and a finite ub")


def _integral(coeffs: dict[str, float], path: str) -> None:
    """CP-SAT takes exact integers: a fractional coefficient is an error, never truncated."""
    for key, value in coeffs.items():
        if value != int(value):
            raise ModelError(f"{path}.{key}", f"CP-SAT needs integer coefficients, got {value:g}")


def _parse_cp(data: dict[str, Any], model: OptModel) -> None:
    variables = model.variables
    for path, name, group in _entries(data, "all_different", ALL_DIFFERENT_FIELDS):
        model.all_different.append((name, _names(group.get("vars"), f"{path}.vars", variables, "variable", 2)))
    for path, name, iv in _entries(data, "intervals", INTERVAL_FIELDS):
        if "name" not in iv or not isinstance(iv["name"], str):
            raise ModelError(f"{path}.name", "an interval needs a name")
        if name in model.intervals:
            raise ModelError(f"{path}.name", f"duplicate interval '{name}'")
        start = _affine(iv.get("start"), f"{path}.start", variables, True)
        duration = _affine(iv.get("duration"), f"{path}.duration", variables, True)
        if affine_bounds(duration, variables)[0] < 0:
            raise ModelError(f"{path}.duration", "must be non-negative (give the variable lb >= 0)")
        end = _affine(iv["end"], f"{path}.end", variables, True) if "end" in iv else None
        present = _literals(iv["present"], f"{path}.present", variables)[0] if "present" in iv else None
        model.intervals[name] = Interval(name, start, duration, end, present)
    for path, name, group in _entries(data, "no_overlap", NO_OVERLAP_FIELDS):
        names = _names(group.get("intervals"), f"{path}.intervals", model.intervals, "interval")
        model.no_overlap.append((name, names))
    for path, name, item in _entries(data, "cumulative", CUMULATIVE_FIELDS):
        names = _names(item.get("intervals"), f"{path}.intervals", model.intervals, "interval")
        demands = item.get("demands")
        if not isinstance(demands, list) or len(demands) != len(names):
            raise ModelError(f"{path}.demands", "needs one demand per interval")
        model.cumulative.append(
            Cumulative(
                name,
                names,
                [_affine(d, f"{path}.demands[{j}]", variables, True) for j, d in enumerate(demands)],
                _affine(item.get("capacity"), f"{path}.capacity", variables, True),
            )
        )
    for path, name, item in _entries(data, "element", ELEMENT_FIELDS):
        array = item.get("array")
        if not isinstance(array, list) or not array:
            raise ModelError(f"{path}.array", "needs a non-empty list of numbers or variables")
        model.element.append(
            Element(
                name,
                _affine(item.get("index"), f"{path}.index", variables, True),
                [_affine(a, f"{path}.array[{j}]", variables, True) for j, a in enumerate(array)],
                _affine(item.get("target"), f"{path}.target", variables, True),
            )
        )
    for path, name, item in _entries(data, "table", TABLE_FIELDS):
        names = _names(item.get("vars"), f"{path}.vars", variables, "variable")
        tuples = item.get("tuples")
        if not isinstance(tuples, list) or not all(
            isinstance(t, list) and len(t) == len(names) and all(type(x) is int for x in t) for t in tuples
        ):
            raise ModelError(f"{path}.tuples", f"must be a list of rows of {len(names)} integers")
        model.table.append(Table(name, names, tuples, bool(item.get("forbidden", False))))
    for path, name, item in _entries(data, "boolean", BOOLEAN_FIELDS):
        op = item.get("op")
        if op not in BOOLEAN_OPS:
            raise ModelError(f"{path}.op", f"must be one of {', '.join(sorted(BOOLEAN_OPS))}, got {op!r}")
        literals = _literals(item.get("literals"), f"{path}.literals", variables)
        if not literals:
            raise ModelError(f"{path}.literals", "is empty")
        only_if = _literals(item.get("only_if", []), f"{path}.only_if", variables)
        model.boolean.append(Boolean(name, str(op), literals, only_if))


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
