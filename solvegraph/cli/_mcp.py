"""``solvegraph mcp serve``: solvegraph's checked tools, and the whole solve, for MCP clients."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import SolvegraphError
from ._console import check_sandbox, console
from ._options import SHARED_OPTIONS, SolvingOptions, solving_options
from ._settings import settings_from
from ._solve import runner_for

mcp_app = typer.Typer(
    help="Serve solvegraph's checked tools to MCP clients.", no_args_is_help=True, rich_markup_mode=None
)
err = console(stderr=True)


@mcp_app.command("serve")
@solving_options()
def mcp_serve(
    tools: Annotated[
        str | None,
        typer.Option(
            "--tools",
            help="Comma-separated tools to serve (default: python,milp,cp,smt,lean,solve). "
            "Outside plugins' tools are served only when named here.",
        ),
    ] = None,
    max_concurrent: Annotated[
        int, typer.Option("--max-concurrent", min=1, help="Tool calls run at once; more wait their turn.")
    ] = 4,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="Serve streamable HTTP on HOST:PORT (e.g. 127.0.0.1:8765) instead of stdio; each MCP session "
            "gets its own kernel, ended when the session ends.",
        ),
    ] = None,
    opts: SolvingOptions = SHARED_OPTIONS,
) -> None:
    """Serve over stdio (the client starts this command), or HTTP: python, milp, cp, smt, lean and solve.

    Each client gets its own sandboxed Python kernel, which keeps its variables between calls and is
    killed when the client disconnects. `solve` runs the whole graph against the configured model
    (started only when a solve is asked for) and reports each step as MCP progress. Nothing but the
    protocol is written to stdout.
    """
    from ..agents import plugins_for
    from ..serve import ToolServer, serve_http, serve_stdio

    settings = settings_from(opts)
    check_sandbox(settings.sandbox)
    chosen = [t.strip() for t in tools.split(",") if t.strip()] if tools is not None else None
    try:
        server = ToolServer(
            plugins_for(settings),
            tools=chosen,
            session_options=settings.session_options(),
            make_runner=lambda: runner_for(settings),
            max_concurrent=max_concurrent,
        )
    except ValueError as exc:
        raise SolvegraphError(str(exc)) from None
    if http is None:
        serve_stdio(server)
        return
    host, _, port = http.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SolvegraphError(f"--http expects HOST:PORT, e.g. 127.0.0.1:8765, got {http!r}")
    err.print(f"serving MCP on http://{host}:{port}/mcp (Ctrl-C stops)", markup=False, highlight=False)
    try:
        serve_http(server, host.strip("[]"), int(port))
    except OSError as exc:
        raise SolvegraphError(str(exc)) from None


__all__ = ["mcp_app"]
