"""The ``lean`` tool and its hooks: the tool, its options, and the judge that makes an answer tool-verified.

Registered through the ``solvegraph`` entry point like any outside plugin; the checking itself is in
``_check`` (and the reading of Lean source in ``_source``).
"""

from __future__ import annotations

from typing import Any

from ...plugins import ToolOptions, ToolResult, ToolSession, Verifier, hookimpl, tool
from ...sandbox import SandboxError
from ._check import LeanNotConfigured, check_proof
from ._options import LeanOptions

PROMPT_HINT = (
    'lean: checks a Lean 4 proof. Pass {"proof": the complete Lean source, "statement": the theorem as asked}. '
    "The statement must stay exactly as asked; no sorry/admit; only standard axioms. Errors come back with line "
    "and column."
)


@tool(name="lean", timeout=None, enforces_timeout=True, prompt_hint=PROMPT_HINT, timeout_option="lean_timeout")
def lean(proof: str, session: ToolSession, statement: str | None = None, theorem: str | None = None) -> ToolResult:
    """Check a Lean 4 proof strictly: no errors, no sorry, standard axioms only, and the asked statement unchanged.

    Args:
        proof: The complete Lean source of the candidate (imports, helper lemmas and the theorem with its proof).
        statement: The theorem as it was asked, e.g. "theorem foo (n : Nat) : n + 0 = n := by sorry".
        theorem: The theorem's name, when no statement is given.
    """
    try:
        options = session.tool_options(LeanOptions)
        verdict = check_proof(proof, statement=statement, theorem=theorem, options=options, sandbox=session.sandbox)
    except (LeanNotConfigured, SandboxError) as exc:  # the setup, not the proof: its one line as it is
        return ToolResult.failure(str(exc))
    data = verdict.to_dict()
    shown = [d.render() for d in verdict.diagnostics if d.severity in ("error", "warning")][:20]
    if verdict.accepted:
        axioms = "; ".join(f"{n}: {', '.join(a) or 'none'}" for n, a in verdict.axioms.items())
        return ToolResult(True, f"accepted ({verdict.duration_s:.2f} s); axioms: {axioms}\naccepted", data=data)
    return ToolResult(False, "\n".join(shown), "proof rejected: " + "; ".join(verdict.reasons), data=data)


@hookimpl
def solvegraph_tools() -> list:
    return [lean]


def _squash(text: str) -> str:
    return " ".join(text.split())


def judged_statement(problem: str, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Tool-verified when the last lean call was accepted by the judge *against the problem's own statement*.

    The model chooses the statement it passes; a proof of some other (easier) statement verifies nothing.
    So the statement Lean closed must appear in the problem text (whitespace aside). Otherwise this
    check has no opinion and the verdict is left to the other checks and the model.
    """
    mine = [r for r in results if r.get("name") == "lean"]
    if not mine:
        return None
    last = mine[-1]
    data = (last.get("result") or {}).get("data") or {}
    statement = (last.get("arguments") or {}).get("statement")
    if not (data.get("accepted") and str(data.get("checks", {}).get("statement", "")).startswith("matches")):
        return None
    if not isinstance(statement, str) or _squash(statement) not in _squash(problem):
        return None
    return {
        "accepted": True,
        "feedback": "the Lean judge accepted a proof of the problem's own statement "
        f"({', '.join(f'{k}: {v}' for k, v in data.get('checks', {}).items())})",
    }


@hookimpl
def solvegraph_options() -> type[ToolOptions]:
    return LeanOptions


@hookimpl
def solvegraph_verifiers() -> list[Verifier]:
    return [Verifier(name="lean-judge", check=judged_statement)]
