"""The run's parts from its settings, shared by every command: the plugin manager with the configured MCP servers."""

from __future__ import annotations

from typing import Annotated

import typer

from .config import Settings
from .plugins import PluginManager
from .tools.mcp import McpPlugin, servers_for

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


def plugin_manager(settings: Settings) -> PluginManager:
    """Every installed plugin, plus the MCP servers of ``settings`` (started once per process, on first use)."""
    manager = PluginManager()
    if settings.mcp_servers:
        manager.register(McpPlugin(servers_for(settings.mcp_servers, settings.sandbox)), "mcp", source="mcp_servers")
    return manager
