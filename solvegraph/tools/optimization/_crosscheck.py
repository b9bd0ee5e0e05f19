"""The host side of the cross-check: after a solve that found a solution, run the independent routes of
:mod:`.crosscheck` in a fresh sandboxed worker and put their outcome in the result.

A fresh worker, not the solve's: the routes must share nothing with the process whose answer they check.
The cross-check has its own time cap (``cross_check_time_limit``), so it never doubles a long solve
unbounded; a route that cannot finish or cannot translate the model is ``agreed: None`` and blocks nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...plugins import ToolResult, ToolSession
from ...sandbox._worker import SandboxWorker
from ._results import SOLVED, SolverWorker, _call, fresh_worker
from .crosscheck import cross_check, summary


def cross_check_worker(options: Any) -> SolverWorker:
    """The worker spec of the cross-check for a tool's options model (its memory limit, its switches)."""
    return SolverWorker("the cross-check", options, (cross_check,))


def _unrun(reason: str, kind: str) -> dict[str, Any]:
    second = "highs" if kind == "milp" else "scip"
    return summary([{"route": r, "agreed": None, "detail": reason} for r in ("exact-rational", second)])


def cross_checked(session: ToolSession, spec: SolverWorker, kind: str, solve: Callable[[], ToolResult]) -> ToolResult:
    """``solve()``, then its cross-check. The cross-check's fresh worker is started before the solve, so
    it boots (a sandbox, the solvers' imports) while the solver works: most of its cost at small sizes."""
    if not getattr(session.tool_options(spec.options), "cross_check", False):
        return solve()
    worker = fresh_worker(session, spec)
    try:
        return with_cross_check(session, spec, solve(), kind, worker)
    finally:
        worker.close()


def with_cross_check(
    session: ToolSession, spec: SolverWorker, result: ToolResult, kind: str, worker: SandboxWorker | None = None
) -> ToolResult:
    """``result`` with ``data["cross_check"]`` and one line saying which routes agreed, when it holds a
    solution and the tool's ``cross_check`` option is on; otherwise ``result`` unchanged. ``worker``: a
    fresh one already started for it (else one is started here and closed after)."""
    data = result.data
    options = session.tool_options(spec.options)
    if not result.ok or not isinstance(data, dict) or not getattr(options, "cross_check", False):
        return result
    if data.get("status") not in SOLVED or not data.get("values"):
        return result
    if data.get("model_error") or not isinstance(data.get("model"), dict):
        data["cross_check"] = _unrun(f"the model could not be read back: {data.get('model_error', 'none')}", kind)
    elif data.get("unchecked"):
        data["cross_check"] = _unrun("the model holds constraints no route can evaluate: "
                                     + ", ".join(data["unchecked"]), kind)  # fmt: skip
    else:
        cap = float(options.cross_check_time_limit)
        own = worker is None
        used = fresh_worker(session, spec) if worker is None else worker
        try:
            args = (data["model"], kind, data["status"], data["values"], data.get("objective"))
            out = _call(used, spec, cross_check, args, cap, 1, options.memory_mb)
        finally:
            if own:
                used.close()
        if isinstance(out, ToolResult):  # stopped at its cap, crashed, or could not read the model
            out = _unrun(f"the cross-check did not finish: {out.error}", kind)
        data["cross_check"] = out
    *head, answer = result.output.splitlines() or [""]  # the answer line stays last
    result.output = "\n".join([*head, cross_check_line(data["cross_check"]), answer])
    return result


def cross_check_line(check: dict[str, Any]) -> str:
    """One line for the model: which routes agreed, which disagreed (with why), which could not run."""
    parts = []
    for r in check.get("routes", []):
        word = {True: "agreed", False: "DISAGREED", None: "not run"}[r.get("agreed")]
        parts.append(f"{r.get('route')} {word}" + (f" ({r.get('detail')})" if r.get("agreed") is not True else ""))
    return "cross-check: " + "; ".join(parts)
