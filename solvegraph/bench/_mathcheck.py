"""MATH-grade answer checking: extract the final answer, normalise the LaTeX, compare by value.

This module is what runs *inside* the sandboxed worker (:mod:`solvegraph.bench._mathscore` starts it):
parsing LaTeX with sympy evaluates the input, and the input is model output. It is plain functions
on plain JSON values so the worker can call it; nothing here touches files, the network or the store.

The comparison, in order (the first that decides wins):

1. both sides parse (``math-verify``, over ``latex2sympy2-extended``) and ``math_verify.verify`` finds them
   equal: symbolic equivalence, with its handling of fractions, radicals, π, intervals, sets, tuples,
   matrices, percent, degrees and ``\\text{}`` units;
2. both are real numbers within a relative tolerance (1e-6, as the ``numeric`` scorer);
3. otherwise unequal, with the parsed forms kept as the reason.

An answer that does not parse (no expression could be read from it) is wrong, and says so.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Any

REL_TOL = 1e-6
PARSE_TIMEOUT_S = 5  # math-verify's own alarm, used only on the worker's main thread (signals need it)

_BOXED_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL_LINE = re.compile(
    r"(?:final\s+answer\s*(?:is)?|answer\s*(?:is)?)\s*[:=]?\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE
)


def last_boxed(text: str) -> str | None:
    """The contents of the last ``\\boxed{...}`` (or ``\\fbox``), braces balanced; None if there is none."""
    starts = list(_BOXED_START.finditer(text))
    for match in reversed(starts):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            return text[match.end() : i - 1].strip()
    return None


def final_answer(text: str) -> str:
    """The answer a solution states: the last ``\\boxed{}``, else a "final answer:" line, else the text."""
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed
    lines = _FINAL_LINE.findall(text)
    if lines:
        return str(lines[-1]).strip()
    return text.strip()


_REPLACEMENTS = (
    (re.compile(r"\\[dt]frac"), r"\\frac"),
    (re.compile(r"\\left\s*|\\right\s*"), ""),
    (re.compile(r"(?<!\\)\\[!,;: ]|~"), " "),  # spacing, never a \\ row break
    (re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|°"), ""),  # degrees: 30^\circ is 30
    (re.compile(r"\\(?:displaystyle|mathrm\{\s*\}|quad|qquad)"), " "),
)


def normalize(answer: str) -> str:
    """LaTeX written many ways for one value, written one way: ``\\dfrac``/``\\tfrac`` → ``\\frac``,
    no ``\\left``/``\\right``, no spacing commands, degrees dropped, outer ``$`` and a final period gone."""
    text = answer.strip().rstrip(".").strip()
    text = re.sub(r"^\$+|\$+$", "", text).strip()
    text = re.sub(r"^\\\[|\\\]$", "", text).strip()
    for pattern, replacement in _REPLACEMENTS:
        text = pattern.sub(replacement, text)
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(".").strip()


def _parse(answer: str) -> list[Any]:
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse

    timeout = PARSE_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    configs = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
    parsed: list[Any] = parse(f"${answer}$", configs, parsing_timeout=timeout)
    return parsed


def _real(value: Any) -> float | None:
    """A sympy value as a finite float, if it is a plain real number."""
    try:
        if getattr(value, "is_number", False) and getattr(value, "is_real", False) is not False:
            number = complex(value.evalf())
            if number.imag == 0 and math.isfinite(number.real):
                return number.real
    except (TypeError, ValueError, AttributeError, OverflowError):
        return None
    return None


def _expressions(parsed: list[Any]) -> list[Any]:
    return [p for p in parsed if not isinstance(p, str)]


def compare(prediction: str, gold: str) -> dict[str, Any]:
    """Whether ``prediction`` states the same answer as ``gold`` (both free text or LaTeX).

    Returns ``{"correct": bool, "answer": ..., "gold": ..., "how": ...}``, or with ``"reason"`` when
    the prediction cannot be read. Raises ValueError only when the gold itself cannot be read.
    """
    from math_verify import verify

    answer, wanted = normalize(final_answer(prediction)), normalize(final_answer(gold))
    result: dict[str, Any] = {"answer": answer, "gold": wanted}
    if not answer:
        return {**result, "correct": False, "reason": "empty answer"}
    gold_parsed, parsed = _parse(wanted), _parse(answer)
    if not gold_parsed:
        raise ValueError(f"the gold answer {wanted!r} cannot be parsed")
    if not parsed or (not _expressions(parsed) and _expressions(gold_parsed)):
        return {**result, "correct": False, "reason": f"cannot parse the answer {answer!r} as math"}
    timeout = PARSE_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None
    if verify(gold_parsed, parsed, float_rounding=6, timeout_seconds=timeout):
        how = "symbolic" if _expressions(parsed) else "string"
        return {**result, "correct": True, "how": how}
    got = [_real(p) for p in _expressions(parsed)]
    want = [_real(g) for g in _expressions(gold_parsed)]
    for a in got:
        for b in want:
            if a is not None and b is not None and abs(a - b) <= REL_TOL * max(1.0, abs(b)):
                return {**result, "correct": True, "how": "numeric", "rel_error": abs(a - b) / max(1.0, abs(b))}
    return {
        **result,
        "correct": False,
        "how": "unequal",
        "parsed": str(_expressions(parsed)[0]) if _expressions(parsed) else answer,
        "gold_parsed": str(_expressions(gold_parsed)[0]) if _expressions(gold_parsed) else wanted,
    }
