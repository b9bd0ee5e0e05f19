"""``solvegraph verify CERT|RUN_ID|-``: re-check certificates where nothing of the original run is.

The core (load, validate, re-check in a fresh sandboxed process, aggregate) is
:mod:`solvegraph.plugins._certify`; this module finds the certificates (a file, stdin, or the memory
store) and prints one line per check, then a summary. Exit codes: 0 verified (every certificate has a
passing check and none failed), 1 refuted or not verified (a check failed, none passed, or a run without
certificates), 2 malformed (one line naming the field).

A certificate read from the store is checked with its trajectory's problem at hand: each checker's options
then carry ``problem`` (the stored problem text), so a checker can bind the certificate to what was asked
(the Lean checker requires ``statement.lean`` to be the problem's own statement). A certificate read from a
file or stdin has no problem to compare with.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ._console import console
from ._options import Db, SandboxOpt

if TYPE_CHECKING:
    from ..plugins._certify import Report

out = console()
err = console(stderr=True)


def verify(
    target: Annotated[
        str,
        typer.Argument(
            metavar="CERT|RUN_ID|-",
            help="A certificate JSON file (or JSON Lines of several, or a `runs export`), a stored trajectory "
            "or run id (all its certificates), or - to read stdin.",
        ),
    ],
    db: Db = None,
    sandbox: SandboxOpt = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.1, help="Seconds for each checker's re-solve [60].")
    ] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON report on stdout.")] = False,
    config: Annotated[str | None, typer.Option("--config", help="A solvegraph.toml to read.")] = None,
) -> None:
    """Re-check certificates of tool-verified answers in a fresh sandboxed process; one line per check.

    Exit 0: verified. 1: refuted, or nothing could be verified. 2: malformed (unreadable JSON, an unknown
    schema version, a missing or ill-typed field, a kind with no checker, an artifact the checker cannot read).
    """
    from ..plugins import PluginManager
    from ..plugins._certify import EXIT_CODES, MALFORMED, REFUTED, CertificateError, overall, verify_all
    from ._settings import settings_with

    settings = settings_with({"db": db, "sandbox": sandbox}, config)
    try:
        found = _found(target, db, config)
    except CertificateError as exc:
        _say_malformed(str(exc), as_json)
        raise typer.Exit(EXIT_CODES[MALFORMED]) from None
    if not found:  # a stored run or trajectory without any: its answers are not tool-verified
        line = f"{target}: no certificate is stored for it (no tool-verified answer); nothing was verified"
        if as_json:
            print(json.dumps({"outcome": REFUTED, "certificates": [], "detail": line}))
        else:
            err.print(line, markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_CODES[REFUTED])
    checkers = PluginManager().certificate_checkers()
    tool_options = settings.effective_tool_options()
    reports: list[Report] = []
    for source, data, problem in found:
        reports += verify_all(
            [(source, data)],
            checkers,
            sandbox=settings.sandbox or "auto",
            tool_options=_with_problem(tool_options, {c.plugin for c in checkers.values()}, problem),
            time_limit=time_limit,
        )
    result = overall(reports)
    if as_json:
        print(json.dumps({"outcome": result, "certificates": [r.to_dict() for r in reports]}))
    elif len(reports) == 1 and result == MALFORMED:  # one line naming the field
        _say_malformed(reports[0].detail, as_json)
    else:
        for report in reports:
            _print(report, several=len(reports) > 1)
        counts = {k: sum(r.outcome == k for r in reports) for k in ("verified", "refuted", "malformed")}
        summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
        print(f"{result}: {summary} ({len(reports)} certificate{'s' if len(reports) != 1 else ''})")
    raise typer.Exit(EXIT_CODES[result])


def _with_problem(
    tool_options: dict[str, dict[str, Any]], plugins: set[str], problem: str | None
) -> dict[str, dict[str, Any]]:
    """Each checker plugin's options, with the stored trajectory's problem text under ``problem`` when there is one."""
    if problem is None:
        return tool_options
    return {**tool_options, **{p: {**tool_options.get(p, {}), "problem": problem} for p in plugins}}


def _found(target: str, db: str | None, config: str | None) -> list[tuple[str, Any, str | None]]:
    """(where it was read, the certificate, the stored problem text or None) for each certificate found."""
    from ..plugins._certify import CertificateError, parse_certificates

    if target == "-":
        return [(s, c, None) for s, c in parse_certificates(sys.stdin.read(), "stdin")]
    path = Path(target)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CertificateError(f"{target}: cannot be read ({type(exc).__name__})") from None
        return [(s, c, None) for s, c in parse_certificates(text, target)]
    if path.suffix in (".json", ".jsonl") or "/" in target:
        raise CertificateError(f"{target}: no such file")
    from ._settings import open_store

    store = open_store(db, config)
    try:
        _, ids = store.resolve(target)
        found: list[tuple[str, Any, str | None]] = []
        for i in ids:
            certificates = store.certificates(i)
            if certificates:  # the problem it was issued for: a checker binds the certificate to it
                problem = store.load(i).problem
                found += [(f"trajectory {i}", c.to_dict(), problem) for c in certificates]
        return found
    finally:
        store.close()


def _say_malformed(detail: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"outcome": "malformed", "certificates": [], "detail": detail}))
    else:
        err.print(f"malformed: {detail}", markup=False, highlight=False, soft_wrap=True)


def _print(report: Report, several: bool) -> None:
    """One line per check (``passed/failed/not checked  <check>: <detail>``); model text is printed as is,
    never as markup."""
    head = f"{report.kind or '?'} certificate {report.id or '?'}" + (f" ({report.source})" if several else "")
    if report.outcome == "malformed":
        print(f"malformed  {head}: {report.detail}")
        return
    if several:
        print(head)
    for check in report.checks:
        print(f"{check['outcome']:<12} {check['check']}: {check['detail']}")
    if report.detail:
        print(f"{'not checked':<12} {report.detail}")
