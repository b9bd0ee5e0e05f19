"""What a solve's graph nodes share besides the state: the budget and the run context, and the opening
request. Nothing here loads LangGraph, so the runner can send the planner's request before it does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..llm import ChatModel, Reply
from ..plugins import Blocking, PluginManager, Tool, ToolSession, in_thread
from ._prompts import render

# What the roles asked for before max_tokens could be set per role: short plans, advice and verdicts.
DEFAULT_ROLE_MAX_TOKENS = {"planner": 400, "verifier": 300, "refiner": 400}


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
    # The planner's request, already sent while the graph was loaded (see :class:`Opening`).
    opening: Opening | None = None

    def fragments(self, agent: str) -> str:
        if self.plugins is None:
            return ""
        return "\n".join(self.plugins.prompt_fragments(agent))

    def tool_list(self) -> str:
        return "\n".join(f"- {t.prompt_hint or f'{t.name}: {t.description}'}" for t in self.tools.values())


def planner_messages(ctx: SolveContext, problem: str, context: str) -> list[dict[str, Any]]:
    """The planner's request: its prompt with the tools and the plugins' fragments, then the problem."""
    system = render("planner", tools=ctx.tool_list(), fragments=ctx.fragments("planner"))
    user = problem + (f"\n\n{context}" if context else "")
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


class Opening:
    """The planner's model request of a new solve, sent before the graph is loaded.

    Loading LangGraph and compiling the graph take most of a cold process's start (~0.5 s), and the first
    node only builds this request and waits for the reply: so the runner sends it first, loads the graph
    off the event loop meanwhile, and the planner takes the reply (:meth:`take`) instead of asking again.
    It is a task on the solve's own loop: cancelled with the solve, and by :meth:`discard` when not taken.
    The request is the planner's to the letter (the same messages, model and max_tokens, through the same
    ``achat``), so the step recorded, the events and the response cache are those of the planner asking.
    """

    def __init__(self, ctx: SolveContext, problem: str, context: str) -> None:
        self.client = ctx.clients.get("planner", ctx.client)
        self.messages = planner_messages(ctx, problem, context)
        self.max_tokens = ctx.budget.max_tokens.get("planner")
        self._task: asyncio.Task[Reply] | None = asyncio.ensure_future(
            self.client.achat(self.messages, max_tokens=self.max_tokens)
        )

    def take(
        self,
        client: ChatModel,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        max_tokens: int | None,
        response_format: dict[str, Any] | None,
    ) -> asyncio.Task[Reply] | None:
        """The reply in flight, if this is the request it answers (once); else None and it is discarded."""
        task, self._task = self._task, None
        if task is None:
            return None
        same = client is self.client and messages == self.messages and max_tokens == self.max_tokens
        if same and not tools and not response_format:
            return task
        _forget(task)
        return None

    def discard(self) -> None:
        """Cancel the request when the solve ended (or failed) before the planner took it."""
        task, self._task = self._task, None
        if task is not None:
            _forget(task)


def _forget(task: asyncio.Task[Any]) -> None:
    task.cancel()
    # A request that had already failed: its error is the solve's concern only if the solve asks.
    task.add_done_callback(lambda done: None if done.cancelled() else done.exception())
