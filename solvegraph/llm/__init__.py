"""Model access: one OpenAI-compatible client, and the embedded offline default."""

from ._dialects import CONTENT_DIALECTS, TOOL_MODES, Parsed, detect, parse_calls
from ._reasoning import Split, split_reasoning
from .client import ChatModel, ModelClient, Reply
from .embedded import EmbeddedServer, embedded_server, stop_embedded_servers
from .factory import make_client, make_role_clients

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
    "split_reasoning",
    "stop_embedded_servers",
]
