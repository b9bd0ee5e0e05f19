"""``solvegraph plugins``: the plugins found, their tools and typed options; a new plugin's project."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ._console import console
from ._options import McpOpt, SandboxOpt, ToolOpt
from ._settings import settings_with

plugins_app = typer.Typer(help="Inspect tool plugins.", no_args_is_help=True, rich_markup_mode=None)
out = console()
err = console(stderr=True)


@plugins_app.command("list")
def plugins_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    sandbox: SandboxOpt = None,
    config: Annotated[str | None, typer.Option("--config", help="A solvegraph.toml to read.")] = None,
    mcp: McpOpt = None,
    tool_opt: ToolOpt = None,
) -> None:
    """Show every plugin found, the tools it offers, any that failed to load, the MCP servers, and the sandbox."""
    from ..agents import plugins_for
    from ..sandbox import resolve_sandbox

    settings = settings_with({"sandbox": sandbox, "mcp": mcp, "tool_opt": tool_opt}, config)
    backend = resolve_sandbox(settings.sandbox).describe()
    pm = plugins_for(settings)
    tools = pm.tools()
    configured = pm.check_options(settings.effective_tool_options())
    servers: list[dict[str, Any]] = []
    if settings.mcp_servers:
        from ..tools.mcp import McpOptions, servers_for

        given = configured.get("mcp")
        mcp_options = given if isinstance(given, McpOptions) else None
        servers = servers_for(settings.mcp_servers, settings.sandbox, mcp_options).status()
    rows: list[dict[str, Any]] = [
        {"plugin": p.name, "source": p.source, "ok": p.ok and not p.error, "tools": p.tools, "error": p.error,
         "options": _options_rows(p.options, configured.get(p.name)) if p.options is not None else []}
        for p in pm.plugins.values()
    ]  # fmt: skip
    if as_json:
        print(json.dumps({"plugins": rows, "tools": sorted(tools), "mcp_servers": servers, "sandbox": backend}))
        return
    table = Table(title="solvegraph plugins")
    for col in ("plugin", "status", "tools", "source / error"):
        table.add_column(col)
    for r in rows:
        status = "[green]loaded[/]" if r["ok"] else ("[yellow]partial[/]" if r["tools"] else "[red]failed[/]")
        # Names and errors can come from outside code (an MCP server's stderr): shown as text, never markup.
        table.add_row(Text(r["plugin"]), status, Text(", ".join(r["tools"]) or "-"), Text(r["error"] or r["source"]))
    out.print(table)
    options = Table(title=Text("tool options: [tools.PLUGIN] in solvegraph.toml, --tool-opt PLUGIN.KEY=VALUE"))
    for col in ("option", "type", "default", "this run", "description"):
        options.add_column(col)
    for r in rows:
        for o in r["options"]:
            shown = "-" if o["value"] == o["default"] else json.dumps(o["value"])
            options.add_row(*(Text(x) for x in (f"{r['plugin']}.{o['name']}", o["type"], json.dumps(o["default"]),
                                                  shown, o["description"])))  # fmt: skip
    if options.row_count:
        out.print(options)
    if servers:
        mcp_table = Table(title="MCP servers")
        for col in ("server", "transport", "status", "tools / error"):
            mcp_table.add_column(col)
        for srv in servers:
            state = "[green]running[/]" if srv["running"] else "[red]not running[/]"
            shown_tools = ", ".join(srv["tools"]) or "-"
            mcp_table.add_row(Text(srv["server"]), srv["transport"], state, Text(srv["error"] or shown_tools))
        out.print(mcp_table)
    line = f"sandbox: {backend['backend']} ({backend['reason']}); limits: {backend['limits']}"
    out.print(line, markup=False, highlight=False)
    if backend["warning"]:
        err.print(backend["warning"], markup=False, highlight=False)


def _options_rows(model: Any, values: Any) -> list[dict[str, Any]]:
    """A plugin's options for ``plugins list``: each with its type, default and this run's value."""
    from ..plugins import describe_options

    rows = describe_options(model)
    for row in rows:
        value = getattr(values, row["name"], row["default"]) if values is not None else row["default"]
        row["value"] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return rows


@plugins_app.command("new")
def plugins_new(
    name: Annotated[str, typer.Argument(help="Tool name: lowercase letters, digits and '_'.")],
    directory: Annotated[str, typer.Option("--dir", help="Where to create the project folder.")] = ".",
) -> None:
    """Write a ready plugin project: pyproject with the entry point, a typed tool, tests, README."""
    from pathlib import Path

    from ..plugins import PluginManager
    from ..plugins._scaffold import new_plugin

    installed = PluginManager()  # the installed plugins; MCP servers' tools are prefixed with the server's name
    target = new_plugin(name, Path(directory), set(installed.tools()) | set(installed.plugins))
    err.print(f"created {target}\nnext: pip install -e {target} && solvegraph plugins list")
    print(target)


__all__ = ["plugins_app"]
