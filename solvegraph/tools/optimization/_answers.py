"""What an answer says about a milp/cp result, read the same way where the answer is judged (the host's
review) and where a certificate is re-checked (``certify``, in a worker that loads nothing else of ours)."""

from __future__ import annotations

from typing import Any

# What an answer may say to claim infeasibility, after ``says_infeasible``'s normalisation: strict on purpose
# (a number, or a sentence that merely mentions infeasibility, never certifies an infeasible result).
INFEASIBLE_ANSWERS = frozenset({
    "infeasible", "the problem is infeasible", "the model is infeasible", "no feasible solution",
    "no feasible solution exists", "there is no feasible solution", "no solution", "unsatisfiable",
})  # fmt: skip


def says_infeasible(answer: str | None) -> bool:
    """Whether the answer claims infeasibility: lower-cased, surrounding whitespace, quotes, backticks and
    asterisks stripped, one trailing ``.`` or ``!`` dropped, runs of spaces made one, it must be one of
    ``INFEASIBLE_ANSWERS``."""
    if answer is None:
        return False
    text = " ".join(answer.strip().strip("\"'`*").strip().lower().split())
    if text.endswith((".", "!")):
        text = text[:-1].rstrip()
    return text in INFEASIBLE_ANSWERS


def answer_mismatch(certificate: dict[str, Any]) -> dict[str, str] | None:
    """A failed ``answer`` check when the certificate's answer contradicts its claim (it says infeasible of
    a solved claim, or does not of an infeasible one), else None; a ValueError when it is not a string."""
    answer = certificate.get("answer")
    if answer is None:
        return None
    if not isinstance(answer, str):
        raise ValueError("answer: not a string")
    claim = certificate.get("claim")
    status = claim.get("status") if isinstance(claim, dict) else None
    if says_infeasible(answer) == (status == "infeasible"):
        return None
    said = "says the problem is infeasible" if says_infeasible(answer) else "does not say the problem is infeasible"
    return {
        "check": "answer",
        "outcome": "failed",
        "detail": f"the answer {answer[:80]!r} {said}; the claim is {status}",
    }
