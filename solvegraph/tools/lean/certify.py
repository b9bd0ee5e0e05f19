"""Lean certificates: what the ``lean-judge`` verifier issues, and the checker ``solvegraph verify`` runs on them.

A certificate of kind ``lean`` holds the statement the proof was judged against (``statement.lean``: the
problem's own statement), the candidate as the model wrote it (``candidate.lean``), the challenge and the
candidate as Lean compiled them (for reading; the checker rebuilds both), and the claim: the theorems, the
candidate's names for them when they differ (a paraphrase), the axioms each rests on, the kernel replay's
verdict, and the toolchain's version.

The checker judges the candidate again from those two sources alone, with the verifying user's Lean. It is
not run in a worker sandbox: it runs nothing of the certificate in its own process, and every Lean run it
makes (the challenge, the candidate, the check file, the kernel replay) is its own fresh sandboxed process
with the toolchain bound read-only (``CertificateChecker(sandboxed=False)``), so it shares nothing with the
run that issued the certificate.
"""

from __future__ import annotations

from typing import Any

from ._check import STANDARD_AXIOMS, LeanNotConfigured, LeanVerdict, check_proof
from ._options import LeanOptions

KIND = "lean"
STATEMENT, CANDIDATE = "statement.lean", "candidate.lean"


def certificate(
    statement: str, proof: str, record: dict[str, Any], checks: dict[str, Any], candidate_names: list[str] | None
) -> dict[str, Any] | None:
    """The certificate of an accepted judgement of ``proof`` against ``statement``, from the judge's
    ``record`` (see :class:`~solvegraph.tools.lean.LeanVerdict`); None when the record lacks what a re-check
    needs (a verdict of an older solvegraph)."""
    toolchain = record.get("toolchain") or {}
    if not record or not isinstance(record.get("axioms"), dict):
        return None
    artifacts = {STATEMENT: statement, CANDIDATE: proof}
    if isinstance(record.get("challenge_source"), str):
        artifacts["challenge.lean"] = record["challenge_source"]
    if isinstance(record.get("candidate_source"), str):
        artifacts["compiled_candidate.lean"] = record["candidate_source"]
    replay = record.get("kernel_replay") or {}
    return {
        "kind": KIND,
        "tool": "lean",
        "verifier": "lean-judge",
        "claim": {
            "theorems": sorted(record["axioms"]),
            "candidate_names": candidate_names,
            "axioms": record["axioms"],
            "kernel_replay": replay.get("status", "not run"),
            "toolchain": toolchain.get("version", "unknown"),
        },
        "artifacts": artifacts,
        "checks": [f"{k}: {v}" for k, v in checks.items()],
        "provenance": {"toolchain": toolchain, "kernel_replay": replay},
    }


def _text(artifacts: dict[str, Any], name: str) -> str:
    value = artifacts.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"artifacts.{name}: {'missing' if value is None else 'not Lean source'}")
    return value


def _options(options: dict[str, Any]) -> LeanOptions:
    fields = {k: options[k] for k in LeanOptions.model_fields if options.get(k) is not None}
    try:
        typed = LeanOptions(**fields)
    except Exception as exc:  # pydantic's error: the verifying user's own [tools.lean], not the certificate
        raise RuntimeError(f"[tools.lean] is invalid: {str(exc).splitlines()[0]}") from None
    limit = options.get("time_limit")
    if isinstance(limit, int | float) and limit > 0:
        typed = typed.model_copy(update={"timeout": min(typed.timeout, float(limit))})
    return typed


def _judge(statement: str, proof: str, names: list[str] | None, options: dict[str, Any], recorded: str) -> LeanVerdict:
    """Judge with the verifying user's Lean; without one, with the certificate's recorded lean if it is here."""
    sandbox = str(options.get("sandbox") or "auto")
    typed = _options(options)
    try:
        return check_proof(proof, statement=statement, options=typed, sandbox=sandbox, candidate_names=names)
    except LeanNotConfigured:
        if not recorded or typed.lean_path or typed.project:
            raise
        typed = typed.model_copy(update={"lean_path": recorded})
        return check_proof(proof, statement=statement, options=typed, sandbox=sandbox, candidate_names=names)


def check(cert: dict[str, Any], options: dict[str, Any]) -> list[dict[str, str]]:
    """Re-judge a ``lean`` certificate: one dict per check (toolchain, judge, statement, axioms, kernel replay)."""
    artifacts = cert.get("artifacts")
    if not isinstance(artifacts, dict):
        raise ValueError("artifacts: not an object of file names and texts")
    statement, proof = _text(artifacts, STATEMENT), _text(artifacts, CANDIDATE)
    claim = cert.get("claim") or {}
    names = claim.get("candidate_names")
    if names is not None and not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise ValueError("claim.candidate_names: not a list of theorem names")
    axioms = claim.get("axioms")
    if not isinstance(axioms, dict) or not all(
        isinstance(a, list) and all(isinstance(x, str) for x in a) for a in axioms.values()
    ):
        raise ValueError("claim.axioms: not an object of theorem names and axiom lists")
    command = ((cert.get("provenance") or {}).get("toolchain") or {}).get("command") or []
    recorded = command[0] if isinstance(command, list) and command and isinstance(command[0], str) else ""
    try:
        verdict = _judge(statement, proof, names, options, recorded)
    except (LeanNotConfigured, RuntimeError) as exc:
        return [{"check": "lean", "outcome": "not checked", "detail": str(exc)}]
    out: list[dict[str, str]] = []
    mine = (verdict.record.get("toolchain") or {}).get("version", "unknown")
    theirs = claim.get("toolchain", "unknown")
    out.append(
        {"check": "toolchain", "outcome": "passed", "detail": f"{mine}, as the certificate's"}
        if mine == theirs
        else {
            "check": "toolchain",
            "outcome": "not checked",
            "detail": f"the certificate was made with {theirs}; re-judged with {mine}",
        }
    )
    said = verdict.checks.get("statement", "")
    if verdict.accepted:
        out.append({"check": "judge", "outcome": "passed", "detail": "compiled in the sandbox; " + said})
    else:
        out.append({"check": "judge", "outcome": "failed", "detail": "; ".join(verdict.reasons)[:600]})
    if verdict.axioms:
        found = {k: sorted(v) for k, v in verdict.axioms.items()}
        claimed = {k: sorted(v) for k, v in axioms.items()}
        extra = sorted({a for v in found.values() for a in v} - STANDARD_AXIOMS)
        if found != claimed:
            out.append(
                {
                    "check": "axioms",
                    "outcome": "failed",
                    "detail": f"the certificate says {_axioms(claimed)}; Lean reports {_axioms(found)}",
                }
            )
        elif extra:
            out.append({"check": "axioms", "outcome": "failed", "detail": f"outside the standard ones: {extra}"})
        else:
            out.append({"check": "axioms", "outcome": "passed", "detail": _axioms(found)})
    replay = verdict.record.get("kernel_replay") or {}
    status, detail = replay.get("status", "not run"), replay.get("detail", "")
    outcome = {"passed": "passed", "failed": "failed"}.get(status, "not checked")
    out.append({"check": "kernel replay", "outcome": outcome, "detail": f"{status} ({replay.get('tool')})"
                if status == "passed" else f"{status}: {detail}"})  # fmt: skip
    return out


def _axioms(by_theorem: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in sorted(by_theorem.items())) or "none"
