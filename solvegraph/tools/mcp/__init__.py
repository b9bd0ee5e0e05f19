"""Any MCP server's tools as solvegraph tools: ``[[mcp_servers]]`` in solvegraph.toml, or ``--mcp NAME=COMMAND``.

The client (and with it the MCP SDK) loads on first use of its names: checking ``[tools.mcp]`` needs only
the options model.
"""

from typing import Any

from ._options import McpOptions, McpOptionsPlugin

_CLIENT = ("McpPlugin", "McpServers", "servers_for")


def __getattr__(name: str) -> Any:
    if name in _CLIENT:
        from . import _client

        return getattr(_client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["McpOptions", "McpOptionsPlugin", "McpPlugin", "McpServers", "servers_for"]
