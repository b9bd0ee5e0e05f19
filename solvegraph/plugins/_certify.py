"""Re-checking certificates: load, validate, run each kind's checker in a fresh sandboxed process, aggregate.

The core of ``solvegraph verify``, below the CLI so a server or the API can use it too. Each certificate is
re-checked by the :class:`~solvegraph.plugins.CertificateChecker` registered for its ``kind``, in a new
:class:`~solvegraph.sandbox.SandboxWorker` that may call that checker and nothing else, and that is
closed after it: it shares no process, kernel or file with the run that issued the certificate.

A certificate is ``verified`` when at least one check passed, none failed, and every check its checker
marked ``required`` (what the claim stands on: an infeasible claim's re-solve, say) passed; ``refuted`` when
a check failed, or none passed, or a required one did not (nothing could be checked, the checker crashed or
ran out of time, the claim's own check was undecided: not verified);
``malformed`` when it cannot be read (bad JSON, an unknown schema version, a missing or ill-typed field,
a kind no checker is registered for, an artifact its checker cannot read), with one line naming the field.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from ..sandbox import SOLVER_STACK_MB, Limits, resolve_sandbox
from ..sandbox._worker import SandboxWorker
from ..types import CERTIFICATE_SCHEMA, Certificate
from ._verifier import CertificateChecker

VERIFIED, REFUTED, MALFORMED = "verified", "refuted", "malformed"
EXIT_CODES = {VERIFIED: 0, REFUTED: 1, MALFORMED: 2}
OUTCOMES = ("passed", "failed", "not checked")
DEFAULT_TIME_LIMIT = 60.0  # seconds for a checker's re-solve; the worker is stopped a grace period after
GRACE_S = 30.0
DEFAULT_MEMORY_MB = 4096


class CertificateError(ValueError):
    """A certificate that cannot be read: one line naming the field (``solvegraph verify`` exits 2)."""


@dataclass
class Report:
    """The outcome of re-checking one certificate (or of failing to read one)."""

    outcome: str  # verified | refuted | malformed
    id: str = ""
    kind: str = ""
    source: str = ""  # where it was read from: a file, a trajectory, stdin
    checks: list[dict[str, Any]] = field(default_factory=list)  # check, outcome, detail (and required)
    detail: str = ""  # why it is malformed, or why nothing could be checked

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "id": self.id,
            "kind": self.kind,
            "source": self.source,
            "checks": self.checks,
            "detail": self.detail,
        }


def _field_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"]) or "(root)"
    return f"{where}: {error['msg']}"


def validate(data: Any) -> Certificate:
    """A certificate from its JSON object; a :class:`CertificateError` naming the field otherwise."""
    if not isinstance(data, dict):
        raise CertificateError(f"(root): a certificate is a JSON object, not {type(data).__name__}")
    schema = data.get("schema", CERTIFICATE_SCHEMA)
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise CertificateError("schema: not an integer")
    if schema > CERTIFICATE_SCHEMA or schema < 1:
        raise CertificateError(
            f"schema: version {schema} is unknown (this solvegraph reads up to {CERTIFICATE_SCHEMA})"
        )
    for required in ("kind", "claim"):
        if required not in data:
            raise CertificateError(f"{required}: missing")
    try:
        return Certificate.from_dict(data)
    except ValidationError as exc:
        raise CertificateError(_field_error(exc)) from None


def parse_certificates(text: str, source: str) -> list[tuple[str, Any]]:
    """The certificate objects in a text: one certificate, a JSON list, JSON Lines of them, or ``runs export``
    lines (trajectories with a ``certificates`` key). Each comes with where it was found."""
    stripped = text.strip()
    if not stripped:
        raise CertificateError(f"{source}: empty: no certificate to check")
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
        items: list[Any] = []
        for n, row in enumerate(stripped.splitlines(), 1):
            if not row.strip():
                continue
            try:
                items.append(json.loads(row))
            except json.JSONDecodeError as exc:
                raise CertificateError(f"{source}: line {n}: not JSON ({exc.msg})") from None
    else:
        items = whole if isinstance(whole, list) else [whole]
    found: list[tuple[str, Any]] = []
    for n, item in enumerate(items, 1):
        where = source if len(items) == 1 else f"{source}:{n}"
        if isinstance(item, dict) and "certificates" in item and "kind" not in item:  # a runs export line
            inner = item["certificates"]
            if not isinstance(inner, list):
                raise CertificateError(f"{where}: certificates: not a list")
            found += [(f"{where} (trajectory {item.get('id', '?')})", c) for c in inner]
        else:
            found.append((where, item))
    if not found:
        raise CertificateError(f"{source}: holds no certificate")
    return found


def recheck(
    certificate: Certificate,
    checker: CertificateChecker,
    *,
    sandbox: str = "auto",
    options: dict[str, Any] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    memory_mb: int = DEFAULT_MEMORY_MB,
) -> Report:
    """Run ``checker`` on ``certificate`` in a fresh sandboxed worker, and judge what it says."""
    report = Report(MALFORMED, certificate.id, certificate.kind)
    opts = {"time_limit": time_limit, **(options or {})}
    if checker.sandboxed:
        worker = SandboxWorker(
            resolve_sandbox(sandbox), [checker.target], Limits(memory_mb=memory_mb, stack_mb=SOLVER_STACK_MB)
        )
        try:
            outcome, value = worker.call(checker.target, certificate.to_dict(), opts, deadline_s=time_limit + GRACE_S)
        finally:
            worker.close()
    else:  # it sandboxes each run itself (see CertificateChecker.sandboxed)
        outcome, value = _in_process(checker.target, certificate.to_dict(), {**opts, "sandbox": sandbox})
    if outcome == "error":  # the checker's ValueError: an artifact or field it cannot read
        report.detail = str(value).splitlines()[0] if str(value) else "the checker could not read it"
        return report
    if outcome != "ok":
        report.outcome = REFUTED
        report.detail = {
            "timeout": f"the checker did not finish within {time_limit + GRACE_S:g} s; nothing was verified",
            "memory": f"the checker crashed or ran out of memory ({value}); nothing was verified",
        }.get(outcome, f"the checker failed ({value}); nothing was verified")
        return report
    checks = _checks(value)
    if checks is None:
        report.outcome = REFUTED
        report.detail = "the checker's reply is not a list of checks; nothing was verified"
        return report
    report.checks = checks
    failed = any(c["outcome"] == "failed" for c in checks)
    passed = any(c["outcome"] == "passed" for c in checks)
    open_ = [c["check"] for c in checks if c.get("required") and c["outcome"] != "passed"]
    report.outcome = VERIFIED if passed and not failed and not open_ else REFUTED
    if not passed and not failed:
        report.detail = "no check could be made; nothing was verified"
    elif open_ and not failed:
        report.detail = f"not verified: the claim rests on {', '.join(open_)}, which was not checked"
    return report


def _in_process(target: str, certificate: dict[str, Any], options: dict[str, Any]) -> tuple[str, Any]:
    """Call a checker that sandboxes its own runs, with the worker's outcomes: ``ok``, ``error`` (its
    ValueError: a field it cannot read) or ``failed`` (anything else it raised)."""
    module, _, name = target.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        return "failed", f"cannot load {target}: {exc}"
    try:
        return "ok", function(certificate, options)
    except ValueError as exc:
        return "error", str(exc)
    except Exception as exc:  # the checker's own bug, or a sandbox that cannot start: nothing was verified
        return "failed", f"{type(exc).__name__}: {exc}"


def _checks(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if not isinstance(item, dict) or item.get("outcome") not in OUTCOMES:
            return None
        check: dict[str, Any] = {
            "check": str(item.get("check", "")),
            "outcome": item["outcome"],
            "detail": str(item.get("detail", "")),
        }
        if item.get("required") is True:  # the claim stands on it: verified only if it passed
            check["required"] = True
        out.append(check)
    return out


def verify_all(
    found: list[tuple[str, Any]],
    checkers: dict[str, CertificateChecker],
    *,
    sandbox: str = "auto",
    tool_options: dict[str, dict[str, Any]] | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> list[Report]:
    """Validate and re-check each certificate; a malformed one is a report, never an exception."""
    reports = []
    for source, data in found:
        try:
            certificate = validate(data)
        except CertificateError as exc:
            reports.append(Report(MALFORMED, source=source, detail=str(exc)))
            continue
        checker = checkers.get(certificate.kind)
        if checker is None:
            known = ", ".join(sorted(checkers)) or "none"
            detail = f"kind: no checker is registered for {certificate.kind!r} (known: {known})"
            reports.append(Report(MALFORMED, certificate.id, certificate.kind, source, detail=detail))
            continue
        options = dict((tool_options or {}).get(checker.plugin, {}))
        memory_mb = int(options.get("memory_mb") or DEFAULT_MEMORY_MB)
        report = recheck(certificate, checker, sandbox=sandbox, options=options, time_limit=time_limit,
                         memory_mb=memory_mb)  # fmt: skip
        report.source = source
        reports.append(report)
    return reports


def overall(reports: list[Report]) -> str:
    """Malformed if any is, else refuted if any is, else verified."""
    outcomes = {r.outcome for r in reports}
    return MALFORMED if MALFORMED in outcomes else REFUTED if REFUTED in outcomes or not reports else VERIFIED
