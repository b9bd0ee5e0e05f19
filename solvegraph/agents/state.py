"""The typed state that flows through the graph, and the run context beside it.

State holds what routing needs (round, budgets, verdict); the full record of every
step lives in the :class:`Trajectory` the context owns, so nothing large is
copied between nodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from ..llm import ChatModel
from ..memory import Step, Trajectory
from ..plugins import PluginManager, Tool, ToolSession
from ..types import Event, Verdict


class Attempt(TypedDict, total=False):
    reply: str
    work: list[str]  # code blocks and tool calls, as text
    outputs: list[str]  # rendered tool results
    tool_errors: list[str]
    results: list[dict[str, Any]]  # {"name", "arguments", "result"} for plugin verifiers
    last_ok: bool
    answer: str | None


class SolveState(TypedDict, total=False):
    problem: str
    context: str
    plan: str
    round: int
    tool_calls: int
    attempt: Attempt
    verdict: Verdict
    guidance: str
    answer: str | None
    solved: bool
    stop_reason: str


EventSink = Callable[[Event], None]
StepSink = Callable[[Trajectory, Step], None]


@dataclass
class Budget:
    max_rounds: int = 3
    max_tool_calls: int = 8
    max_solver_turns: int = 3  # model turns per solver round
    verify_with_model: bool = True
    reuse_model_accepted: bool = False  # may model-accepted answers teach later runs (not only tool-verified)


@dataclass
class RunContext:
    """Everything the nodes share for one solve."""

    client: ChatModel
    tools: dict[str, Tool]
    session: ToolSession
    trajectory: Trajectory
    budget: Budget
    plugins: PluginManager | None = None
    event_sinks: list[EventSink] = field(default_factory=list)
    step_sinks: list[StepSink] = field(default_factory=list)

    def emit(self, kind: str, agent: str, round_: int, **data: Any) -> None:
        event = Event(kind, agent, round_, data)
        for sink in self.event_sinks:
            sink(event)

    def record(self, step: Step) -> None:
        """Append a step to the trajectory and hand it to every sink (e.g. the store) at once."""
        self.trajectory.steps.append(step)
        for sink in self.step_sinks:
            sink(self.trajectory, step)

    def fragments(self, agent: str) -> str:
        if self.plugins is None:
            return ""
        return "\n".join(self.plugins.prompt_fragments(agent))

    def tool_list(self) -> str:
        return "\n".join(f"- {t.prompt_hint or f'{t.name}: {t.description}'}" for t in self.tools.values())
