"""SCIP's statuses, its solution and its model read back in the declarative format.

Runs where pyscipopt does: in the sandboxed solver worker (LP/MPS text) and in the model's kernel
(code mode). It imports nothing of solvegraph but the model core.
"""

from __future__ import annotations

from typing import Any

from .._readback import unchecked_summary, unique_name
from ..model import ModelError

_STATUS = {
    "optimal": "optimal",
    "infeasible": "infeasible",
    "unbounded": "unbounded",
    "inforunbd": "infeasible_or_unbounded",
    "timelimit": "time_limit",
    "gaplimit": "feasible",
    "sollimit": "feasible",
    "nodelimit": "feasible",
    "userinterrupt": "interrupted",
}


def _solution(scip: Any, status: str) -> dict[str, Any]:
    """Values, objective and gap of the best solution (no objective when unbounded, nothing when infeasible)."""
    if scip.getNSols() == 0 or status == "infeasible":
        return {"objective": None, "values": {}, "gap": None}
    sol = scip.getBestSol()
    bounded = status != "unbounded"
    return {
        "values": {v.name: scip.getSolVal(sol, v) for v in scip.getVars()},
        "objective": scip.getSolObjVal(sol) if bounded else None,
        "dual_bound": scip.getDualbound() if bounded else None,  # the evidence behind "optimal"
        "gap": scip.getGap(),
    }


def _rows(name: str, coeffs: dict[str, float], lhs: float, rhs: float) -> list[dict[str, Any]]:
    """A row ``lhs <= coeffs·x <= rhs`` with SCIP's ±1e20 infinities, in the declarative form."""
    if lhs > -1e19 and rhs < 1e19 and abs(lhs - rhs) < 1e-12:
        return [{"name": name, "coeffs": coeffs, "sense": "=", "rhs": rhs}]
    return [{"name": name, "coeffs": coeffs, "lb": lhs if lhs > -1e19 else None, "ub": rhs if rhs < 1e19 else None}]


def _literal(var: Any, names: set[str]) -> str | None:
    """An indicator's binary as a literal; SCIP hands a negated one (activeone=False) over as ``z_neg``."""
    if var.getStatus() != "NEGATED":
        return str(var.name)
    base = str(var.name).removesuffix("_neg")
    return "~" + base if base != var.name and base in names else None


def _read_constraint(scip: Any, c: Any, name: str, names: set[str]) -> dict[str, Any] | str:
    """One SCIP constraint as declarative entries ({"constraints": [...], "sos": [...]}), or the kind it is
    when the checker cannot evaluate it (it is then listed as not checked)."""
    handler = c.getConshdlrName()
    if handler == "linear":
        return {"constraints": _rows(name, scip.getValsLinear(c), scip.getLhs(c), scip.getRhs(c))}
    if handler == "nonlinear":
        if not scip.checkQuadraticNonlinear(c):
            return "nonlinear"
        bilinear, square, linear_terms = scip.getTermsQuadratic(c)
        coeffs: dict[str, float] = {}
        quadratic = [[a.name, b.name, k] for a, b, k in bilinear]
        for var, sqr, lin in square:
            if sqr:
                quadratic.append([var.name, var.name, sqr])
            if lin:
                coeffs[var.name] = coeffs.get(var.name, 0.0) + lin
        for var, lin in linear_terms:
            coeffs[var.name] = coeffs.get(var.name, 0.0) + lin
        rows = _rows(name, coeffs, scip.getLhs(c), scip.getRhs(c))
        return {"constraints": [{**row, "quadratic": quadratic} for row in rows]}
    if handler == "indicator":  # binvar = 1 forces the slack of its linear row (read on its own) to 0
        literal = _literal(scip.getConsVars(c)[0], names)
        slack = scip.getSlackVarIndicator(c)
        if literal is None or slack is None:
            return "indicator"
        row = {"name": name, "coeffs": {slack.name: 1.0}, "sense": "<=", "rhs": 0.0, "only_if": [literal]}
        return {"constraints": [row]}
    if handler in ("SOS1", "SOS2"):  # getConsVals would crash SCIP on an SOS2 without weights: order only
        vars_ = [v.name for v in scip.getConsVars(c)]
        return {"sos": [{"name": name, "type": int(handler[-1]), "vars": vars_}]}
    if handler == "knapsack":
        return {"constraints": _rows(name, dict(scip.getWeightsKnapsack(c)), -1e20, scip.getCapacityKnapsack(c))}
    if handler == "logicor":
        return {"constraints": _rows(name, {v.name: 1.0 for v in scip.getVarsLogicor(c)}, 1.0, 1e20)}
    if handler in ("and", "or"):  # over binaries these are exactly linear
        vars_ = [v.name for v in scip.getConsVars(c)]
        *operands, result = vars_
        if result in operands:
            return handler
        n = len(operands)
        if handler == "and":  # r <= each, r >= sum - (n - 1)
            rows = [_rows(f"{name}[{v}]", {result: 1.0, v: -1.0}, -1e20, 0.0)[0] for v in operands]
            total = {v: 1.0 for v in operands}
            rows += _rows(f"{name}[all]", {**total, result: -1.0}, -1e20, n - 1.0)
        else:  # r >= each, r <= sum
            rows = [_rows(f"{name}[{v}]", {result: 1.0, v: -1.0}, 0.0, 1e20)[0] for v in operands]
            rows += _rows(f"{name}[any]", {**{v: 1.0 for v in operands}, result: -1.0}, 0.0, 1e20)
        return {"constraints": rows}
    return str(handler)


def model_from_scip(scip: Any) -> dict[str, Any]:
    """Read a pyscipopt model back into the declarative format.

    Linear, quadratic, indicator, SOS1/SOS2, knapsack, logicor, and/or constraints are read back and
    re-checked; every other kind (xor, cardinality, general nonlinear, ...) is listed under
    ``unchecked`` by handler and name, so the re-check says what it did not check.
    """
    variables = []
    seen: dict[str, int] = {}
    unchecked: dict[str, list[str]] = {}
    for v in scip.getVars(transformed=False):
        vtype = {"CONTINUOUS": "continuous", "INTEGER": "integer", "BINARY": "binary", "IMPLINT": "integer"}.get(
            v.vtype(), "continuous"
        )
        lb, ub = v.getLbOriginal(), v.getUbOriginal()
        variables.append(
            {"name": v.name, "type": vtype, "lb": None if lb <= -1e19 else lb, "ub": None if ub >= 1e19 else ub}
        )
    names = {v["name"] for v in variables}
    data: dict[str, Any] = {"variables": variables, "constraints": []}
    for c in scip.getConss(transformed=False):
        name = unique_name(c.name, seen)
        entries = _read_constraint(scip, c, name, names)
        if isinstance(entries, str):
            unchecked.setdefault(entries, []).append(name)
            continue
        for key, items in entries.items():
            data.setdefault(key, []).extend(items)
    objective = {}
    for term, coef in scip.getObjective().terms.items():
        if len(term.vartuple) != 1:
            raise ModelError("objective", "non-linear objective term; code mode reads back linear objectives only")
        objective[term.vartuple[0].name] = coef
    if unchecked:
        data["unchecked"] = unchecked_summary(unchecked)
    if objective:
        data["objective"] = {
            "sense": scip.getObjectiveSense(),
            "coeffs": objective,
            "constant": scip.getObjoffset(original=True),
        }
    return data


def _attach_model(out: dict[str, Any], scip: Any) -> None:
    """The model SCIP holds, read back for the re-check (code mode, LP/MPS), with what it cannot check
    moved to ``unchecked``; a model the declarative format cannot hold sets ``model_error`` instead."""
    try:
        out["model"] = model_from_scip(scip)
    except ModelError as exc:
        out["model_error"] = str(exc)
        return
    if "unchecked" in out["model"]:
        out["unchecked"] = out["model"].pop("unchecked")


# The kernel-side reader for code mode: it runs after the user's code, in the same kernel.
