"""Lean certificates: what the ``lean-judge`` verifier issues, and the checker ``solvegraph verify`` runs on them.

A certificate of kind ``lean`` holds the statement the proof was judged against (``statement.lean``: the
problem's own statement), the candidate as the model wrote it (``candidate.lean``), the challenge and the
candidate as Lean compiled them (for reading; the checker rebuilds both), and the claim: the theorems, the
candidate's names for them when they differ (a paraphrase), the axioms each rests on, the kernel replay's
verdict, the toolchain's version and the sha256 of ``statement.lean``.

The checker judges the candidate again from those two sources alone, with the verifying user's Lean (their
``[tools.lean]``, ``SOLVEGRAPH_LEAN`` or ``lean`` on PATH) and no other: the toolchain a certificate records
is shown, never run, so a certificate cannot choose the program that judges it. Without a Lean of the user's
the certificate is ``not checked``. The claim is bound to what is checked: its theorems must be the ones
``statement.lean`` asks for (and its candidate names theorems of ``candidate.lean``), the judge line shows
the asked theorems and the statement's sha256, and, verified from the store, ``statement.lean`` must be the
stored problem's own Lean statement (``options["problem"]``: the trajectory's problem text).

It is not run in a worker sandbox: it runs nothing of the certificate in its own process, and every Lean run
it makes (the challenge, the candidate, the check file, the kernel replay) is its own fresh sandboxed process
with the toolchain bound read-only (``CertificateChecker(sandboxed=False)``), so it shares nothing with the
run that issued the certificate. The whole check keeps to the time limit (``options["time_limit"]``): the
unsandboxed steps (asking the toolchain its version, building the replay driver) and the Lean runs take
what is left of it (each Lean run at least 1 s).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from ._check import STANDARD_AXIOMS, LeanNotConfigured, LeanVerdict, check_proof, find_toolchain, theorem_names
from ._options import LeanOptions
from ._replay import deadline, toolchain
from ._source import Asked, LeanSourceError, asked_theorems

KIND = "lean"
STATEMENT, CANDIDATE = "statement.lean", "candidate.lean"
RESERVE_S = 3.0  # of the time limit, kept for the runs after the challenge's compile (each takes at least 1 s)


def statement_sha256(statement: str) -> str:
    """The sha256 of a statement's text, as the claim records it."""
    return hashlib.sha256(statement.encode("utf-8")).hexdigest()


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
            "statement_sha256": statement_sha256(statement),
        },
        "artifacts": artifacts,
        "checks": [f"{k}: {v}" for k, v in checks.items()],
        "provenance": {"toolchain": toolchain, "kernel_replay": replay},
    }


@dataclass
class _Cert:
    """A ``lean`` certificate's fields, read and type-checked."""

    statement: str
    proof: str
    theorems: list[str]
    names: list[str] | None
    axioms: dict[str, list[str]]
    kernel_replay: str
    toolchain: str
    statement_sha256: str | None


def _text(artifacts: dict[str, Any], name: str) -> str:
    value = artifacts.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"artifacts.{name}: {'missing' if value is None else 'not Lean source'}")
    return value


def _names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(n, str) and n for n in value)


def _read(cert: dict[str, Any]) -> _Cert:
    """The certificate's fields, or a ValueError naming the first ill-typed one (``verify`` exits 2).

    Everything is checked here, before any Lean runs, including what the checker only shows or never reads
    (``provenance``): a malformed certificate is malformed, whatever field it is in.
    """
    artifacts = cert.get("artifacts")
    if not isinstance(artifacts, dict):
        raise ValueError("artifacts: not an object of file names and texts")
    statement, proof = _text(artifacts, STATEMENT), _text(artifacts, CANDIDATE)
    claim = cert.get("claim")
    if not isinstance(claim, dict):
        raise ValueError("claim: not an object")
    theorems = claim.get("theorems")
    if theorems is None:
        raise ValueError("claim.theorems: missing")
    if not _names(theorems):
        raise ValueError("claim.theorems: not a list of theorem names")
    names = claim.get("candidate_names")
    if names is not None and not _names(names):
        raise ValueError("claim.candidate_names: not a list of theorem names")
    axioms = claim.get("axioms")
    if not isinstance(axioms, dict) or not all(
        isinstance(a, list) and all(isinstance(x, str) for x in a) for a in axioms.values()
    ):
        raise ValueError("claim.axioms: not an object of theorem names and axiom lists")
    for key in ("kernel_replay", "toolchain", "statement_sha256"):
        if claim.get(key) is not None and not isinstance(claim[key], str):
            raise ValueError(f"claim.{key}: not a string")
    provenance = cert.get("provenance")
    if provenance is not None and not isinstance(provenance, dict):
        raise ValueError("provenance: not an object")
    chain = (provenance or {}).get("toolchain")
    if chain is not None:
        if not isinstance(chain, dict):
            raise ValueError("provenance.toolchain: not an object")
        command = chain.get("command")
        if command is not None and not (isinstance(command, list) and all(isinstance(c, str) for c in command)):
            raise ValueError("provenance.toolchain.command: not a list of strings")
        for key in ("version", "project"):
            if chain.get(key) is not None and not isinstance(chain[key], str):
                raise ValueError(f"provenance.toolchain.{key}: not a string")
    replay = (provenance or {}).get("kernel_replay")
    if replay is not None and not isinstance(replay, dict):
        raise ValueError("provenance.kernel_replay: not an object")
    return _Cert(
        statement,
        proof,
        theorems,
        names,
        axioms,
        claim.get("kernel_replay") or "not run",
        claim.get("toolchain") or "unknown",
        claim.get("statement_sha256"),
    )


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


def _judge(cert: _Cert, options: dict[str, Any]) -> LeanVerdict | str:
    """Judge with the verifying user's Lean and no other, within the time limit; a string says why it could not.

    The Lean is the user's (``lean_path``/``project`` in their options, ``SOLVEGRAPH_LEAN``, ``lean`` on PATH,
    as the plugin finds it): never a path the certificate records.
    """
    sandbox = str(options.get("sandbox") or "auto")
    try:
        typed = _options(options)
    except RuntimeError as exc:
        return str(exc)
    limit = options.get("time_limit")
    budget = float(limit) if isinstance(limit, int | float) and limit > 0 else typed.timeout
    end = time.monotonic() + budget
    with deadline(end):
        try:
            command, project = find_toolchain(typed)
        except LeanNotConfigured as exc:
            return f"{exc}; the certificate was not re-judged (the toolchain it records is never run)"
        toolchain(command, project)  # asked once within the limit; check_proof reads the answer back
        left = end - time.monotonic()
        typed = typed.model_copy(update={"timeout": max(1.0, min(typed.timeout, left - RESERVE_S))})
        try:
            return check_proof(
                cert.proof, statement=cert.statement, options=typed, sandbox=sandbox, candidate_names=cert.names
            )
        except LeanNotConfigured as exc:
            return str(exc)
        except ValueError as exc:  # the certificate was read above: this is the toolchain's answer, not a field
            return f"the check could not be made: {exc}"


def _squash(text: str) -> str:
    return " ".join(text.split())


def _claim_checks(cert: _Cert) -> tuple[list[Asked], list[dict[str, Any]]]:
    """The theorems ``statement.lean`` asks for, and a failed check for each claim that does not match it."""
    failed: list[dict[str, Any]] = []
    digest = statement_sha256(cert.statement)
    if cert.statement_sha256 is not None and cert.statement_sha256 != digest:
        detail = f"the certificate says {cert.statement_sha256[:64]}; statement.lean's is {digest}"
        failed.append({"check": "claim.statement_sha256", "outcome": "failed", "detail": detail})
    try:
        asked = asked_theorems(cert.statement)
    except LeanSourceError:  # the judge reads it the same way and says why
        return [], failed
    names = [a.name for a in asked]
    if sorted(cert.theorems) != sorted(names):
        failed.append(
            {
                "check": "claim.theorems",
                "outcome": "failed",
                "detail": f"the certificate claims {', '.join(cert.theorems)}; statement.lean asks for "
                f"{', '.join(names) or 'no theorem'}",
            }
        )
    if cert.names is not None:
        try:
            declared = theorem_names(cert.proof)
        except LeanSourceError:  # the judge rejects it
            declared = None
        missing = [n for n in cert.names if not any(n == d or n.endswith("." + d) for d in declared or [])]
        if declared is not None and missing:
            failed.append(
                {
                    "check": "claim.candidate_names",
                    "outcome": "failed",
                    "detail": f"{', '.join(missing)}: not a theorem of candidate.lean (it declares "
                    f"{', '.join(declared) or 'none'})",
                }
            )
    return asked, failed


def _statement_check(statement: str, problem: str) -> dict[str, Any]:
    """``statement.lean`` against the stored problem: its own Lean statement, or text the problem contains
    (whitespace aside), which is what the judge required when it issued the certificate."""
    from .plugin import problem_statement  # the judge's own reading of a problem (plugin imports this module)

    if not problem.strip():
        detail = "the stored trajectory has no problem text to compare statement.lean with"
        return {"check": "statement", "outcome": "not checked", "detail": detail}
    own = problem_statement(problem)
    if own is not None and _squash(own) == _squash(statement):
        return {"check": "statement", "outcome": "passed", "detail": "the problem's own Lean statement"}
    if _squash(statement) in _squash(problem):
        detail = "statement.lean appears in the problem's text (whitespace aside), as the judge required"
        return {"check": "statement", "outcome": "passed", "detail": detail}
    detail = "not the problem's own statement"
    if own is not None:
        detail += f" (the problem's Lean statement has sha256 {statement_sha256(own)[:12]})"
    return {"check": "statement", "outcome": "failed", "detail": detail}


def _shown(statement: str, asked: list[Asked]) -> str:
    """What was proven, for the judge line: the asked theorems' headers and the statement's short sha256."""
    heads = [" ".join(f"theorem {a.name} {a.binders} : {a.type}".split()) for a in asked]
    heads = [h if len(h) <= 200 else h[:199] + "…" for h in heads]
    return f"statement.lean (sha256 {statement_sha256(statement)[:12]}): {'; '.join(heads) or 'no theorem read'}"


def check(cert: dict[str, Any], options: dict[str, Any]) -> list[dict[str, Any]]:
    """Re-judge a ``lean`` certificate: one dict per check (the claim against the statement, the statement
    against the stored problem when ``options["problem"]`` gives it, toolchain, judge, axioms, kernel replay).

    The claim stands on Lean's judgement: the ``judge`` line is ``required``, and when it did not pass no other
    line passes either (a matching toolchain version or a replay alone verifies nothing).
    """
    read = _read(cert)
    asked, bound = _claim_checks(read)
    out: list[dict[str, Any]] = list(bound)
    problem = options.get("problem")
    if isinstance(problem, str):
        out.append(_statement_check(read.statement, problem))
    verdict = _judge(read, options)
    if isinstance(verdict, str):  # nothing was judged: no line may pass
        out = [c for c in out if c["outcome"] == "failed"]
        return [*out, {"check": "lean", "outcome": "not checked", "detail": verdict, "required": True}]
    mine = (verdict.record.get("toolchain") or {}).get("version", "unknown")
    out.append(
        {"check": "toolchain", "outcome": "passed", "detail": f"{mine}, as the certificate's"}
        if mine == read.toolchain
        else {
            "check": "toolchain",
            "outcome": "not checked",
            "detail": f"the certificate was made with {read.toolchain}; re-judged with {mine}",
        }
    )
    replay = verdict.record.get("kernel_replay") or {}
    status, why = replay.get("status", "not run"), replay.get("detail", "")
    shown = _shown(read.statement, asked)
    said = verdict.checks.get("statement", "")
    timed_out = verdict.timed_out or verdict.checks.get("challenge") == "failed: timed out"
    if verdict.accepted:
        weaker = "" if status == "passed" else " (the compile alone: no kernel replay here)"
        detail = f"{shown}; compiled in the sandbox; {said}{weaker}"
        out.append({"check": "judge", "outcome": "passed", "detail": detail, "required": True})
    elif timed_out:
        out.append(
            {
                "check": "judge",
                "outcome": "not checked",
                "detail": f"{shown}; Lean did not finish within the time limit: {'; '.join(verdict.reasons)[:300]}",
                "required": True,
            }
        )
    else:
        detail = f"{shown}; {'; '.join(verdict.reasons)[:600]}"
        out.append({"check": "judge", "outcome": "failed", "detail": detail, "required": True})
    if verdict.axioms:
        found = {k: sorted(v) for k, v in verdict.axioms.items()}
        claimed = {k: sorted(v) for k, v in read.axioms.items()}
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
    outcome = {"passed": "passed", "failed": "failed"}.get(status, "not checked")
    if status == "passed":
        line = f"passed ({replay.get('tool')})"
    elif status == read.kernel_replay or read.kernel_replay == "not run":
        line = f"{status}: {why}"
    else:  # the claim says more than this verifier could re-establish: shown as not established
        line = f"{status} here: {why}; the certificate's claim ({read.kernel_replay}) is not re-established"
    out.append({"check": "kernel replay", "outcome": outcome, "detail": line})
    if not verdict.accepted:  # nothing passes without Lean's judgement
        for c in out:
            if c["outcome"] == "passed":
                c.update(outcome="not checked", detail=c["detail"] + " (the judge did not pass)")
    return out


def _axioms(by_theorem: dict[str, list[str]]) -> str:
    return "; ".join(f"{k}: {', '.join(v) or 'none'}" for k, v in sorted(by_theorem.items())) or "none"
