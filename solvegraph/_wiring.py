"""The run's parts from its settings, shared by every command: the plugin manager with the configured MCP servers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

try:  # typer from 0.2x carries its own copy of click, whose exceptions and enums are not click's
    from typer._click import exceptions as click_errors
    from typer._click.core import ParameterSource
except ImportError:  # an older typer drives click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]
    from click.core import ParameterSource  # type: ignore[assignment]

from .config import Settings
from .plugins import PluginManager
from .tools.mcp import McpPlugin, servers_for

__all__ = ["McpOpt", "ParameterSource", "click_errors", "given", "one_of", "plugin_manager"]

McpOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mcp",
        metavar="NAME=COMMAND",
        help="Use an MCP server's tools, as NAME=COMMAND (e.g. --mcp time='mcp-server-time'); repeatable. "
        "Its tools are named NAME-TOOL. [[mcp_servers]] in solvegraph.toml configures them for good.",
        show_default=False,
    ),
]


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the user wrote the parameter ``name`` on the command line (not its default or an env var)."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def one_of(*values: str) -> Callable[[str | None], str | None]:
    """A flag's callback that accepts only ``values``: a usage error naming them (exit 2), never a silent no-op."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in values:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(values)}")
        return value

    return check


def plugin_manager(settings: Settings) -> PluginManager:
    """Every installed plugin, plus the MCP servers of ``settings`` (started once per process, on first use)."""
    manager = PluginManager()
    if settings.mcp_servers:
        manager.register(McpPlugin(servers_for(settings.mcp_servers, settings.sandbox)), "mcp", source="mcp_servers")
    return manager
