"""The host side shared by the solvers: their options, the worker call, code mode, the result and its re-check.

Shared by ``milp`` and ``cp`` so both routes (declarative model or solver code in the kernel) produce the
same result shape and go through the same re-check. Each solver hands in what is its own (its worker's
functions, its options model, its name); nothing here names a solver.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ...plugins import CodeKernel, ToolOptions, ToolResult, ToolSession, Verifier
from ...sandbox import SOLVER_STACK_MB, Limits, resolve_sandbox
from ...sandbox._worker import SandboxWorker
from ._answers import says_infeasible
from ._readback import relative_gap
from .model import ModelError, OptModel, check_solution, objective_value, parse_model

SOLVED = ("optimal", "feasible", "time_limit")
# What code mode's cell may print (the model file and the claimed solution): the kernel's usual cap of a
# cell's output (20,000 characters) cut a 300-variable model's read-back short.
MAX_EXPORT_CHARS = 50_000_000
# Seconds past a call's time limit before its solver process is stopped. The limit counts from the start of
# the call (parsing and building included); the grace covers reading the solution back. SCIP does not
# always look at its clock (its postsolve of a 100,000-variable chain LP ran for minutes past it).
TIME_LIMIT_GRACE_S = 3.0
MAX_VALUES_SHOWN = 60


def _fmt(x: float | None) -> str:
    if x is None:
        return "none"
    return str(round(x)) if abs(x - round(x)) < 1e-9 and abs(x) < 1e15 else f"{x:.10g}"


def note_model_error(result: dict[str, Any], kind: str) -> None:
    """A model read back from the solver (code mode, LP/MPS) that the declarative model cannot hold is
    marked, so the verdict says the solution was not re-checked instead of rejecting it."""
    if "model" in result:
        try:
            parse_model(result["model"], kind=kind)
        except ModelError as exc:
            result["model_error"] = str(exc)


def render_result(result: dict[str, Any]) -> ToolResult:
    """Text for the model (ending in the answer line) plus the structured data for checks."""
    status = result["status"]
    lines = [f"status: {status}"]
    if status in SOLVED and result.get("values"):
        gap, bound = result.get("gap"), result.get("dual_bound")
        lines.append(
            f"solve time: {result.get('solve_time', 0):.3f} s"
            + (f", dual bound: {_fmt(bound)}" if bound is not None else "")
            + (f", gap: {gap:.3g}" if gap is not None else "")
        )
        shown = list(result["values"].items())[:MAX_VALUES_SHOWN]
        lines.append(
            "values: "
            + ", ".join(f"{k} = {_fmt(v)}" for k, v in shown)
            + (f" … ({len(result['values'])} in all)" if len(result["values"]) > MAX_VALUES_SHOWN else "")
        )
        if status == "time_limit":
            lines.append("the time limit was reached: this is the best solution found, not proven optimal")
        lines.append(
            f"objective = {_fmt(result.get('objective'))}"
            if result.get("objective") is not None
            else "feasible (no objective)"
        )
    elif status == "infeasible":
        core = result.get("iis") or result.get("unsat_core") or []
        if core:
            lines.append("conflicting constraints: " + ", ".join(core))
        lines.append("infeasible")
    elif status == "unbounded":
        if result.get("missing_bounds"):
            lines.append("likely missing bound: " + "; ".join(result["missing_bounds"]))
        lines.append("unbounded")
    else:
        lines.append(status)
    return ToolResult(ok=True, output="\n".join(lines), data=result)


class SolverOptions(ToolOptions):
    """The options both solvers take (``[tools.milp]``, ``[tools.cp]``)."""

    memory_mb: int = Field(
        4096,
        ge=64,
        description="Memory limit of the sandboxed solver process, in MB (the kernel_memory_mb setting sets it too).",
    )
    cross_check: bool = Field(
        True,
        description="After a solve that found a solution, check it by independent routes (exact rationals, a "
        "second solver) in a fresh sandboxed worker; agreement makes the answer cross-verified.",
    )
    cross_check_time_limit: float = Field(
        30.0,
        gt=0,
        description="Seconds the cross-check may take per answer; a route that does not finish is not run.",
    )


@dataclass(frozen=True)
class SolverWorker:
    """A solver's sandboxed worker: what it is called, its options model, and the functions it may run there."""

    solver: str  # "SCIP", shown in errors
    options: type[SolverOptions]
    functions: tuple[Callable[..., Any], ...]

    def allowed(self) -> list[str]:
        return [target(fn) for fn in self.functions]


def target(fn: Callable[..., Any]) -> str:
    """``module:function``, how the sandboxed worker names what it may import and call."""
    return f"{fn.__module__}:{fn.__name__}"


def solve_in_worker(
    session: ToolSession,
    spec: SolverWorker,
    function: Callable[..., Any],
    *args: Any,
    time_limit: float,
    threads: int,
) -> ToolResult | dict[str, Any]:
    """Run ``function(*args, time_limit, threads)`` in the session's sandboxed worker for this solver.

    The solver never runs in solvegraph's process: a segfault, a memory blow-up or a
    hang ends the worker (replaced on the next call), and the caller gets a tool error. The worker's stack
    is large (``SOLVER_STACK_MB``) and is stopped ``TIME_LIMIT_GRACE_S`` after the time limit, so a
    call ends as ``time_limit`` then at the latest, whatever the solver does.
    """
    sandbox = resolve_sandbox(session.sandbox)
    memory_mb = session.tool_options(spec.options).memory_mb
    worker = session.resource(
        f"{spec.options.section}_worker",
        lambda: SandboxWorker(sandbox, spec.allowed(), Limits(memory_mb=memory_mb, stack_mb=SOLVER_STACK_MB)),
        lambda w: w.close(),
        alive=lambda w: w.alive,
    )
    return _call(worker, spec, function, args, time_limit, threads, memory_mb)


def fresh_worker(session: ToolSession, spec: SolverWorker) -> SandboxWorker:
    """A new sandboxed solver process for one call, to be closed after it: it shares nothing with any
    earlier call nor with the model's kernel (code mode's re-check of what the kernel claims)."""
    limits = Limits(memory_mb=session.tool_options(spec.options).memory_mb, stack_mb=SOLVER_STACK_MB)
    return SandboxWorker(resolve_sandbox(session.sandbox), spec.allowed(), limits)


def _call(
    worker: SandboxWorker,
    spec: SolverWorker,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    time_limit: float,
    threads: int,
    memory_mb: int,
) -> ToolResult | dict[str, Any]:
    solver = spec.solver
    deadline = time_limit + TIME_LIMIT_GRACE_S
    outcome, value = worker.call(target(function), *args, time_limit, threads, deadline_s=deadline)
    if outcome == "ok":
        return value
    if outcome == "error":
        return ToolResult.failure(f"invalid model: {value}")
    if outcome == "timeout":  # the limit is enforced: the process is stopped, and no solution came back
        return ToolResult(
            ok=False,
            output="status: time_limit",
            error=f"time_limit: {solver} did not return within its time limit of {time_limit:g} s "
            f"(+{TIME_LIMIT_GRACE_S:g} s grace); its process was stopped, so no solution was found in time",
            data={"status": "time_limit", "values": {}, "objective": None, "stopped": True},
        )
    if outcome == "memory":
        return ToolResult.failure(
            f"{solver} crashed or ran out of memory ({memory_mb} MB) in its sandboxed process ({value}); "
            "solvegraph is unaffected: simplify or shrink the model"
        )
    return ToolResult.failure(f"{solver} failed: {value}")


def declarative_result(result: dict[str, Any], raw_model: dict[str, Any] | None) -> ToolResult:
    """Finish a solve of a declarative model: keep the model for the re-check.

    The model was validated once, in the sandboxed worker (which also named any likely missing bound):
    parsing it here too cost as much again as a quick solve (31 ms for 12k nonzeros).
    """
    result["model"] = raw_model
    return render_result(result)


@dataclass(frozen=True)
class Recheck:
    """Code mode's re-check outside the kernel: the kernel's cell prints ``{"format", "text", "claim"}``
    (the model file and the claimed solution), and ``function`` of ``worker`` re-checks them in a fresh
    sandboxed process."""

    worker: SolverWorker
    function: Callable[..., Any]


def code_mode(
    session: ToolSession,
    code: str,
    read_back: str,
    variable: str,
    what: str,
    *,
    kind: str,
    time_limit: float,
    recheck: Recheck | None = None,
) -> ToolResult:
    """Run solver code in the session's kernel, then read the model object back from it.

    With ``recheck``, the kernel only writes the model file and its claim; nothing computed there counts
    as evidence: a fresh sandboxed worker reads the file, solves it again and gives the dual bound the
    verdict relies on. Without it (an outside solver plugin's choice), the kernel's read-back is the result.
    The kernel is the python plugin's, reached through the session by its interface: no tool imports another.
    """
    try:
        kernel = session.service(CodeKernel)
    except LookupError as exc:
        return ToolResult.failure(f"code mode needs the python tool's kernel: {exc}")
    if recheck is None:
        return _code_mode(session, kernel, code, read_back, variable, what, kind, time_limit, None)
    # Started before the model's code runs: the worker boots (a sandbox, SCIP's import) meanwhile.
    worker = fresh_worker(session, recheck.worker)
    try:
        return _code_mode(session, kernel, code, read_back, variable, what, kind, time_limit, (recheck, worker))
    finally:
        worker.close()


def _code_mode(
    session: ToolSession,
    kernel: CodeKernel,
    code: str,
    read_back: str,
    variable: str,
    what: str,
    kind: str,
    time_limit: float,
    recheck: tuple[Recheck, SandboxWorker] | None,
) -> ToolResult:
    timeout = max(kernel.cell_timeout, time_limit + 5)
    cell = kernel.execute(code, timeout=timeout)
    if not cell.ok:
        error = "timeout" if cell.timed_out else f"{cell.error_name}: {cell.error_value}"
        return ToolResult.failure(f"the code failed: {error}", output=cell.text())
    exists = kernel.execute(f"print({variable!r} in globals())", timeout=10)
    if exists.stdout.strip() != "True":
        return ToolResult.failure(
            f"code mode: the code never built a model: no variable named '{variable}' (a {what}) is defined",
            output=cell.text(),
        )
    back = kernel.execute(read_back, timeout=30, output_chars=MAX_EXPORT_CHARS)
    if not back.ok:
        return ToolResult.failure(f"could not read the model back: {back.error_name}: {back.error_value}")
    try:
        result = json.loads(back.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        return ToolResult.failure(f"could not read the model back: {back.stdout[-300:]!r}")
    if not isinstance(result, dict):
        return ToolResult.failure(f"could not read the model back: {back.stdout[-300:]!r}")
    if "error" in result:
        return ToolResult.failure(f"code mode: {result['error']}", output=cell.text())
    if recheck is not None:
        text, fmt, claim = result.get("text"), result.get("format"), result.get("claim")
        if not isinstance(text, str) or not isinstance(fmt, str) or not isinstance(claim, dict):
            return ToolResult.failure("code mode: the kernel did not write the model file and its solution")
        spec, worker = recheck
        memory_mb = session.tool_options(spec.worker.options).memory_mb
        rechecked = _call(worker, spec.worker, spec.function, (text, fmt, claim), time_limit, 1, memory_mb)
        if isinstance(rechecked, ToolResult):
            return rechecked
        result = rechecked
    note_model_error(result, kind)
    rendered = render_result(result)
    claimed = (result.get("recheck") or {}).get("claimed_status")
    if claimed:
        rendered.output = (
            f"the kernel's solver said {claimed}; solved again from the model file it is {result['status']}\n"
            + rendered.output
        )
    if cell.stdout.strip():
        rendered.output = cell.stdout.rstrip() + "\n" + rendered.output
    return rendered


def review(
    name: str, arguments: dict[str, Any], data: dict[str, Any], kind: str, answer: str | None = None
) -> dict[str, Any] | None:
    """The verdict on one solver result: re-check a solution, or explain infeasible/unbounded.

    An infeasible result certifies the answer "infeasible" (``says_infeasible``) when its conflict was
    confirmed by a solve of its own (milp: ``iis_confirmed``; cp: ``unsat_core_confirmed``); with any other
    answer it is the rejection it always was. A solved result rejects the answer "infeasible".
    """
    status = data.get("status")
    if status == "infeasible":
        core = data.get("iis") or data.get("unsat_core") or []
        names = ", ".join(core) if core else "(no subsystem could be extracted)"
        if says_infeasible(answer):
            return infeasible_review(name, kind, arguments, data, core)
        return {
            "accepted": False,
            "feedback": f"The {name} model is infeasible. These constraints conflict: {names}. "
            "Check their direction, right-hand side and units against the problem; if the problem really is "
            "infeasible, answer 'infeasible'.",
        }
    if status == "unbounded":
        hint = "; ".join(data.get("missing_bounds") or []) or "a variable without the bound the problem implies"
        return {"accepted": False, "feedback": f"The {name} model is unbounded: likely missing bound: {hint}."}
    if status not in SOLVED or not data.get("values"):
        return None
    if says_infeasible(answer):  # the solver found a point: a solved result never certifies "infeasible"
        return {
            "accepted": False,
            "feedback": f"The answer says the problem is infeasible, but the {name} model has a solution "
            f"(status {status}, objective {_fmt(data.get('objective'))}). Either the model is missing a "
            "constraint of the problem, or the answer is wrong.",
        }
    if data.get("model_error"):  # code mode whose model could not be read back: say so, verify nothing
        return {"feedback": f"the {name} solution was not re-checked: {data['model_error']}"}
    raw_model = data.get("model") or arguments.get("model")
    if raw_model is None:
        return None
    try:
        model = parse_model(raw_model, kind=kind)
    except ModelError as exc:
        return {"accepted": False, "feedback": f"The {name} model cannot be re-checked: {exc}"}
    problems = check_solution(model, data["values"], data.get("objective"))
    if problems:
        return {
            "accepted": False,
            "feedback": f"The {name} solution fails the independent re-check: " + "; ".join(problems[:5]),
        }
    unproven = optimality_problem(model, data)
    if unproven:
        return {"accepted": False, "feedback": f"The {name} result is labelled optimal, but {unproven}."}
    proof = ""
    if status == "optimal" and model.objective is not None:
        proof = f"; optimal: dual bound {_fmt(data.get('dual_bound'))}, gap {data.get('gap') or 0:.2g}"
    if data.get("unchecked"):
        # An honest partial re-check: no rejection, but no verification either (no "accepted" key).
        return {
            "feedback": f"{name} solution re-checked against the constraints the checker can evaluate{proof}; "
            f"not checked: {', '.join(data['unchecked'])}, so it is not verified"
        }
    check = data.get("cross_check") or {}
    disagreed = [r for r in check.get("routes", []) if isinstance(r, dict) and r.get("agreed") is False]
    if disagreed:  # a real bug, or numerical trouble in the model: never verified
        return {
            "accepted": False,
            "feedback": f"The {name} solution passed the re-check, but an independent route disagrees: "
            + "; ".join(f"{r.get('route')}: {r.get('detail')}" for r in disagreed)
            + ". Look for numerical trouble (huge or tiny coefficients, big-M) and solve again.",
        }
    feedback = (
        f"{name} solution re-checked against every constraint, bound and integrality requirement; "
        f"objective recomputed{proof}"
    )
    accept: dict[str, Any] = {"accepted": True}
    agreed = [r for r in check.get("agreed", []) if isinstance(r, str)]
    if agreed:
        accept["cross_verified"] = agreed
        feedback += "; cross-checked by " + ", ".join(agreed)
    accept["feedback"] = feedback
    accept["certificate"] = certificate_of(name, kind, arguments, data, feedback)
    return accept


def infeasible_review(
    name: str, kind: str, arguments: dict[str, Any], data: dict[str, Any], core: list[str]
) -> dict[str, Any]:
    """The answer says infeasible and the solver agrees: accepted with a certificate when the conflict was
    confirmed and the model files came back, else a note (neither accepted nor rejected)."""
    confirmed = data.get("iis_confirmed") if kind == "milp" else data.get("unsat_core_confirmed")
    # An IIS's bounds ("bound x <= 3") are not constraints of the file: the re-check keeps every bound anyway.
    members = [n for n in core if isinstance(n, str) and not n.startswith("bound ")]
    part = data.get("certificate")
    part = part if isinstance(part, dict) else {}
    artifacts = part.get("artifacts")
    if not confirmed or not members or not isinstance(artifacts, dict) or not artifacts:
        why = data.get("iis_note") or "its conflict was not confirmed by a solve of its own"
        return {"feedback": f"{name} says infeasible, as the answer does, but {why}, so it is not verified"}
    what = "irreducible infeasible subsystem" if kind == "milp" else "unsat core"
    feedback = f"{name} result infeasible, as answered; {what} of {len(members)} constraint(s) confirmed infeasible"
    field = "iis" if kind == "milp" else "core"
    files = dict(artifacts)
    if isinstance(arguments.get("model"), dict):
        files["model.json"] = json.dumps(arguments["model"], indent=1)
    route = next((k for k in ("model", "code", "lp", "mps") if arguments.get(k) is not None), "model")
    provenance = {**(part.get("provenance") or {}), "route": "declarative" if route == "model" else route}
    claim: dict[str, Any] = {"status": "infeasible", field: members}
    certificate = {
        "kind": kind,
        "tool": name,
        "verifier": f"{name}-check",
        "claim": claim,
        "artifacts": files,
        "checks": [feedback],
        "provenance": provenance,
    }
    return {"accepted": True, "feedback": feedback, "certificate": certificate}


def certificate_of(
    name: str, kind: str, arguments: dict[str, Any], data: dict[str, Any], checked: str
) -> dict[str, Any] | None:
    """The certificate of an accepted solver result (see :class:`~solvegraph.types.Certificate`), or None
    when the worker sent no model file (a result of an outside solver plugin, or of an older worker).

    The artifacts are the model as the solver read it (``model.cip`` and, when lossless, ``model.mps`` for
    SCIP; ``model.pb.txt`` for CP-SAT) and the declarative JSON when the model was given so; the claim is what
    the answer says plus the solver's evidence for it. ``milp.certify`` / ``cp.certify`` re-check it.
    """
    part = data.get("certificate")
    if not isinstance(part, dict) or not isinstance(part.get("artifacts"), dict) or not part["artifacts"]:
        return None
    claim: dict[str, Any] = {
        "status": data.get("status"),
        "objective": data.get("objective"),
        "values": data.get("values") or {},
        "dual_bound": data.get("dual_bound"),
        "gap": data.get("gap"),
    }
    if part.get("auxiliary_values"):
        claim["auxiliary_values"] = part["auxiliary_values"]
    if "solution" in part:
        claim["solution"] = part["solution"]
    artifacts = dict(part["artifacts"])
    if isinstance(arguments.get("model"), dict):
        artifacts["model.json"] = json.dumps(arguments["model"], indent=1)
    route = next((k for k in ("model", "code", "lp", "mps") if arguments.get(k) is not None), "model")
    provenance = {**(part.get("provenance") or {}), "route": "declarative" if route == "model" else route}
    if isinstance(data.get("recheck"), dict):
        provenance["recheck"] = data["recheck"].get("by", "")
    return {
        "kind": kind,
        "tool": name,
        "verifier": f"{name}-check",
        "claim": claim,
        "artifacts": artifacts,
        "checks": [checked],
        "provenance": provenance,
    }


OPTIMALITY_GAP = 1e-6  # relative: "optimal" needs the solver's dual bound this close to the recomputed objective


def optimality_problem(model: OptModel, data: dict[str, Any]) -> str | None:
    """Why an "optimal" label is not backed by the solver's own evidence (its dual bound), or None.

    The re-check proves the point feasible and its objective right; only the dual bound says no better
    point exists. Without one, or with a gap beyond tolerance, "optimal" is not accepted.
    """
    if data.get("status") != "optimal" or model.objective is None:
        return None
    bound = data.get("dual_bound")
    if bound is None or not math.isfinite(bound):
        return "the solver gave no finite dual bound to prove it"
    value = objective_value(model, data["values"])
    assert value is not None
    gap = relative_gap(value, bound)
    if gap > OPTIMALITY_GAP:
        return f"the dual bound {_fmt(bound)} leaves a relative gap of {gap:.3g} to the objective {_fmt(value)}"
    return None


def solution_verifier(tool_name: str) -> Verifier:
    """A verifier that reviews the last result of ``tool_name`` in an attempt."""

    def check(problem: str, results: list[dict[str, Any]], answer: str | None = None) -> dict[str, Any] | None:
        mine = [r for r in results if r["name"] == tool_name and r["result"]["ok"]]
        if not mine:
            return None
        last = mine[-1]
        return review(tool_name, last["arguments"] or {}, last["result"]["data"], kind=tool_name, answer=answer)

    return Verifier(name=f"{tool_name}-check", check=check, answer=True)
