"""Running the graph on one problem: the public entry point for callers."""

from __future__ import annotations

import time
from collections.abc import Iterable

from ..errors import SolvegraphError
from ..llm import ModelClient
from ..memory import Trajectory
from ..plugins import PluginManager, ToolSession
from .graph import build_graph
from .state import Budget, EventSink, RunContext, StepSink


class SolveGraph:
    """Solves problems with the planner/solver/verifier/refiner graph and the loaded tools."""

    def __init__(
        self,
        client: ModelClient,
        plugins: PluginManager | None = None,
        budget: Budget | None = None,
        session_options: dict[str, object] | None = None,
        event_sinks: Iterable[EventSink] = (),
        step_sinks: Iterable[StepSink] = (),
    ) -> None:
        self.client = client
        self.plugins = plugins if plugins is not None else PluginManager()
        self.budget = budget or Budget()
        self.session_options = dict(session_options or {})
        self.event_sinks = list(event_sinks)
        self.step_sinks = list(step_sinks)

    def solve(
        self,
        problem: str,
        *,
        context: str = "",
        session: ToolSession | None = None,
        on_event: EventSink | None = None,
    ) -> Trajectory:
        """Run the graph; ``session`` may be passed to keep a kernel across chat turns."""
        problem = (problem or "").strip()
        if not problem:
            raise SolvegraphError("the problem is empty; pass the problem text")
        own_session = session is None
        session = session or ToolSession(options=self.session_options)
        trajectory = Trajectory(problem=problem, model=self.client.model)
        ctx = RunContext(
            client=self.client,
            tools=self.plugins.tools(),
            session=session,
            trajectory=trajectory,
            budget=self.budget,
            plugins=self.plugins,
            event_sinks=[*self.event_sinks, *([on_event] if on_event else [])],
            step_sinks=self.step_sinks,
        )
        graph = build_graph(ctx)
        try:
            graph.invoke(
                {"problem": problem, "context": context, "round": 1, "tool_calls": 0},
                config={"recursion_limit": 4 * self.budget.max_rounds + 10},
            )
        except BaseException:
            trajectory.status = "error"
            trajectory.finished_at = time.time()
            raise
        finally:
            if own_session:
                session.close()
        return trajectory
