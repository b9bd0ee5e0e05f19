"""A step's fields from the model reply it records, shared by the graph's nodes and the bench's
strategies (``direct`` and ``pal`` use it without loading the graph, and so without LangGraph)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..llm import Reply


def recorded(reply: Reply) -> dict[str, Any]:
    """A step's fields from the reply it records: what the model wrote (its reasoning apart), tokens, model,
    and how the reply came back. ``Step(agent, round, messages, **recorded(reply))``."""
    return {
        "reply": reply.content or "",
        "reasoning": reply.reasoning,
        "reply_meta": reply.meta(),
        "usage": reply.usage,
        "model": reply.model,
    }


__all__ = ["recorded"]
