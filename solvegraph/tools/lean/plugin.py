"""The ``lean`` tool and its hooks: the tool, its options, and the judge that makes an answer tool-verified.

Registered through the ``solvegraph`` entry point like any outside plugin; the checking itself is in
``_check`` (and the reading of Lean source in ``_source``).
"""

from __future__ import annotations

import re
from typing import Any

from ...plugins import CertificateChecker, ToolOptions, ToolResult, ToolSession, Verifier, hookimpl, tool
from ...sandbox import SandboxError
from ._check import LeanNotConfigured, check_proof
from ._options import LeanOptions
from ._source import LeanSourceError, asked_theorems
from .certify import certificate

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


_FENCED = re.compile(r"```[ \t]*lean4?[ \t]*\n(.*?)```", re.DOTALL)


def problem_statement(problem: str) -> str | None:
    """The Lean statement the problem itself contains: its first ```lean block that asks for a theorem, or the
    whole text when it is Lean source asking for one; None when the problem states nothing in Lean."""
    for text in [*(m.group(1) for m in _FENCED.finditer(problem)), problem]:
        try:
            if asked_theorems(text):
                return text
        except LeanSourceError:
            continue
    return None


def judged_statement(problem: str, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Tool-verified when the last lean call was accepted by the judge *against the problem's own statement*.

    The model chooses the statement it passes; a proof of some other (easier) statement verifies nothing.
    When that statement appears in the problem text (whitespace aside) the judge's acceptance stands.
    When it does not (a paraphrase) and the problem contains a Lean statement, the proof is judged again
    with the problem's statement as the challenge, its theorem(s) closed by the model's: Lean decides
    whether the two statements agree (up to definitional equality); a mismatch rejects the answer. When
    the problem has no Lean statement there is nothing to check against: the answer stays model-accepted
    and the note says why.
    """
    mine = [r for r in results if r.get("name") == "lean"]
    if not mine:
        return None
    last = mine[-1]
    data = (last.get("result") or {}).get("data") or {}
    arguments = last.get("arguments") or {}
    statement = arguments.get("statement")
    if not (data.get("accepted") and str(data.get("checks", {}).get("statement", "")).startswith("matches")):
        return None
    if not isinstance(statement, str) or not problem.strip():  # no problem text (a served call): no opinion
        return None
    checks = ", ".join(f"{k}: {v}" for k, v in data.get("checks", {}).items())
    if _squash(statement) in _squash(problem):
        return {
            "accepted": True,
            "feedback": f"the Lean judge accepted a proof of the problem's own statement ({checks})",
            "certificate": certificate(
                statement, str(arguments.get("proof", "")), data.get("record") or {}, data.get("checks", {}), None
            ),
        }
    asked = problem_statement(problem)
    if asked is None:
        return {
            "feedback": "not tool-verified: the model's Lean statement is not in the problem, and the problem "
            "contains no Lean statement to check it against"
        }
    return _judge_paraphrase(asked, statement, str(arguments.get("proof", "")), data)


def _judge_paraphrase(asked: str, statement: str, proof: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Judge the model's proof against the problem's statement, with the toolchain the lean call used."""
    try:
        names = [a.name for a in asked_theorems(statement)]
    except LeanSourceError as exc:
        return {"feedback": f"not tool-verified: the model's statement cannot be read: {exc}"}
    toolchain = (data.get("record") or {}).get("toolchain") or {}
    command, project = toolchain.get("command") or [], toolchain.get("project")
    if not command:
        return {"feedback": "not tool-verified: the lean call's record does not name its toolchain"}
    options: dict[str, Any] = {"project": project, "lake_path": command[0]} if project else {"lean_path": command[0]}
    try:
        verdict = check_proof(proof, statement=asked, options=LeanOptions(**options), candidate_names=names)
    except (LeanNotConfigured, SandboxError) as exc:
        return {"feedback": f"not tool-verified: the problem's statement could not be judged: {exc}"}
    if str(verdict.checks.get("challenge", "")).startswith("failed"):  # what looked like Lean in the problem is not
        return {"feedback": f"not tool-verified: the problem's Lean statement does not compile: {verdict.reasons[0]}"}
    if verdict.accepted:
        checks = ", ".join(f"{k}: {v}" for k, v in verdict.checks.items())
        return {
            "accepted": True,
            "feedback": "the model's statement is a paraphrase; Lean closed the problem's own statement with the "
            f"model's theorem ({', '.join(names)}) ({checks})",
            "certificate": certificate(asked, proof, verdict.record, verdict.checks, names),
        }
    return {
        "accepted": False,
        "feedback": "the model proved its own wording of the statement, and Lean does not accept it as the "
        f"problem's statement: {'; '.join(verdict.reasons)[:600]}. Prove the theorem exactly as the problem "
        "states it.",
    }


@hookimpl
def solvegraph_options() -> type[ToolOptions]:
    return LeanOptions


@hookimpl
def solvegraph_verifiers() -> list[Verifier]:
    return [Verifier(name="lean-judge", check=judged_statement)]


@hookimpl
def solvegraph_certificate_checkers() -> list[CertificateChecker]:
    # Not in a worker's sandbox: each Lean run it makes is its own sandbox, with the toolchain bound read-only.
    return [CertificateChecker(kind="lean", target="solvegraph.tools.lean.certify:check", sandboxed=False)]
