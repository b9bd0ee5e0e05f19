"""Running the graph on one problem: the public entry point for callers."""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Iterable
from importlib.resources import files
from typing import TYPE_CHECKING, cast

from ..errors import SolvegraphError
from ..llm import ChatModel
from ..memory import Step, Trajectory
from ..plugins import PluginManager, ToolSession
from .graph import build_graph
from .state import Budget, Event, EventSink, RunContext, StepSink

if TYPE_CHECKING:
    from ..memory import Memory
    from ..memory.models import MadeTool


class SolveRunner:
    """Solves problems with the planner/solver/verifier/refiner graph and the loaded tools."""

    def __init__(
        self,
        client: ChatModel,
        plugins: PluginManager | None = None,
        budget: Budget | None = None,
        session_options: dict[str, object] | None = None,
        event_sinks: Iterable[EventSink] = (),
        step_sinks: Iterable[StepSink] = (),
        memory: Memory | None = None,
    ) -> None:
        self.client = client
        self.plugins = plugins if plugins is not None else PluginManager()
        self.budget = budget or Budget()
        self.session_options = dict(session_options or {})
        self.event_sinks = list(event_sinks)
        self.step_sinks = list(step_sinks)
        self.memory = memory

    def config_hash(self) -> str:
        """Same problem + same configuration = the exact cache may answer without the model."""
        b = self.budget
        config = {
            # The model's identity, not its URL: the embedded server's port changes every run.
            "model": getattr(self.client, "identity", f"{self.client.base_url}#{self.client.model}"),
            "rounds": b.max_rounds,
            "tool_calls": b.max_tool_calls,
            "turns": b.max_solver_turns,
            "verify": b.verify_with_model,
            "tools": sorted(self.plugins.tools()),
            "prompts": _prompts_digest(),
        }
        return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()

    def solve(
        self,
        problem: str,
        *,
        context: str = "",
        session: ToolSession | None = None,
        on_event: EventSink | None = None,
        dataset_id: str | None = None,
        gold: str | None = None,
        trajectory: Trajectory | None = None,
    ) -> Trajectory:
        """Run the graph; ``session`` may be passed to keep a kernel across chat turns."""
        problem = (problem or "").strip()
        if not problem:
            raise SolvegraphError("the problem is empty; pass the problem text")
        own_session = session is None
        session = session or ToolSession(options=self.session_options)
        sinks = [*self.event_sinks, *([on_event] if on_event else [])]
        trajectory = trajectory or Trajectory(problem=problem, model=self.client.model)
        step_sinks = list(self.step_sinks)
        memory, made_tools = self.memory, cast("list[MadeTool]", [])
        try:
            if memory is not None:
                config_hash = self.config_hash()
                run_id = memory.ensure_run(self.client.model)
                prep = memory.prepare(problem, config_hash, dataset_id=dataset_id)
                memory.store.begin(trajectory, run_id, dataset_id=dataset_id, gold=gold, config_hash=config_hash)
                step_sinks.append(lambda t, s: memory.store.add_step(t.id, len(t.steps) - 1, s))
                if prep.cached is not None:
                    memory.cache_hit(trajectory, prep.cached)
                    memory.store.add_step(trajectory.id, 0, trajectory.steps[0])
                    hit = {"answer": trajectory.answer, "reason": "exact cache", "source": prep.cached[1]}
                    _emit(sinks, Event("answer", "memory", 0, hit))
                    return trajectory
                if prep.examples:
                    context = f"{prep.examples}\n\n{context}".strip()
                if prep.tools:
                    made_tools, note = self._load_made_tools(prep.tools, session, trajectory, step_sinks)
                    context = f"{context}\n\n{note}".strip() if note else context
            self._run_graph(problem, context, session, trajectory, sinks, step_sinks)
        except BaseException:
            trajectory.status = "error"
            trajectory.finished_at = time.time()
            raise
        finally:
            if memory is not None and trajectory.status != "running":
                memory.store.finish(trajectory)
                if trajectory.status != "error":
                    outcome = memory.after(trajectory, made_tools)
                    if any(outcome.values()):
                        _emit(sinks, Event("memory", "memory", 0, outcome))
            if own_session:
                session.close()
        return trajectory

    def _run_graph(
        self,
        problem: str,
        context: str,
        session: ToolSession,
        trajectory: Trajectory,
        sinks: list[EventSink],
        step_sinks: list[StepSink],
    ) -> None:
        ctx = RunContext(
            client=self.client,
            tools=self.plugins.tools(),
            session=session,
            trajectory=trajectory,
            budget=self.budget,
            plugins=self.plugins,
            event_sinks=sinks,
            step_sinks=step_sinks,
        )
        build_graph(ctx).invoke(
            {"problem": problem, "context": context, "round": 1, "tool_calls": 0},
            config={"recursion_limit": 4 * self.budget.max_rounds + 10},
        )

    def _load_made_tools(
        self, tools: list[MadeTool], session: ToolSession, trajectory: Trajectory, step_sinks: list[StepSink]
    ) -> tuple[list[MadeTool], str]:
        """Define made tools in the kernel through the python tool itself, and say so to the solver."""
        python = self.plugins.tools().get("python")
        if python is None:
            return [], ""
        step = Step(agent="memory", round=0, reply="loaded made tools into the Python kernel")
        loaded = []
        for t in tools:
            call_id = f"made_{t.id}"
            result = python.run({"code": t.source}, session)
            step.tool_calls.append({"id": call_id, "name": "python", "arguments": {"code": t.source}})
            step.tool_results.append({"id": call_id, "name": "python", **result.to_dict()})
            if result.ok:
                loaded.append(t)
        trajectory.steps.append(step)
        for sink in step_sinks:
            sink(trajectory, step)
        if not loaded:
            return [], ""
        lines = [f"- {t.signature}: {t.docstring.splitlines()[0] if t.docstring else 'no docstring'}" for t in loaded]
        note = (
            "Helper functions already defined in the Python kernel (made from earlier verified solutions; "
            "call them instead of rewriting them):\n" + "\n".join(lines)
        )
        return loaded, note


@functools.cache
def _prompts_digest() -> str:
    """The prompt files do not change while the process runs: hash them once, not on every solve."""
    digest = hashlib.sha256()
    for f in sorted((files("solvegraph.agents") / "prompts").iterdir(), key=lambda p: p.name):
        digest.update(f.read_bytes())
    return digest.hexdigest()


def _emit(sinks: list[EventSink], event: Event) -> None:
    for sink in sinks:
        sink(event)


__all__ = ["SolveRunner"]
