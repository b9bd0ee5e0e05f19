"""solvegraph's checked tools, served over the Model Context Protocol to any MCP client."""

from ._server import DEFAULT_TOOLS, ToolServer, serve_http, serve_stdio

__all__ = ["DEFAULT_TOOLS", "ToolServer", "serve_http", "serve_stdio"]
