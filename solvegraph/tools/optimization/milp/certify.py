"""Re-checking a ``milp`` certificate where nothing of the original run is: ``solvegraph verify``'s checker.

:func:`check` runs in a fresh sandboxed worker process. It reads the model file the certificate carries
(``model.cip``, SCIP's own format, else ``model.mps``) with SCIP, and checks the claimed values against it
twice: with solvegraph's own evaluator over the model read back (every bound, integrality requirement and
constraint it can evaluate, naming the kinds it cannot) and with SCIP's own feasibility check (every
constraint handler, those included). It recomputes the objective, and confirms an ``optimal`` claim by
solving the file again and comparing the claimed objective with that solve's dual bound. It imports
nothing of solvegraph but the model core and the SCIP reader beside it.

An ``infeasible`` claim names its irreducible infeasible subsystem (``claim.iis``: constraint names of the
file). :func:`check` then re-solves the file restricted to those constraints, every variable with its
bounds and integrality kept and the objective dropped: with SCIP, and with HiGHS from ``model.mps`` when
the model is linear (the file is there only then); either finding a point refutes the claim. Dropping
constraints only relaxes a model, so an infeasible restriction proves the whole model infeasible. Then
irreducibility: dropping any one member must make the rest feasible (not checked past
``MAX_IRREDUCIBLE`` members or the time limit).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from typing import Any

from .._answers import answer_mismatch
from .._readback import relative_gap
from ..crosscheck import _stdout_to_stderr
from ..model import MAX_MAGNITUDE, ModelError, check_solution, parse_model
from ._scip import _STATUS, model_from_scip

FILES = {"model.cip": "END", "model.mps": "ENDATA"}  # what SCIP reads, by preference, and how each file ends
TOLERANCE = 1e-6  # relative, as the solve-time re-check (feasibility and the optimality gap)
DEFAULT_TIME_LIMIT = 60.0


def line(check: str, outcome: str, detail: str) -> dict[str, str]:
    return {"check": check, "outcome": outcome, "detail": detail}


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def claimed(certificate: dict[str, Any]) -> tuple[str, dict[str, float], float | None]:
    """The claim's status, every variable's value (the answer's and the auxiliary ones) and objective;
    a ValueError naming the field when it is missing or ill-typed."""
    claim = certificate.get("claim")
    if not isinstance(claim, dict):
        raise ValueError("claim: missing, or not an object")
    status, objective = claim.get("status"), claim.get("objective")
    if not isinstance(status, str):
        raise ValueError("claim.status: missing, or not a string")
    values: dict[str, float] = {}
    for field in ("values", "auxiliary_values"):
        part = claim.get(field, {} if field == "auxiliary_values" else None)
        if not isinstance(part, dict) or not all(isinstance(k, str) and _number(v) for k, v in part.items()):
            raise ValueError(f"claim.{field}: missing, or not an object of finite numbers")
        values.update(part)
    if not values:
        raise ValueError("claim.values: empty: there is no solution to check")
    if objective is not None and not _number(objective):
        raise ValueError("claim.objective: not a finite number")
    return status, values, objective


def model_file(certificate: dict[str, Any]) -> tuple[str, str]:
    artifacts = certificate.get("artifacts")
    if not isinstance(artifacts, dict):
        raise ValueError("artifacts: missing, or not an object")
    for name, end in FILES.items():
        text = artifacts.get(name)
        if text is None:
            continue
        if not isinstance(text, str):
            raise ValueError(f"artifacts.{name}: not a string")
        if not text.rstrip().endswith(end):
            raise ValueError(f"artifacts.{name}: truncated (it does not end with {end})")
        return name, text
    raise ValueError(f"artifacts: no model file ({' or '.join(FILES)})")


def read_scip(name: str, text: str) -> Any:
    """The model file read by SCIP, from a file in this process's scratch directory."""
    from pyscipopt import Model

    fd, path = tempfile.mkstemp(suffix=os.path.splitext(name)[1], dir=".")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    scip = Model("certificate")
    scip.hideOutput()
    try:
        scip.readProblem(path)
    except Exception:
        raise ValueError(f"artifacts.{name}: SCIP could not read it") from None
    finally:
        os.unlink(path)
    return scip


def check(certificate: dict[str, Any], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Every check of a milp certificate, one line each (see the module docstring)."""
    mismatch = answer_mismatch(certificate)
    if mismatch is not None:  # an answer that contradicts the claim: refuted whatever the claim's own checks say
        return [mismatch]
    claim = certificate.get("claim")
    if isinstance(claim, dict) and claim.get("status") == "infeasible":
        return check_infeasible(certificate, options)
    status, values, objective = claimed(certificate)
    name, text = model_file(certificate)
    scip = read_scip(name, text)
    variables = scip.getVars(transformed=False)
    out = [line("model file", "passed", f"SCIP read {name}: {len(variables)} variables, "
                f"{len(scip.getConss(transformed=False))} constraints")]  # fmt: skip
    names = {v.name for v in variables}
    unknown = sorted(set(values) - names)
    missing = sorted(names - set(values))
    if unknown or missing:
        why = []
        if missing:
            why.append(f"no value for {len(missing)} variable(s) ({', '.join(missing[:5])})")
        if unknown:
            why.append(f"values for {len(unknown)} name(s) the model does not have ({', '.join(unknown[:5])})")
        return [*out, line("values", "failed", "; ".join(why))]
    out.append(line("values", "passed", f"a value for each of the {len(names)} variables"))
    out.append(_bounds(variables, values))
    out += _constraints(scip, values)
    out.append(_scip_check(scip, values))
    out.append(_objective(scip, values, objective))
    out.append(_optimality(scip, status, objective, options))
    return out


def _bounds(variables: list[Any], values: dict[str, float]) -> dict[str, str]:
    bad = []
    for v in variables:
        x, lb, ub = values[v.name], v.getLbOriginal(), v.getUbOriginal()
        if (lb > -1e19 and x < lb - TOLERANCE * max(1.0, abs(lb))) or (
            ub < 1e19 and x > ub + TOLERANCE * max(1.0, abs(ub))
        ):
            bad.append(f"{v.name} = {x:g} is outside [{lb:g}, {ub:g}]")
        elif v.vtype() in ("INTEGER", "BINARY", "IMPLINT") and abs(x - round(x)) > 1e-5:
            bad.append(f"{v.name} = {x:g} must be integer")
    if bad:
        return line(
            "bounds and integrality",
            "failed",
            "; ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""),
        )
    return line(
        "bounds and integrality", "passed", f"{len(variables)} variables within their bounds, integers integral"
    )


def _constraints(scip: Any, values: dict[str, float]) -> list[dict[str, str]]:
    """solvegraph's own evaluation of every constraint it can read back, and the names of those it cannot."""
    try:
        data = model_from_scip(scip)
        unchecked = data.pop("unchecked", [])
        data.pop("objective", None)  # the objective is checked on its own
        model = parse_model(data, kind="milp")
    except ModelError as exc:
        return [line("constraints (solvegraph's evaluation)", "not checked", f"the model cannot be read back: {exc}")]
    problems = check_solution(model, values, None, tol=TOLERANCE)
    count = len(model.constraints) + len(model.sos)
    out = [
        line("constraints (solvegraph's evaluation)", "failed", "; ".join(problems[:5]))
        if problems
        else line("constraints (solvegraph's evaluation)", "passed", f"{count} constraints hold")
    ]
    if unchecked:
        out.append(line("constraints solvegraph cannot evaluate", "not checked",
                        ", ".join(unchecked) + " (SCIP's own check covers them)"))  # fmt: skip
    return out


def _scip_check(scip: Any, values: dict[str, float]) -> dict[str, str]:
    """SCIP's own check of the point against every constraint handler of the original problem."""
    sol = scip.createOrigSol()
    for v in scip.getVars(transformed=False):
        scip.setSolVal(sol, v, values[v.name])
    feasible = scip.checkSol(sol, printreason=False, completely=True, checkbounds=True, checkintegrality=True,
                             checklprows=True, original=True)  # fmt: skip
    if feasible:
        return line("constraints (SCIP's check)", "passed", "SCIP finds the point feasible for every constraint")
    return line("constraints (SCIP's check)", "failed", "SCIP finds the point infeasible")


def _objective_of(scip: Any, values: dict[str, float]) -> float:
    total = scip.getObjoffset(original=True)
    for v in scip.getVars(transformed=False):
        total += v.getObj() * values[v.name]
    return float(total)


def _objective(scip: Any, values: dict[str, float], objective: float | None) -> dict[str, str]:
    recomputed = _objective_of(scip, values)
    if objective is None:
        if any(v.getObj() for v in scip.getVars(transformed=False)):
            return line("objective", "failed", f"the claim has no objective; the model's is {recomputed:.10g}")
        return line("objective", "passed", "no objective, none claimed")
    if abs(recomputed - objective) > TOLERANCE * max(1.0, abs(recomputed)):
        return line("objective", "failed", f"claimed {objective:.10g}, recomputed {recomputed:.10g}")
    return line("objective", "passed", f"recomputed {recomputed:.10g}, as claimed")


def _optimality(scip: Any, status: str, objective: float | None, options: dict[str, Any]) -> dict[str, str]:
    """An ``optimal`` claim: solve the file again; its dual bound must reach the claimed objective."""
    if status != "optimal":
        return line("optimality", "not checked", f"the claim is {status}, not optimal")
    if objective is None:
        return line("optimality", "passed", "a feasibility problem: any feasible point is optimal")
    limit = float(options.get("time_limit") or DEFAULT_TIME_LIMIT)
    scip.setParam("limits/time", limit)
    scip.optimize()
    own = _STATUS.get(scip.getStatus(), scip.getStatus())
    minimize = scip.getObjectiveSense() == "minimize"
    if own in ("infeasible", "unbounded", "infeasible_or_unbounded"):
        return line("optimality", "failed", f"solved again, the model is {own}")
    bound = scip.getDualbound()
    if math.isfinite(bound) and abs(bound) < 1e19 and relative_gap(objective, bound) <= TOLERANCE:
        return line("optimality", "passed", f"solved again ({own}): dual bound {bound:.10g} meets the objective")
    if scip.getNSols() > 0:
        best = scip.getSolObjVal(scip.getBestSol())
        better = best < objective if minimize else best > objective
        if better and relative_gap(objective, best) > TOLERANCE:
            return line("optimality", "failed", f"solved again, a better objective {best:.10g} exists")
    if own == "optimal":
        return line("optimality", "failed", f"solved again, the dual bound {bound:.10g} does not meet {objective:.10g}")
    return line("optimality", "not checked", f"solved again for {limit:g} s ({own}): the dual bound {bound:.10g} "
                "leaves a gap to the claimed objective")  # fmt: skip


MAX_IRREDUCIBLE = 50  # members re-solved one by one for irreducibility; past that it is not checked


def claimed_iis(certificate: dict[str, Any]) -> list[str]:
    """The claim's IIS, constraint names; a ValueError naming the field when it is missing or ill-typed."""
    iis = certificate["claim"].get("iis")
    if not isinstance(iis, list) or not iis or not all(isinstance(n, str) and n for n in iis):
        raise ValueError("claim.iis: missing, or not a non-empty list of constraint names")
    return list(dict.fromkeys(iis))


def unsound(scip: Any) -> str | None:
    """Why SCIP's word "infeasible" on this model file is no proof, or None.

    Two things a file can say that SCIP's solve takes on trust and its own check does not: a continuous
    variable marked implied integral (``implied: weak``, pyscipopt's ``vtype="M"``), which presolve treats as
    an integer, so ``2x = 1`` with ``x`` in [0, 1] comes out infeasible; and numbers at SCIP's infinity
    (1e20) where a finite one belongs, which turn ``x >= 1e25`` into an impossible ``x >= +inf``. Values past
    the model core's range (``MAX_MAGNITUDE``) are refused too, as a model the tool builds refuses them.
    """
    infinity = 1e19

    def out_of_range(low: float, high: float) -> bool:  # a side at the wrong infinity, or past the range
        return low >= infinity or high <= -infinity or any(MAX_MAGNITUDE < abs(x) < infinity for x in (low, high))

    for v in scip.getVars(transformed=False):
        if v.vtype() == "CONTINUOUS" and v.isImpliedIntegral():
            return f"variable {v.name} is continuous but marked implied integral (SCIP's solve trusts that mark)"
        lb, ub = v.getLbOriginal(), v.getUbOriginal()
        if out_of_range(lb, ub):
            return f"variable {v.name} has a bound past {MAX_MAGNITUDE:g} ([{lb:g}, {ub:g}])"
    for c in scip.getConss(transformed=False):
        if c.getConshdlrName() != "linear":
            continue
        lhs, rhs = scip.getLhs(c), scip.getRhs(c)
        if out_of_range(lhs, rhs):
            return f"constraint {c.name} has a side past {MAX_MAGNITUDE:g} ([{lhs:g}, {rhs:g}])"
        if any(abs(a) > MAX_MAGNITUDE for a in scip.getValsLinear(c).values()):
            return f"constraint {c.name} has a coefficient past {MAX_MAGNITUDE:g}"
    return None


def restricted_status(name: str, text: str, keep: set[str], time_limit: float) -> str:
    """SCIP on the model file with only the constraints in ``keep`` (every variable, bound and integrality
    kept; no objective): ``"infeasible"``, ``"feasible"`` (a point was found), SCIP's status when it could
    not tell in ``time_limit`` seconds, or ``"unsound: <why>"`` for a file whose infeasibility SCIP's
    solve cannot prove (:func:`unsound`)."""
    from pyscipopt import Expr

    scip = read_scip(name, text)
    why = unsound(scip)
    if why is not None:
        return f"unsound: {why}"
    for c in scip.getConss(transformed=False):
        if c.name not in keep:
            scip.delCons(c)
    scip.setObjective(Expr(), clear=True)
    scip.setParam("limits/time", max(0.05, time_limit))
    scip.setParam("limits/solutions", 1)
    scip.optimize()
    if scip.getStatus() == "infeasible":
        return "infeasible"
    return "feasible" if scip.getNSols() > 0 else _STATUS.get(scip.getStatus(), scip.getStatus())


def highs_restricted_status(text: str, keep: set[str], time_limit: float) -> str:
    """HiGHS on ``model.mps`` with only the rows in ``keep`` (as :func:`restricted_status`); ``"unreadable"``
    when HiGHS cannot read it or does not find every name in it."""
    import highspy
    import numpy as np

    fd, path = tempfile.mkstemp(suffix=".mps", dir=".")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    try:
        with _stdout_to_stderr():  # HiGHS prints its banner from C on fd 1, the worker's reply stream
            h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        if h.readModel(path) != highspy.HighsStatus.kOk:
            return "unreadable"
    finally:
        os.unlink(path)
    h.setOptionValue("time_limit", max(0.05, time_limit))
    h.setOptionValue("threads", 1)
    lp = h.getLp()
    rows = list(lp.row_names_)
    if not keep <= set(rows):
        return "unreadable"
    drop = np.array([i for i, n in enumerate(rows) if n not in keep], dtype=np.int32)
    if len(drop):
        h.deleteRows(len(drop), drop)
    cols = lp.num_col_
    h.changeColsCost(cols, np.arange(cols, dtype=np.int32), np.zeros(cols, dtype=float))
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible"
    if status == highspy.HighsModelStatus.kOptimal:
        return "feasible"
    return h.modelStatusToString(status).lower()


def check_infeasible(certificate: dict[str, Any], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Every check of an ``infeasible`` milp certificate (see the module docstring)."""
    iis = claimed_iis(certificate)
    name, text = model_file(certificate)
    scip = read_scip(name, text)
    names = {c.name for c in scip.getConss(transformed=False)}
    unknown = [n for n in iis if n not in names]
    if unknown:
        raise ValueError(f"claim.iis: constraint name(s) the model does not have: {', '.join(unknown[:5])}")
    read = f"SCIP read {name}: {len(scip.getVars(transformed=False))} variables, {len(names)} constraints"
    out: list[dict[str, Any]] = [line("model file", "passed", read)]
    deadline = time.monotonic() + float(options.get("time_limit") or DEFAULT_TIME_LIMIT)
    keep = set(iis)
    what = f"the {len(iis)} IIS constraint(s) alone, every bound and integrality kept"
    own = restricted_status(name, text, keep, deadline - time.monotonic())
    # The claim stands on this re-solve of the certificate's own file: verified only if it passed. HiGHS
    # reads a second artifact (model.mps), so it can refute the claim but never carry it alone.
    out.append({**_infeasible_line("infeasibility (SCIP)", own, what), "required": True})
    mps = (certificate.get("artifacts") or {}).get("model.mps")
    if isinstance(mps, str):
        highs = highs_restricted_status(mps, keep, deadline - time.monotonic())
        if highs == "unreadable":
            out.append(line("infeasibility (HiGHS)", "not checked", "HiGHS could not read model.mps with its names"))
        else:
            out.append(_infeasible_line("infeasibility (HiGHS, from model.mps)", highs, what))
    else:
        out.append(line("infeasibility (HiGHS)", "not checked", "no model.mps (written only for a linear model)"))
    if own == "infeasible":
        out.append(_irreducible(name, text, iis, deadline))
    return out


def _infeasible_line(check: str, status: str, what: str) -> dict[str, Any]:
    if status == "infeasible":
        return line(check, "passed", f"{what}: infeasible")
    if status == "feasible":
        return line(check, "failed", f"{what}: a feasible point exists, so they do not prove infeasibility")
    if status.startswith("unsound: "):
        return line(check, "not checked", f"SCIP's solve is no proof here: {status.removeprefix('unsound: ')}")
    return line(check, "not checked", f"{what}: undecided ({status})")


def _irreducible(name: str, text: str, iis: list[str], deadline: float) -> dict[str, str]:
    """Dropping any one member must make the rest feasible: the subsystem is irreducible."""
    if len(iis) > MAX_IRREDUCIBLE:
        return line("irreducibility", "not checked", f"{len(iis)} members, more than {MAX_IRREDUCIBLE}")
    for member in iis:
        left = deadline - time.monotonic()
        if left <= 0:
            return line("irreducibility", "not checked", "the time limit was reached")
        status = restricted_status(name, text, set(iis) - {member}, left)
        if status == "infeasible":
            return line("irreducibility", "failed", f"without {member} the rest is still infeasible")
        if status != "feasible":
            return line("irreducibility", "not checked", f"without {member}: undecided ({status})")
    return line("irreducibility", "passed", f"dropping any one of the {len(iis)} makes the rest feasible")
