"""Scorers: compare a normalised answer with the gold, and say why."""

from __future__ import annotations

import re
from typing import Any

from ..agents.answer import normalize, to_number
from ..plugins import PluginManager, Scorer, Tool, ToolSession
from ..types import Score
from ._dcp import dcp_score
from ._mathscore import math_score
from ._values import values_score

INFEASIBLE_WORDS = {"infeasible", "no best solution", "no solution", "no feasible solution", "none"}


_UNIT_TAIL = re.compile(r"^\s*([-+]?\$?[\d,]*\.?\d+(?:[eE][-+]?\d+)?\s*%?)\s*[A-Za-z][A-Za-z ./]*$")


def _number(value: Any) -> float | None:
    """A number from an answer: commas, $, %, fractions and a trailing unit ("18 dollars") are stripped."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = normalize(str(value)) if value is not None else None
    if text is None:
        return None
    number = to_number(text)
    if number is None:
        m = _UNIT_TAIL.match(text)
        number = to_number(m.group(1)) if m else None
    return number


def is_infeasible(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().rstrip(".") in INFEASIBLE_WORDS


def relative_error(predicted: float, gold: float) -> float:
    return abs(predicted - gold) / max(1.0, abs(gold))


def objective_score(prediction: str | None, gold: Any, strict: float = 1e-6, lenient: float = 0.05) -> Score:
    """Optimal objective vs gold: strict (1e-6) and lenient (5%, as OptMATH's evaluator) relative tolerance.

    An infeasible gold is correct only when the prediction says infeasible.
    """
    if is_infeasible(gold):
        ok = is_infeasible(prediction)
        return Score(ok, {"strict": ok, "lenient": ok, "gold": "infeasible"})
    want, got = _number(gold), _number(prediction)
    if want is None:
        return Score(False, {"strict": False, "lenient": False, "error": f"gold {gold!r} is not a number"})
    if got is None:
        return Score(False, {"strict": False, "lenient": False, "reason": "no numeric answer"})
    err = relative_error(got, want)
    return Score(err <= lenient, {"strict": err <= strict, "lenient": err <= lenient, "rel_error": err})


def numeric_score(prediction: str | None, gold: Any, tol: float = 1e-6) -> Score:
    want, got = _number(gold), _number(prediction)
    if want is None or got is None:
        return Score(False, {"reason": "no numeric answer" if got is None else f"gold {gold!r} is not a number"})
    err = relative_error(got, want)
    return Score(err <= tol, {"rel_error": err})


def exact_score(prediction: str | None, gold: Any) -> Score:
    ok = prediction is not None and normalize(str(prediction)) == normalize(str(gold))
    return Score(ok, {})


_LEAN_BLOCK = re.compile(r"```lean4?[ \t]*\n(.*?)```", re.S)


def final_proof(trajectory: dict[str, Any]) -> tuple[str, str] | None:
    """The proof a run ended on, and where it was read: the last ```lean block of the solver's last
    reply, else the ``proof`` argument of the last ``lean`` call. Either is only a candidate: the
    scorer checks it again against the sample's own statement."""
    solver_steps = [s for s in trajectory.get("steps", []) if s.get("agent") == "solver"]
    for step in reversed(solver_steps):
        if step.get("reply"):
            blocks = _LEAN_BLOCK.findall(step["reply"])
            if blocks:
                return blocks[-1], "the last lean block of the final reply"
            break
    for step in reversed(trajectory.get("steps", [])):
        for call in reversed(step.get("tool_calls", [])):
            proof = (call.get("arguments") or {}).get("proof") if call.get("name") == "lean" else None
            if isinstance(proof, str) and proof.strip():
                return proof, "the proof of the last lean call"
    return None


def _tool(plugins: PluginManager | None, name: str) -> Tool | None:
    """A tool as the agents reach it, through the plugin manager. Scorers run it in a session of their
    own, never the solver's: its kernel and files are the model's work, not evidence."""
    return (plugins or PluginManager()).tools().get(name)


def _missing(name: str) -> str:
    return f"the '{name}' tool is not installed or failed to load (see: solvegraph plugins list)"


def proof_score(
    prediction: str | None,
    gold: Any,
    trajectory: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    plugins: PluginManager | None = None,
) -> Score:
    """Correct only when the scorer's own Lean check accepts the run's final proof of the sample's statement.

    Neither the model's claim nor the verdict of a ``lean`` call the model made is evidence: the model
    chose that call's arguments (an unrelated trivial theorem would pass). The statement comes from
    the dataset (``gold``: the statement text, or ``{"statement": ..., "theorem": ...}``).
    """
    statement = gold.get("statement") if isinstance(gold, dict) else gold
    if not isinstance(statement, str) or not statement.strip():
        return Score(False, {"reason": "the sample has no Lean statement to check a proof against"})
    found = final_proof(trajectory or {})
    if found is None:
        return Score(False, {"reason": "the run produced no proof"})
    proof, source = found
    lean = _tool(plugins, "lean")
    if lean is None:
        return Score(False, {"reason": f"the proof could not be checked: {_missing('lean')}", "proof_from": source})
    with ToolSession(options=options) as session:
        result = lean.run({"proof": proof, "statement": statement}, session)
    verdict = result.data
    if "accepted" not in verdict:  # the judge never ran: no toolchain, or the tool is missing
        return Score(False, {"reason": f"the proof could not be checked: {result.error}", "proof_from": source})
    detail: dict[str, Any] = {"checked_by": "lean, re-run by the scorer", "proof_from": source}
    detail["checks"] = verdict.get("checks", {})
    if not verdict["accepted"]:
        detail["reasons"] = verdict.get("reasons", [])
    return Score(bool(verdict["accepted"]), detail)


def unit_test_score(
    prediction: str | None,
    gold: Any,
    trajectory: dict[str, Any] | None = None,
    plugins: PluginManager | None = None,
    options: dict[str, Any] | None = None,
) -> Score:
    """Run the produced code and the task's asserts in a fresh, sandboxed kernel (its own process and limits),
    under the run's own sandbox backend (``options``), never ``auto``'s choice behind the user's back."""
    if not prediction or not prediction.strip():
        return Score(False, {"reason": "no code was produced"})
    tests = gold.get("tests", []) if isinstance(gold, dict) else list(gold)
    setup = gold.get("setup", "") if isinstance(gold, dict) else ""
    # What the task gave before the function (HumanEval's imports and helpers): run before the code.
    prelude = gold.get("prelude", "") if isinstance(gold, dict) else ""
    tool = _tool(plugins, "python")
    if tool is None:
        return Score(False, {"reason": _missing("python")})
    sandbox = (options or {}).get("sandbox", "auto")
    with ToolSession(options={"cell_timeout": 10, "sandbox": sandbox}) as session:  # a clean kernel, not the solver's
        ran = tool.run({"code": f"{prelude}\n{prediction}" if prelude else prediction}, session)
        if not ran.ok:
            return Score(False, {"reason": f"the code failed: {ran.error}"})
        result = tool.run({"code": "\n".join([setup, *tests])}, session)
    return Score(result.ok, {} if result.ok else {"reason": f"a test failed: {result.error}"})


BUILTIN_SCORERS = [
    Scorer(
        "objective",
        "optimal objective within 5% (lenient) and 1e-6 (strict) relative tolerance; "
        "infeasible gold needs an infeasible answer",
        objective_score,
    ),
    Scorer(
        "numeric",
        "numbers equal within 1e-6 relative tolerance, after normalisation (commas, $, %, fractions)",
        numeric_score,
    ),
    Scorer("exact", "normalised strings equal", exact_score),
    Scorer(
        "values",
        "several named numbers in one answer (a JSON object, label: value lines, or the numbers in order), "
        "each within 1e-4 (or 1e-6 relative) of its gold; all must match",
        values_score,
    ),
    Scorer(
        "math",
        "MATH-grade: the final answer (\\boxed{} or an answer line) equal to the gold symbolically or within 1e-6 "
        "(math-verify), judged in a sandboxed worker with a time limit",
        math_score,
    ),
    Scorer("unit_tests", "the produced code passes the task's asserts in a fresh sandboxed kernel", unit_test_score),
    Scorer(
        "dcp",
        "the answer's JSON assignment fixed in the gold CPMpy model (in a sandboxed worker): still satisfiable, "
        "same optimum",
        dcp_score,
    ),
    Scorer(
        "proof",
        "the lean tool accepted the final proof (strict: no sorry, standard axioms, statement unchanged)",
        proof_score,
    ),
]
