"""Scorers: compare a normalised answer with the gold, and say why."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..agents.answer import normalize, to_number

INFEASIBLE_WORDS = {"infeasible", "no best solution", "no solution", "no feasible solution", "none"}


@dataclass
class Score:
    correct: bool
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scorer:
    name: str
    description: str
    # score(prediction, gold) or, for scorers that need the evidence, score(prediction, gold, trajectory)
    score: Callable[..., Score]
    plugin: str = ""


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


def proof_score(prediction: str | None, gold: Any, trajectory: dict[str, Any] | None = None) -> Score:
    """Correct only when the lean tool itself accepted the proof: the model's claim is not evidence."""
    results = [
        r for s in (trajectory or {}).get("steps", []) for r in s.get("tool_results", []) if r.get("name") == "lean"
    ]
    if not results:
        return Score(False, {"reason": "no proof was checked by Lean"})
    last = results[-1]
    accepted = bool(last.get("ok") and last.get("data", {}).get("accepted"))
    return Score(accepted, {"reasons": last.get("data", {}).get("reasons", [])})


def unit_test_score(prediction: str | None, gold: Any, trajectory: dict[str, Any] | None = None) -> Score:
    """Run the produced code and the task's asserts in a fresh, sandboxed kernel (its own process and limits)."""
    from ..plugins import ToolSession
    from ..tools.python_kernel import python

    if not prediction or not prediction.strip():
        return Score(False, {"reason": "no code was produced"})
    tests = gold.get("tests", []) if isinstance(gold, dict) else list(gold)
    setup = gold.get("setup", "") if isinstance(gold, dict) else ""
    with ToolSession(options={"cell_timeout": 10}) as session:  # a clean kernel, not the solver's
        ran = python.run({"code": prediction}, session)
        if not ran.ok:
            return Score(False, {"reason": f"the code failed: {ran.error}"})
        result = python.run({"code": "\n".join([setup, *tests])}, session)
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
    Scorer("unit_tests", "the produced code passes the task's asserts in a fresh sandboxed kernel", unit_test_score),
    Scorer(
        "proof",
        "the lean tool accepted the final proof (strict: no sorry, standard axioms, statement unchanged)",
        proof_score,
    ),
]
