"""The typed state that flows through the graph, and the run context beside it.

The state is the run: routing fields (round, budgets, verdict) and every step taken. The context
(:class:`SolveContext`) holds the live objects a checkpoint cannot: the model client, the tools and
their session. Nodes get it as ``runtime.context`` and report events on the stream writer.

The nodes are coroutines: a model call is awaited on the event loop (``ChatModel.achat``), and blocking
work (a kernel cell, a solver, Lean, a plugin's check) goes to ``SolveContext.blocking``, a thread pool
the caller bounds, so many solves share one loop without a thread each.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, TypedDict

from langgraph.config import get_stream_writer
from langgraph.func import task
from langgraph.runtime import Runtime

from ..llm import ChatModel, Reply
from ..types import Event, ToolCall, Usage, Verdict

# Budget and SolveContext live where loading them does not load LangGraph; they are named here too.
from ._context import DEFAULT_ROLE_MAX_TOKENS, Budget, SolveContext

__all__ = ["DEFAULT_ROLE_MAX_TOKENS", "Attempt", "Budget", "SolveContext", "SolveState", "Verdict", "ask", "chat_turn",
           "emit", "max_tokens_for"]  # fmt: skip


class Attempt(TypedDict, total=False):
    reply: str
    work: list[str]  # code blocks and tool calls, as text
    outputs: list[str]  # rendered tool results
    tool_errors: list[str]
    results: list[dict[str, Any]]  # {"name", "arguments", "result"} for plugin verifiers
    last_ok: bool
    answer: str | None


class SolveState(TypedDict, total=False):
    """The graph's state: what routing needs, and the run's record itself (``steps``).

    Every node returns the steps it took; the ``operator.add`` reducer appends them, so the state (and
    each checkpoint of it) holds the whole trajectory so far. Steps are kept as plain dicts
    (:meth:`Step.to_dict`), the form the checkpointer serialises without trusting any class.
    """

    problem: str
    context: str
    plan: str
    round: int
    turn: int  # the solver's model turn within the round
    messages: list[dict[str, Any]]  # the solver's conversation in the current round
    tool_calls: int
    attempt: Attempt
    verdict: Verdict
    route: str  # after the verifier: "refiner" or "finish"
    guidance: str
    answer: str | None
    solved: bool
    trust: str
    reusable: bool
    stop_reason: str
    certificates: list[dict[str, Any]]  # the last accepting verdict's certificates, whole (see verifier.certified)
    steps: Annotated[list[dict[str, Any]], operator.add]


def emit(kind: str, agent: str, round_: int, **data: Any) -> None:
    """Report an event on the graph's ``custom`` stream (the CLI prints them; the bench ignores them)."""
    get_stream_writer()(Event(kind, agent, round_, data))


@task
async def chat_turn(
    client: ChatModel,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    max_tokens: int | None = None,
    response_format: dict[str, Any] | None = None,
    sent: asyncio.Task[Reply] | None = None,
) -> dict[str, Any]:
    """One model call as a LangGraph task: its result is checkpointed, so a node that is resumed (after an
    approval interrupt, or a crash with a checkpointer) replays the reply instead of asking the model again.
    ``sent``: this very request, already in flight (the solve's :class:`~._context.Opening`)."""
    if sent is not None:
        reply = await sent
    else:
        # Asked for only where a schema is given: a ChatModel that predates it (a caller's wrapper) still works.
        extra = {"response_format": response_format} if response_format else {}
        reply = await client.achat(messages, tools=tools, max_tokens=max_tokens, **extra)
    return {
        "text": reply.text,
        "tool_calls": [c.to_dict() for c in reply.tool_calls],
        "usage": reply.usage.to_dict(),
        "duration_s": reply.duration_s,
        "finish_reason": reply.finish_reason,
        "model": reply.model or client.model,
        "reasoning": reply.reasoning,
        "content": reply.content,
        "tool_format": reply.tool_format,
        "problems": list(reply.problems),
        "retries": list(reply.retries),
    }


async def ask(
    runtime: Runtime[SolveContext],
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None = None,
    max_tokens: int | None = None,
    response_format: dict[str, Any] | None = None,
    *,
    role: str = "solver",
) -> Reply:
    """One model turn of ``role``, asked of that role's model (the solver's unless the role has its own)."""
    ctx = runtime.context
    client = ctx.clients.get(role, ctx.client)
    sent = ctx.opening.take(client, messages, tools, max_tokens, response_format) if ctx.opening else None
    data = await chat_turn(client, messages, tools, max_tokens, response_format, sent)
    return Reply(
        text=data["text"],
        tool_calls=[ToolCall(**c) for c in data["tool_calls"]],
        usage=Usage(**{k: v for k, v in data["usage"].items() if k != "total_tokens"}),
        duration_s=data["duration_s"],
        finish_reason=data["finish_reason"],
        model=str(data.get("model") or ""),
        reasoning=str(data.get("reasoning") or ""),
        content=data.get("content"),
        tool_format=str(data.get("tool_format") or ""),
        problems=list(data.get("problems") or []),
        retries=list(data.get("retries") or []),
    )


def max_tokens_for(runtime: Runtime[SolveContext], role: str) -> int | None:
    """The max_tokens a role's turns ask for: its own setting, else the client's default (None)."""
    return runtime.context.budget.max_tokens.get(role)
