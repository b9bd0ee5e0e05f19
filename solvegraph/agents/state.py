"""The typed state that flows through the graph, and the run context beside it.

The state is the run: routing fields (round, budgets, verdict) and every step taken. The context
(:class:`SolveContext`) holds the live objects a checkpoint cannot: the model client, the tools and
their session. Nodes get it as ``runtime.context`` and report events on the stream writer.

The nodes are coroutines: a model call is awaited on the event loop (``ChatModel.achat``), and blocking
work (a kernel cell, a solver, Lean, a plugin's check) goes to ``SolveContext.blocking``, a thread pool
the caller bounds, so many solves share one loop without a thread each.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langgraph.config import get_stream_writer
from langgraph.func import task
from langgraph.runtime import Runtime

from ..llm import ChatModel, Reply
from ..plugins import Blocking, PluginManager, Tool, ToolSession, in_thread
from ..types import Event, ToolCall, Usage, Verdict

# What the roles asked for before max_tokens could be set per role: short plans, advice and verdicts.
DEFAULT_ROLE_MAX_TOKENS = {"planner": 400, "verifier": 300, "refiner": 400}


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


@dataclass
class Budget:
    max_rounds: int = 3
    max_tool_calls: int = 8
    max_solver_turns: int = 3  # model turns per solver round
    verify_with_model: bool = True
    reuse_model_accepted: bool = False  # may model-accepted answers teach later runs (not only tool-verified)
    # max_tokens per role ("planner", "solver", "verifier", "refiner"); a role not named uses the client's.
    max_tokens: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ROLE_MAX_TOKENS))


@dataclass
class SolveContext:
    """What the nodes share for one solve and never checkpoint: the model, the tools and their session.

    It is the graph's ``context_schema``: LangGraph hands it to every node as ``runtime.context``.
    ``approve`` makes the solver ask (through ``interrupt()``) before each tool call. ``blocking`` runs
    blocking work off the event loop: ``await ctx.blocking(fn, *args)``.
    """

    client: ChatModel
    tools: dict[str, Tool]
    session: ToolSession
    budget: Budget = field(default_factory=Budget)
    plugins: PluginManager | None = None
    approve: bool = False
    blocking: Blocking = in_thread
    # A role's own model ([models.verifier], --verifier-model ...); a role not here asks ``client``.
    clients: dict[str, ChatModel] = field(default_factory=dict)

    def fragments(self, agent: str) -> str:
        if self.plugins is None:
            return ""
        return "\n".join(self.plugins.prompt_fragments(agent))

    def tool_list(self) -> str:
        return "\n".join(f"- {t.prompt_hint or f'{t.name}: {t.description}'}" for t in self.tools.values())


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
) -> dict[str, Any]:
    """One model call as a LangGraph task: its result is checkpointed, so a node that is resumed (after an
    approval interrupt, or a crash with a checkpointer) replays the reply instead of asking the model again."""
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
    data = await chat_turn(ctx.clients.get(role, ctx.client), messages, tools, max_tokens, response_format)
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
