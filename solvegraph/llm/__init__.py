"""Model access: one OpenAI-compatible client, and the embedded offline default.

Names are imported on first use (PEP 562): a command that only reads a reply's text (the fenced dialect, for
the bench's scorers) or lists plugins never loads the client and its transport.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: a constant of this name is read as true by type checkers, and costs nothing here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._dialects import CONTENT_DIALECTS, TOOL_MODES, Parsed, detect, parse_calls
    from ._http import preload_transport
    from ._reasoning import Split, split_reasoning
    from .client import ChatModel, ModelClient, Reply
    from .embedded import EmbeddedServer, embedded_server, stop_embedded_servers
    from .factory import make_client, make_role_clients

_LAZY = {
    "CONTENT_DIALECTS": "._dialects",
    "TOOL_MODES": "._dialects",
    "Parsed": "._dialects",
    "detect": "._dialects",
    "parse_calls": "._dialects",
    "preload_transport": "._http",
    "Split": "._reasoning",
    "split_reasoning": "._reasoning",
    "ChatModel": ".client",
    "ModelClient": ".client",
    "Reply": ".client",
    "EmbeddedServer": ".embedded",
    "embedded_server": ".embedded",
    "stop_embedded_servers": ".embedded",
    "make_client": ".factory",
    "make_role_clients": ".factory",
}

__all__ = [
    "CONTENT_DIALECTS",
    "TOOL_MODES",
    "ChatModel",
    "EmbeddedServer",
    "ModelClient",
    "Parsed",
    "Reply",
    "Split",
    "detect",
    "embedded_server",
    "make_client",
    "make_role_clients",
    "parse_calls",
    "preload_transport",
    "split_reasoning",
    "stop_embedded_servers",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'solvegraph.llm' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
