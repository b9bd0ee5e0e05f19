"""Scorers: compare a normalised answer with the gold, and say why."""

from __future__ import annotations

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


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = normalize(str(value)) if value is not None else None
    return to_number(text) if text is not None else None


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
        "proof",
        "the lean tool accepted the final proof (strict: no sorry, standard axioms, statement unchanged)",
        proof_score,
    ),
]
