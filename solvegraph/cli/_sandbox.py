"""``solvegraph sandbox check``: what the execution seam isolates on this machine, verified."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from ._console import console

sandbox_app = typer.Typer(
    help="The execution seam that runs model-written code: check what it isolates here.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
out = console()
err = console(stderr=True)


@sandbox_app.command("check")
def check(
    sandbox: Annotated[
        str | None,
        typer.Option(
            "--sandbox",
            help="The backend to check: auto (the one solvegraph would use here), gvisor, bwrap or none "
            "[env SOLVEGRAPH_SANDBOX; default auto].",
        ),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Check every backend this machine has.")] = False,
    no_kernel: Annotated[
        bool, typer.Option("--no-kernel", help="Skip the fresh-kernel checks (other sessions, disk): faster.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object (a list with --all) on stdout.")] = False,
    config: Annotated[str | None, typer.Option("--config", help="A solvegraph.toml to read.")] = None,
) -> None:
    """Run the isolation suite against a backend: network, host files, secrets in the environment, host
    processes, uid, memory, processes, file size, other sessions, disk, and whether the kernel is the host's.

    Every property is shown, claimed by the backend or not. Exits 1 when a property the backend claims
    does not hold, 2 when the backend cannot run here (the line says why and what to do).
    """
    from ..sandbox import MODES, SandboxError, resolve_sandbox
    from ._settings import settings_with

    settings = settings_with({"sandbox": sandbox}, config)
    names = [m for m in MODES if m != "auto"] if every else [settings.sandbox]
    reports: list[dict[str, Any]] = []
    failed = False
    for name in names:
        try:
            backend = resolve_sandbox(name)
        except SandboxError as exc:
            if not every:
                err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
                raise typer.Exit(2) from None
            reports.append({"ok": None, "backend": {"backend": name}, "error": str(exc), "properties": []})
            if not as_json:
                out.print(f"{name}: not available here: {exc}", markup=False, highlight=False, soft_wrap=True)
            continue
        if not as_json:
            err.print(f"checking {backend.mode} ({backend.reason}) ...", markup=False, highlight=False, soft_wrap=True)
        if backend.warning:
            err.print(backend.warning, markup=False, highlight=False, soft_wrap=True)
        report = backend.self_check(kernel=not no_kernel)
        failed |= not report.ok
        reports.append(report.to_dict())
        if not as_json:
            _print(report.to_dict())
    if as_json:
        sys.stdout.write(json.dumps(reports if every else reports[0]) + "\n")
    if failed:
        raise typer.Exit(1)


def _print(report: dict[str, Any]) -> None:
    backend = report["backend"]
    out.print(f"{backend['backend']}: {backend['reason']}", markup=False, highlight=False, soft_wrap=True)
    if report["error"]:
        out.print(f"  error: {report['error']}", markup=False, highlight=False, soft_wrap=True)
    for prop in report["properties"]:
        mark = "ok  " if prop["holds"] else ("FAIL" if prop["claimed"] else "--  ")
        claim = "isolated" if prop["claimed"] else "not claimed"
        out.print(
            f"  {mark} {prop['name']:<15} {claim:<12} {prop['detail']}", markup=False, highlight=False, soft_wrap=True
        )
    verdict = "every claimed property holds" if report["ok"] else "a claimed property does NOT hold"
    out.print(f"  {verdict}", markup=False, highlight=False)
