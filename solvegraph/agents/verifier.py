"""Verifier: cheap deterministic checks first, then the model's judgement.

Tool errors, no code, no output and no answer are caught without a model call;
each becomes feedback the refiner can act on.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime
from pydantic import ValidationError

from ..types import CERTIFICATE_SCHEMA, Certificate, Step
from ._prompts import render
from ._steps import recorded
from .state import Attempt, Budget, SolveContext, SolveState, Verdict, ask, emit, max_tokens_for

_VERDICT = re.compile(r"VERDICT\s*:\s*\**\s*(ACCEPT|REJECT)", re.I)
# The verdict as a JSON schema: asked for where the endpoint takes response_format (OpenAI's structured outputs,
# vLLM's and llama.cpp's guided decoding); an endpoint that refuses it is asked in text from then on.
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "verdict",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"verdict": {"type": "string", "enum": ["ACCEPT", "REJECT"]}, "feedback": {"type": "string"}},
            "required": ["verdict", "feedback"],
            "additionalProperties": False,
        },
    },
}


def deterministic_verdict(attempt: Attempt) -> Verdict | None:
    """A rejection with feedback, or None when the attempt passes the mechanical checks."""
    if not attempt.get("work"):
        return {
            "accepted": False,
            "source": "deterministic",
            "feedback": "No code was run and no tool was called. Write a ```python block (or call a tool) "
            "that computes the answer and prints it.",
        }
    if not attempt.get("last_ok"):
        errors = attempt.get("tool_errors") or ["the last tool call failed"]
        return {
            "accepted": False,
            "source": "deterministic",
            "feedback": f"The last tool call failed: {errors[-1]}. Fix the code and run it again.",
        }
    outputs = attempt.get("outputs") or []
    if not outputs or outputs[-1].strip() in ("", "(no output)"):
        return {
            "accepted": False,
            "source": "deterministic",
            "feedback": "The code produced no output. Print the result.",
        }
    if attempt.get("answer") is None:
        return {
            "accepted": False,
            "source": "deterministic",
            "feedback": "No final answer could be read. End with a line 'ANSWER: <value>'.",
        }
    return None


@dataclass(frozen=True)
class Accepted:
    """A plugin check that explicitly accepted (``accepted: True``): its name and all it said (its feedback,
    and what a check may add: the certificate its verdict rests on, an independent cross-check)."""

    name: str
    said: dict[str, Any]


def plugin_verdict(
    ctx: SolveContext, problem: str, attempt: Attempt
) -> tuple[Verdict | None, list[str], list[Accepted]]:
    """Run the plugins' independent checks; the first rejection wins.

    Also returns their notes, and the checks that explicitly accepted (``accepted: True``): those make an
    accepted answer tool-verified. A check that has nothing to say returns None.
    """
    if ctx.plugins is None:
        return None, [], []
    notes: list[str] = []
    passed: list[Accepted] = []
    for verifier in ctx.plugins.verifiers():
        try:
            results = list(attempt.get("results", []))
            answer = attempt.get("answer")
            said = (
                verifier.check(problem, results, None if answer is None else str(answer))
                if verifier.answer
                else verifier.check(problem, results)
            )
        except Exception as exc:  # a broken check must not take the run down
            notes.append(f"{verifier.name}: check failed: {type(exc).__name__}: {exc}")
            continue
        if not said:
            continue
        feedback = str(said.get("feedback", ""))
        if said.get("accepted") is False:  # True verifies, False rejects, absent is a note only
            return {"accepted": False, "source": f"verifier:{verifier.name}", "feedback": feedback}, notes, passed
        notes.append(f"{verifier.name}: {feedback or 'passed'}")
        if said.get("accepted") is True:
            passed.append(Accepted(verifier.name, dict(said)))
    return None, notes, passed


def certified(ctx: SolveContext, accepted: list[Accepted]) -> tuple[list[Accepted], list[Certificate], list[str]]:
    """The accepting checks whose certificate stands, their certificates, and notes on the ones that do not.

    A check's acceptance makes an answer tool-verified only with a certificate that anyone can re-check
    without the run (``solvegraph verify``): a valid :class:`Certificate` of a ``kind`` some plugin registered
    a checker for. An invalid one, or none, leaves the check a note; the answer's trust then falls to what
    the model's verdict, or no verdict, gives it.
    """
    checkers = ctx.plugins.certificate_checkers() if ctx.plugins is not None else {}
    kept: list[Accepted] = []
    certificates: list[Certificate] = []
    notes: list[str] = []
    for check in accepted:
        raw = check.said.get("certificate")
        if raw is None:
            notes.append(f"{check.name}: accepted, but issued no certificate, so it does not make the answer "
                         "tool-verified")  # fmt: skip
            continue
        try:
            certificate = raw if isinstance(raw, Certificate) else Certificate.from_dict(dict(raw))
        except (ValidationError, TypeError, ValueError) as exc:
            notes.append(f"{check.name}: its certificate is invalid ({_first_error(exc)}), so it does not make "
                         "the answer tool-verified")  # fmt: skip
            continue
        if certificate.schema > CERTIFICATE_SCHEMA or certificate.kind not in checkers:
            why = (
                f"schema version {certificate.schema} is newer than {CERTIFICATE_SCHEMA}"
                if certificate.schema > CERTIFICATE_SCHEMA
                else f"no checker is registered for certificates of kind {certificate.kind!r}"
            )
            notes.append(f"{check.name}: {why}, so it does not make the answer tool-verified")
            continue
        certificate.verifier = certificate.verifier or check.name
        kept.append(check)
        certificates.append(certificate)
    return kept, certificates, notes


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        error = exc.errors()[0]
        return f"{'.'.join(str(p) for p in error['loc']) or '(root)'}: {error['msg']}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def trust_of(verdict: Verdict, tool_checks: list[Accepted]) -> str:
    """How an accepted verdict was reached: a tool's sound check beats the model's word, which beats none.

    The model may still reject what a tool checked (a re-checked MILP solution of the wrong model), but
    it cannot raise an unchecked answer to tool-verified, and an unclear reply is never a verification.
    An accepting check that names independent routes that agreed with it (``cross_verified``: exact
    rationals, a second solver, cvc5) makes the answer cross-verified, the tier above.
    """
    if cross_routes(tool_checks):
        return "cross-verified"
    if tool_checks:
        return "tool-verified"
    if verdict.get("source") == "model":
        return "model-accepted"
    return "unchecked"


def cross_routes(tool_checks: list[Accepted]) -> list[str]:
    """The independent routes the accepting checks say agreed with them (``said["cross_verified"]``, a
    non-empty list of names), in order, each once; anything else a check put there is ignored."""
    routes: list[str] = []
    for check in tool_checks:
        said = check.said.get("cross_verified")
        if isinstance(said, list):
            routes += [r for r in said if isinstance(r, str) and r and r not in routes]
    return routes


async def verifier_node(state: SolveState, runtime: Runtime[SolveContext]) -> SolveState:
    ctx = runtime.context
    round_ = state.get("round", 1)
    attempt = state.get("attempt", {})
    started = time.perf_counter()
    verdict = deterministic_verdict(attempt)
    notes: list[str] = []
    tool_checks: list[Accepted] = []
    if verdict is None:
        # A plugin's check may run a tool (Lean, a solver): off the event loop.
        verdict, notes, tool_checks = await ctx.blocking(plugin_verdict, ctx, state["problem"], attempt)
    tool_checks, certificates, uncertified = certified(ctx, tool_checks)
    notes += uncertified
    step = Step(agent="verifier", round=round_)
    if verdict is None and not ctx.budget.verify_with_model:
        feedback = "checked by " + ", ".join(c.name for c in tool_checks) if tool_checks else "mechanical checks passed"
        verdict = {"accepted": True, "source": "deterministic", "feedback": feedback}
    if verdict is None:
        messages = [
            {"role": "system", "content": render("verifier", fragments=ctx.fragments("verifier"))},
            {
                "role": "user",
                "content": render(
                    "verifier_user",
                    problem=state["problem"],
                    work="\n---\n".join(attempt.get("work", [])[-3:]),
                    outputs="\n---\n".join(attempt.get("outputs", [])[-3:]),
                    answer=str(attempt.get("answer")),
                ),
            },
        ]
        reply = await ask(
            runtime,
            messages,
            max_tokens=max_tokens_for(runtime, "verifier"),
            response_format=VERDICT_SCHEMA,
            role="verifier",
        )
        step = Step(agent="verifier", round=round_, messages=messages, **recorded(reply))
        step.timings["model_s"] = reply.duration_s
        verdict = parse_verdict(reply.text)
    if notes:
        verdict["checks"] = notes
    if verdict.get("accepted"):
        verdict["trust"] = trust_of(verdict, tool_checks)
        if tool_checks:
            verdict["verified_by"] = [c.name for c in tool_checks]
            # By id only: the certificates (whole model files) go to the store once, not into every step.
            verdict["certificates"] = [c.id for c in certificates]
        if verdict["trust"] == "cross-verified":
            verdict["cross_verified_by"] = cross_routes(tool_checks)
    step.verdict = dict(verdict)
    step.timings["total_s"] = time.perf_counter() - started
    emit("verdict", "verifier", round_, **verdict)
    kept = [c.to_dict() for c in certificates] if verdict.get("accepted") else []
    return {
        "verdict": verdict,
        "route": next_after_verdict(state, verdict, ctx.budget),
        "steps": [step.to_dict()],
        "certificates": kept,
    }


def next_after_verdict(state: SolveState, verdict: Verdict, budget: Budget) -> str:
    """Finish on acceptance or when the round or tool-call budget is spent; else the refiner."""
    if verdict.get("accepted"):
        return "finish"
    if state.get("round", 1) >= budget.max_rounds:
        return "finish"
    if state.get("tool_calls", 0) >= budget.max_tool_calls:
        return "finish"
    return "refiner"


def parse_verdict(text: str) -> Verdict:
    """Read the verdict: the schema's JSON object, else a VERDICT: ACCEPT/REJECT line. With no clear verdict
    the mechanical checks stand, so accept (``model-unclear``, which never makes an answer model-accepted)."""
    structured = _structured(text)
    if structured is not None:
        return structured
    m = _VERDICT.search(text)
    feedback = _VERDICT.sub("", text, count=1).strip() if m else text.strip()
    if m is None:
        return {
            "accepted": True,
            "source": "model-unclear",
            "feedback": "the model gave no clear verdict; the mechanical checks passed",
        }
    return {"accepted": m.group(1).upper() == "ACCEPT", "source": "model", "feedback": feedback}


def _structured(text: str) -> Verdict | None:
    """The verdict from a JSON reply (``{"verdict": "ACCEPT", "feedback": ...}``), or None if it is not one."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    said = data.get("verdict") if isinstance(data, dict) else None
    if not isinstance(said, str) or said.strip().upper() not in ("ACCEPT", "REJECT"):
        return None
    feedback = data.get("feedback")
    return {
        "accepted": said.strip().upper() == "ACCEPT",
        "source": "model",
        "feedback": feedback.strip() if isinstance(feedback, str) else "",
    }
