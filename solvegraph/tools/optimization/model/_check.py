"""The independent re-check of an optimization result: every constraint kind of the declarative
model evaluated on the returned values, sharing no code with the solvers."""

from __future__ import annotations

import itertools
import math

from ._schema import Affine, Constraint, General, Literal, OptModel


def objective_value(model: OptModel, values: dict[str, float]) -> float | None:
    if model.objective is None:
        return None
    linear = sum(c * float(values.get(n, 0.0)) for n, c in model.objective.items())
    quad = sum(c * float(values.get(a, 0.0)) * float(values.get(b, 0.0)) for a, b, c in model.quadratic)
    return model.constant + linear + quad


def evaluate(expr: Affine, values: dict[str, float]) -> float:
    coeffs, constant = expr
    return constant + sum(c * float(values[n]) for n, c in coeffs.items())


def holds(literals: list[Literal], values: dict[str, float]) -> bool:
    """Whether every literal is true (a binary at 1, or at 0 when negated)."""
    return all((round(float(values[n])) == 1) == positive for n, positive in literals)


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _violated(c: Constraint, values: dict[str, float], tol: float) -> str | None:
    lhs = sum(coef * float(values[n]) for n, coef in c.coeffs.items())
    lhs += sum(coef * float(values[a]) * float(values[b]) for a, b, coef in c.quadratic)
    slack = tol * max(1.0, abs(c.rhs))
    if c.sense == "range":
        low_slack = tol * max(1.0, abs(c.lo))
        if lhs < c.lo - low_slack or lhs > c.rhs + slack:
            return f"{lhs:g} is outside [{c.lo:g}, {c.rhs:g}]"
        return None
    violated = (
        (c.sense == "<=" and lhs > c.rhs + slack)
        or (c.sense == ">=" and lhs < c.rhs - slack)
        or (c.sense == "=" and abs(lhs - c.rhs) > slack)
    )
    return f"{lhs:g} {c.sense} {c.rhs:g} does not hold" if violated else None


def _general_value(g: General, args: list[float]) -> float | None:
    if g.fn == "abs":
        return abs(args[0])
    if g.fn in ("min", "max"):
        return min(args) if g.fn == "min" else max(args)
    if g.fn == "mult":
        return math.prod(args)
    a, b = (round(x) for x in args)
    if b == 0:
        return None
    quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b > 0) else -1)  # CP-SAT rounds towards zero
    return quotient if g.fn == "div" else a - b * quotient


def _pwl_value(points: list[tuple[float, float]], x: float, tol: float) -> float | None:
    if x < points[0][0] - tol or x > points[-1][0] + tol:
        return None
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x <= x1 + tol:
            return y0 + (y1 - y0) * (min(max(x, x0), x1) - x0) / (x1 - x0)
    return points[-1][1]


def _check_scheduling(model: OptModel, values: dict[str, float], tol: float) -> list[str]:
    problems: list[str] = []
    spans: dict[str, tuple[float, float] | None] = {}  # interval -> (start, end), None when absent
    for name, iv in model.intervals.items():
        if iv.present is not None and not holds([iv.present], values):
            spans[name] = None
            continue
        start, duration = evaluate(iv.start, values), evaluate(iv.duration, values)
        if duration < -tol:
            problems.append(f"interval '{name}' has a negative duration {duration:g}")
        if iv.end is not None and not _close(evaluate(iv.end, values), start + duration, tol):
            problems.append(f"interval '{name}': end {evaluate(iv.end, values):g} != start {start:g} + "
                            f"duration {duration:g}")  # fmt: skip
        spans[name] = (start, start + duration)
    for name, names in model.no_overlap:
        shown = [(span, n) for n in names if (span := spans[n]) is not None and span[1] > span[0]]
        present = sorted(shown)
        for ((_, e1), n1), ((s2, _), n2) in itertools.pairwise(present):
            if e1 > s2 + tol:
                problems.append(f"constraint '{name}' is violated: intervals '{n1}' and '{n2}' overlap")
    for cu in model.cumulative:
        capacity = evaluate(cu.capacity, values)
        active = [(spans[n], evaluate(d, values), n) for n, d in zip(cu.intervals, cu.demands, strict=True)]
        times = sorted({span[0] for span, _, _ in active if span is not None})
        for t in times:  # the load only rises at a start
            load = sum(d for span, d, _ in active if span is not None and span[0] <= t < span[1])
            if load > capacity + tol:
                problems.append(f"constraint '{cu.name}' is violated: load {load:g} at time {t:g} exceeds "
                                f"capacity {capacity:g}")  # fmt: skip
                break
    return problems


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
        if var.type == "semicontinuous" and abs(x) <= tol:
            continue
        if x < var.lb - tol * max(1.0, abs(var.lb)) or x > var.ub + tol * max(1.0, abs(var.ub)):
            problems.append(f"variable '{name}' = {x:g} is outside its bounds [{var.lb:g}, {var.ub:g}]"
                            + (" and is not 0" if var.type == "semicontinuous" else ""))  # fmt: skip
        if var.integral and abs(x - round(x)) > max(tol, 1e-5):
            problems.append(f"variable '{name}' = {x:g} must be integer")
    if problems:
        return problems
    for c in model.constraints:
        if c.only_if and not holds(c.only_if, values):
            continue
        why = _violated(c, values, tol)
        if why:
            condition = f" (enforced: {', '.join(('' if p else '~') + n for n, p in c.only_if)})" if c.only_if else ""
            problems.append(f"constraint '{c.name}' is violated{condition}: {why}")
    for name, names in model.all_different:
        vals = [round(float(values[n])) for n in names]
        if len(set(vals)) != len(vals):
            problems.append(f"constraint '{name}' is violated: values {vals} are not all different")
    problems += _check_scheduling(model, values, tol)
    for g in model.general:
        want = _general_value(g, [evaluate(a, values) for a in g.args])
        got = evaluate(g.result, values)
        if want is None or not _close(got, want, tol * 10):
            problems.append(f"constraint '{g.name}' is violated: {got:g} != {g.fn}(...) = {want}")
    for e in model.element:
        k = round(evaluate(e.index, values))
        if not 0 <= k < len(e.array):
            problems.append(f"constraint '{e.name}' is violated: index {k} is outside the array of {len(e.array)}")
        elif not _close(evaluate(e.target, values), evaluate(e.array[k], values), tol):
            problems.append(f"constraint '{e.name}' is violated: target != array[{k}]")
    for t in model.table:
        row = [round(float(values[n])) for n in t.vars]
        if (row in t.tuples) == t.forbidden:
            kind = "a forbidden" if t.forbidden else "no allowed"
            problems.append(f"constraint '{t.name}' is violated: {row} is {kind} tuple")
    for b in model.boolean:
        if b.only_if and not holds(b.only_if, values):
            continue
        true = sum(holds([lit], values) for lit in b.literals)
        ok = {
            "or": true >= 1, "and": true == len(b.literals), "xor": true % 2 == 1,
            "at_most_one": true <= 1, "exactly_one": true == 1,
        }[b.op]  # fmt: skip
        if not ok:
            problems.append(f"constraint '{b.name}' is violated: {b.op} has {true} of {len(b.literals)} literals true")
    for sos in model.sos:
        nonzero = [j for j, n in enumerate(sos.vars) if abs(float(values[n])) > tol]
        if len(nonzero) > sos.type or (len(nonzero) == 2 and nonzero[1] - nonzero[0] != 1):
            problems.append(f"constraint '{sos.name}' is violated: SOS{sos.type} has nonzeros at "
                            f"{[sos.vars[j] for j in nonzero]}")  # fmt: skip
    for pw in model.pwl:
        want = _pwl_value(pw.points, float(values[pw.x]), tol)
        if want is None or not _close(float(values[pw.y]), want, tol * 10):
            problems.append(f"constraint '{pw.name}' is violated: {pw.y} = {float(values[pw.y]):g} is not f("
                            f"{pw.x} = {float(values[pw.x]):g}) = {want}")  # fmt: skip
    if objective is not None and model.objective is not None:
        recomputed = objective_value(model, values)
        assert recomputed is not None
        if abs(recomputed - objective) > max(1e-6, tol) * max(1.0, abs(recomputed)):
            problems.append(f"reported objective {objective:g} differs from the recomputed {recomputed:g}")
    return problems
