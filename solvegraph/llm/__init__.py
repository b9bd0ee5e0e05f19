"""Model access: one OpenAI-compatible client, and the embedded offline default."""

from .client import ChatModel, ModelClient, Reply
from .embedded import EmbeddedServer, embedded_server, stop_embedded_servers
from .factory import make_client

__all__ = [
    "ChatModel",
    "EmbeddedServer",
    "ModelClient",
    "Reply",
    "embedded_server",
    "make_client",
    "stop_embedded_servers",
]
