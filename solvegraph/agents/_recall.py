"""The memory's part in a solve, a collaborator of the runner: what it gives a solve before the graph
runs (the exact cache's answer, worked examples, made tools loaded into the kernel) and what it takes
from the solve when it ends (the record finished, examples and tools learned)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..plugins import Blocking, PluginManager, ToolSession
from ..types import Event, Step, Trajectory, credit

if TYPE_CHECKING:
    from ..memory import Memory
    from ..memory.models import MadeTool


@dataclass
class Recalled:
    """What the memory gave one solve before it ran."""

    context: str  # the caller's context, with worked examples and the made tools' note before and after it
    made_tools: list[MadeTool] = field(default_factory=list)
    step: Step | None = None  # the made tools' loading, a step of the trajectory
    hit: Event | None = None  # answered from the exact cache: the trajectory is complete, nothing runs


class Recall:
    """The runner's memory: ``before`` a solve, ``resumed`` for one continued, ``after`` it ended."""

    def __init__(self, memory: Memory, plugins: PluginManager) -> None:
        self.memory = memory
        self.plugins = plugins

    async def before(
        self,
        problem: str,
        trajectory: Trajectory,
        *,
        context: str,
        config_hash: str,
        tools: list[str],
        dataset_id: str | None,
        gold: str | None,
        session: ToolSession,
        blocking: Blocking,
    ) -> Recalled:
        """Start the record (its run first), then answer from the exact cache or gather what helps."""
        memory = self.memory
        model = trajectory.model
        run_id = memory.ensure_run(
            model, {"model": model, "tools": tools}, run_id=trajectory.id if memory.run_kind == "solve" else None
        )
        prep = memory.prepare(problem, config_hash, dataset_id=dataset_id)
        memory.store.begin(trajectory, run_id, sample_id=dataset_id, gold=gold, config_hash=config_hash)
        if prep.cached is not None:
            memory.cache_hit(trajectory, prep.cached)
            memory.store.add_step(trajectory.id, 0, trajectory.steps[0])
            hit = {"answer": trajectory.answer, "reason": "exact cache", "source": prep.cached[1]}
            return Recalled(context, hit=Event("answer", "memory", 0, hit))
        if prep.examples:
            context = f"{prep.examples}\n\n{context}".strip()
        if not prep.tools:
            return Recalled(context)
        made, note, step = await blocking(self._load_made_tools, prep.tools, session)
        return Recalled(f"{context}\n\n{note}".strip() if note else context, made, step)

    def resumed(self, trajectory: Trajectory, steps: list[Step], model: str) -> None:
        """A solve goes on from its checkpoint: its record is reopened, cut to the checkpoint's steps."""
        store = self.memory.store
        stored = store.load(trajectory.id)
        trajectory.started_at = stored.started_at
        trajectory.model = credit(stored.model, model)  # resumed with --switch-model: both
        store.reopen(trajectory.id)
        store.keep_steps(trajectory.id, len(steps))
        for seq in range(len(stored.steps), len(steps)):
            store.add_step(trajectory.id, seq, steps[seq])

    def after(self, trajectory: Trajectory, made_tools: list[MadeTool]) -> dict[str, list[str]]:
        """Write how the solve ended; what memory learned from it (examples, made tools) is returned."""
        if trajectory.status == "running":
            return {}
        self.memory.store.finish(trajectory)
        if trajectory.status in ("error", "refused", "interrupted"):
            return {}
        return self.memory.after(trajectory, made_tools)

    def _load_made_tools(self, tools: list[MadeTool], session: ToolSession) -> tuple[list[MadeTool], str, Step | None]:
        """Define made tools in the kernel through the python tool itself, and say so to the solver."""
        python = self.plugins.tools().get("python")
        if python is None:
            return [], "", None
        step = Step(agent="memory", round=0, reply="loaded made tools into the Python kernel")
        loaded = []
        for t in tools:
            call_id = f"made_{t.id}"
            result = python.run({"code": t.source}, session)
            step.tool_calls.append({"id": call_id, "name": "python", "arguments": {"code": t.source}})
            step.tool_results.append({"id": call_id, "name": "python", **result.to_dict()})
            if result.ok:
                loaded.append(t)
        if not loaded:
            return [], "", step
        lines = [f"- {t.signature}: {t.docstring.splitlines()[0] if t.docstring else 'no docstring'}" for t in loaded]
        note = (
            "Helper functions already defined in the Python kernel (made from earlier verified solutions; "
            "call them instead of rewriting them):\n" + "\n".join(lines)
        )
        return loaded, note, step


__all__ = ["Recall", "Recalled"]
