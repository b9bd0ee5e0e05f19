"""Re-checking a ``cp`` certificate where nothing of the original run is: ``solvegraph verify``'s checker.

:func:`check` runs in a fresh sandboxed worker process. It reads the CpModelProto the certificate carries
(``model.pb.txt``, CP-SAT's text format) and checks the claimed solution (one value per variable of the
proto, in its order) twice: with solvegraph's own evaluator over the model read back (every domain and
every constraint it can evaluate, naming the kinds it cannot) and with CP-SAT itself, solving the model
with every variable fixed to its claimed value. It recomputes the objective, and confirms an ``optimal``
claim by solving the proto again and comparing the claimed objective with that solve's bound. It imports
nothing of solvegraph but the model core and the proto reader beside it.

An ``infeasible`` claim names its unsat core (``claim.core``: names of constraints of the proto).
:func:`check` then solves the proto restricted to them with CP-SAT: every other named constraint is
switched off (a fresh free literal enforces it), every variable and domain and every unnamed constraint
(the all-different, no-overlap and interval definitions the core was found with) kept, the objective
dropped. Switching constraints off only relaxes a model, so an infeasible restriction proves the whole
model infeasible; a point refutes the claim. Then minimality, as information: a core need not be minimal.
"""

from __future__ import annotations

import time
from typing import Any

from .._answers import answer_mismatch
from .._readback import relative_gap, unchecked_summary
from ..model import ModelError, check_solution, parse_model
from ._cpsat import _solver, status_name
from ._proto import ProtoReader

ARTIFACT = "model.pb.txt"
TOLERANCE = 1e-6
DEFAULT_TIME_LIMIT = 60.0
FIXED_TIME_LIMIT = 30.0  # CP-SAT's check of a fixed point is propagation, not search


def line(check: str, outcome: str, detail: str) -> dict[str, str]:
    return {"check": check, "outcome": outcome, "detail": detail}


def _integer(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def claimed(certificate: dict[str, Any]) -> tuple[str, list[int], dict[str, Any], float | None]:
    """The claim's status, solution, named values and objective; a ValueError naming a bad field."""
    claim = certificate.get("claim")
    if not isinstance(claim, dict):
        raise ValueError("claim: missing, or not an object")
    status, solution, values, objective = (claim.get(k) for k in ("status", "solution", "values", "objective"))
    if not isinstance(status, str):
        raise ValueError("claim.status: missing, or not a string")
    if not isinstance(solution, list) or not solution or not all(_integer(x) for x in solution):
        raise ValueError("claim.solution: missing, or not a list of integers")
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        raise ValueError("claim.values: missing, or not an object")
    if objective is not None and (not isinstance(objective, (int, float)) or isinstance(objective, bool)):
        raise ValueError("claim.objective: not a number")
    return status, solution, values, objective


def read_proto(certificate: dict[str, Any]) -> Any:
    from ortools.sat.python import cp_model

    artifacts = certificate.get("artifacts")
    if not isinstance(artifacts, dict):
        raise ValueError("artifacts: missing, or not an object")
    text = artifacts.get(ARTIFACT)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"artifacts.{ARTIFACT}: missing, or not a string")
    cp = cp_model.CpModel()
    try:
        cp.Proto().parse_text_format(text)
    except Exception:
        raise ValueError(f"artifacts.{ARTIFACT}: CP-SAT could not read it (truncated or not a CpModelProto)") from None
    return cp


def check(certificate: dict[str, Any], options: dict[str, Any]) -> list[dict[str, str]]:
    """Every check of a cp certificate, one line each (see the module docstring)."""
    mismatch = answer_mismatch(certificate)
    if mismatch is not None:  # an answer that contradicts the claim: refuted whatever the claim's own checks say
        return [mismatch]
    claim = certificate.get("claim")
    if isinstance(claim, dict) and claim.get("status") == "infeasible":
        return check_infeasible(certificate, options)
    status, solution, values, objective = claimed(certificate)
    cp = read_proto(certificate)
    proto = cp.Proto()
    reader = ProtoReader(proto)
    out = [line("model file", "passed", f"CP-SAT read {ARTIFACT}: {len(proto.variables)} variables, "
                f"{len(proto.constraints)} constraints")]  # fmt: skip
    if len(solution) != len(reader.names):
        detail = f"{len(solution)} values for {len(reader.names)} variables"
        return [*out, line("values", "failed", detail)]
    by_name = dict(zip(reader.names, solution, strict=True))
    differ = [n for n, x in values.items() if n not in by_name or by_name[n] != x]
    if differ:
        return [
            *out,
            line("values", "failed", f"the answer's values of {', '.join(differ[:5])} are not the solution's"),
        ]
    out.append(line("values", "passed", f"a value for each of the {len(solution)} variables"))
    out.append(_domains(proto, reader.names, solution))
    out += _constraints(reader, by_name)
    out.append(_fixed(cp, solution))
    out.append(_objective(proto, solution, objective))
    out.append(_optimality(cp, status, objective, options))
    return out


def _domains(proto: Any, names: list[str], solution: list[int]) -> dict[str, str]:
    bad = []
    for v, name, x in zip(proto.variables, names, solution, strict=True):
        domain = list(v.domain)
        if not any(domain[i] <= x <= domain[i + 1] for i in range(0, len(domain), 2)):
            bad.append(f"{name} = {x} is outside its domain {domain}")
    if bad:
        return line("domains", "failed", "; ".join(bad[:5]))
    return line("domains", "passed", f"{len(names)} variables within their domains")


def _constraints(reader: ProtoReader, values: dict[str, int]) -> list[dict[str, str]]:
    try:
        data = reader.read()
        data.pop("objective", None)  # the objective is checked on its own
        model = parse_model(data, kind="cp")
    except ModelError as exc:
        return [line("constraints (solvegraph's evaluation)", "not checked", f"the model cannot be read back: {exc}")]
    problems = check_solution(model, {k: float(v) for k, v in values.items()}, None, tol=TOLERANCE)
    out = [
        line("constraints (solvegraph's evaluation)", "failed", "; ".join(problems[:5]))
        if problems
        else line("constraints (solvegraph's evaluation)", "passed", "every constraint read back holds")
    ]
    if reader.unchecked:
        out.append(line("constraints solvegraph cannot evaluate", "not checked",
                        ", ".join(unchecked_summary(reader.unchecked)) + " (CP-SAT's check covers them)"))  # fmt: skip
    return out


def _fixed(cp: Any, solution: list[int]) -> dict[str, str]:
    """CP-SAT's own check: the model with every variable fixed to the claimed value must be feasible."""
    from ortools.sat.python import cp_model

    fixed = cp.clone()
    for i, x in enumerate(solution):
        fixed.add(fixed.get_int_var_from_proto_index(i) == x)
    solver = _solver(FIXED_TIME_LIMIT, 1)
    status = solver.solve(fixed)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return line("constraints (CP-SAT's check)", "passed", "CP-SAT finds the point feasible for every constraint")
    if status in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
        return line("constraints (CP-SAT's check)", "failed", "CP-SAT finds the point infeasible")
    return line("constraints (CP-SAT's check)", "not checked", f"CP-SAT could not decide ({status_name(status)})")


def _objective(proto: Any, solution: list[int], objective: float | None) -> dict[str, str]:
    if not proto.has_objective():
        if objective is not None:
            return line("objective", "failed", f"the model has no objective; the claim says {objective:.10g}")
        return line("objective", "passed", "no objective, none claimed")
    o = proto.objective
    scale = o.scaling_factor or 1.0
    recomputed = scale * (sum(c * solution[v] for v, c in zip(o.vars, o.coeffs, strict=True)) + o.offset)
    if objective is None:
        return line("objective", "failed", f"the claim has no objective; the model's is {recomputed:.10g}")
    if abs(recomputed - objective) > TOLERANCE * max(1.0, abs(recomputed)):
        return line("objective", "failed", f"claimed {objective:.10g}, recomputed {recomputed:.10g}")
    return line("objective", "passed", f"recomputed {recomputed:.10g}, as claimed")


def _optimality(cp: Any, status: str, objective: float | None, options: dict[str, Any]) -> dict[str, str]:
    if status != "optimal":
        return line("optimality", "not checked", f"the claim is {status}, not optimal")
    if objective is None or not cp.Proto().has_objective():
        return line("optimality", "passed", "a satisfaction problem: any feasible point is optimal")
    limit = float(options.get("time_limit") or DEFAULT_TIME_LIMIT)
    solver = _solver(limit, 1)
    own = status_name(solver.solve(cp))
    if own in ("infeasible", "model_invalid"):
        return line("optimality", "failed", f"solved again, the model is {own}")
    bound = solver.best_objective_bound
    if relative_gap(objective, bound) <= TOLERANCE:
        return line("optimality", "passed", f"solved again ({own}): bound {bound:.10g} meets the objective")
    if own == "optimal":
        return line("optimality", "failed", f"solved again, the optimum is {solver.objective_value:.10g}, "
                    f"not {objective:.10g}")  # fmt: skip
    return line("optimality", "not checked", f"solved again for {limit:g} s ({own}): the bound {bound:.10g} leaves "
                "a gap to the claimed objective")  # fmt: skip


MAX_MINIMAL = 50  # members re-solved one by one for minimality; past that it is not checked


def restricted_status(cp: Any, keep: set[str], time_limit: float) -> str:
    """CP-SAT on the proto with every named constraint outside ``keep`` switched off and no objective:
    ``"infeasible"``, ``"feasible"``, or CP-SAT's status when it cannot tell in ``time_limit`` seconds."""
    from ortools.sat.python import cp_model

    restricted = cp.clone()
    proto = restricted.Proto()
    for ct in list(proto.constraints):
        if ct.name and ct.name not in keep:
            ct.enforcement_literal.append(restricted.new_bool_var(f"off[{ct.name}]").index)
    restricted.clear_objective()
    status = _solver(max(0.05, time_limit), 1).solve(restricted)
    if status == cp_model.INFEASIBLE:
        return "infeasible"
    return "feasible" if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else status_name(status)


def check_infeasible(certificate: dict[str, Any], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Every check of an ``infeasible`` cp certificate (see the module docstring)."""
    core = certificate["claim"].get("core")
    if not isinstance(core, list) or not core or not all(isinstance(n, str) and n for n in core):
        raise ValueError("claim.core: missing, or not a non-empty list of constraint names")
    core = list(dict.fromkeys(core))
    cp = read_proto(certificate)
    proto = cp.Proto()
    names = {ct.name for ct in proto.constraints if ct.name}
    unknown = [n for n in core if n not in names]
    if unknown:
        raise ValueError(f"claim.core: constraint name(s) the model does not have: {', '.join(unknown[:5])}")
    unnamed = sum(1 for ct in proto.constraints if not ct.name)
    read = f"CP-SAT read {ARTIFACT}: {len(proto.variables)} variables, {len(proto.constraints)} constraints"
    out: list[dict[str, Any]] = [line("model file", "passed", read)]
    deadline = time.monotonic() + float(options.get("time_limit") or DEFAULT_TIME_LIMIT)
    what = f"the {len(core)} core constraint(s) and the {unnamed} unnamed one(s), every domain kept"
    own = restricted_status(cp, set(core), deadline - time.monotonic())
    if own == "infeasible":
        out.append(line("infeasibility (CP-SAT)", "passed", f"{what}: infeasible"))
    elif own == "feasible":
        out.append(line("infeasibility (CP-SAT)", "failed",
                        f"{what}: a feasible point exists, so they do not prove infeasibility"))  # fmt: skip
        return out
    else:  # the claim stands on this re-solve: undecided is not verified
        out.append({**line("infeasibility (CP-SAT)", "not checked", f"{what}: undecided ({own})"), "required": True})
        return out
    out.append(_minimal(cp, core, deadline))
    return out


def _minimal(cp: Any, core: list[str], deadline: float) -> dict[str, str]:
    """Whether dropping any one member makes the rest feasible; a core that is not minimal still proves
    infeasibility, so that is said, never failed."""
    if len(core) > MAX_MINIMAL:
        return line("minimality", "not checked", f"{len(core)} members, more than {MAX_MINIMAL}")
    for member in core:
        left = deadline - time.monotonic()
        if left <= 0:
            return line("minimality", "not checked", "the time limit was reached")
        status = restricted_status(cp, set(core) - {member}, left)
        if status == "infeasible":
            return line("minimality", "not checked", f"not minimal: without {member} the rest is still infeasible "
                        "(a core need not be minimal)")  # fmt: skip
        if status != "feasible":
            return line("minimality", "not checked", f"without {member}: undecided ({status})")
    return line("minimality", "passed", f"dropping any one of the {len(core)} makes the rest feasible")
