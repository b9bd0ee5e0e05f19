"""``[tools.mcp]``: what every MCP server of a process gets unless its own ``[[mcp_servers]]`` table says otherwise.

Kept apart from the client so that reading and checking these options (``plugins list``, a bad value refused
at a command's start) never imports the MCP SDK.
"""

from __future__ import annotations

from pydantic import Field

from ...plugins import ToolOptions, hookimpl


class McpOptions(ToolOptions):
    """The MCP plugin's options; a server's own ``timeout`` in its ``[[mcp_servers]]`` table overrides
    ``call_timeout`` for that server."""

    section = "mcp"

    start_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a server may take to start and list its tools before it is reported unavailable.",
    )
    call_timeout: float = Field(
        default=60.0,
        gt=0,
        description="Seconds per tool call for servers that set no timeout; past it the call is cancelled.",
    )


class McpOptionsPlugin:
    """The MCP plugin's options hook, registered with its servers (``manager.register(..., "mcp")``)."""

    @hookimpl
    def solvegraph_options(self) -> type[ToolOptions]:
        return McpOptions
