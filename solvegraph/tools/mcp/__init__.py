"""Any MCP server's tools as solvegraph tools: ``[[mcp_servers]]`` in solvegraph.toml, or ``--mcp NAME=COMMAND``."""

from ._client import McpPlugin, McpServers, servers_for

__all__ = ["McpPlugin", "McpServers", "servers_for"]
