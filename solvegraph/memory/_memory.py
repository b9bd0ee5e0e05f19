"""Memory as the graph sees it: before a solve (cache, examples, made tools) and around it (recording)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..types import Certificate
from .models import MadeTool
from .retrieval import worked_examples
from .store import TrajectoryStore
from .toolmaking import harvest, record_outcome, tools_for
from .trajectory import Step, Trajectory


@dataclass
class Preparation:
    cached: tuple[str, str, str] | None = None  # (answer, trajectory id, trust)
    examples: str = ""
    tools: list[MadeTool] = field(default_factory=list)


class Memory:
    """Stores every trajectory as it runs, and makes solved problems help the next ones."""

    def __init__(
        self,
        store: TrajectoryStore,
        *,
        retrieve_k: int = 3,
        use_cache: bool = True,
        make_tools: bool = True,
        run_kind: str = "solve",
        run_id: str | None = None,
        run_config: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.retrieve_k = retrieve_k
        self.use_cache = use_cache
        self.make_tools = make_tools
        self.run_kind = run_kind
        self.run_id = run_id
        self.run_config = dict(run_config or {})  # the settings the run is stored with (Settings.run_record)

    def ensure_run(
        self, model: str, config: dict[str, Any] | None = None, dataset: str | None = None, run_id: str | None = None
    ) -> str:
        """The run this memory records into, started on first use with its settings and ``config``; ``run_id``
        names it (a solve's run is its trajectory's id: one id for the user to see)."""
        if self.run_id is None:
            self.run_id = self.store.start_run(
                self.run_kind, model, dataset, {**self.run_config, **(config or {})}, run_id
            )
        return self.run_id

    def prepare(self, problem: str, config_hash: str, *, dataset_id: str | None = None) -> Preparation:
        prep = Preparation()
        if self.use_cache:
            prep.cached = self.store.cached_answer(problem, config_hash)
            if prep.cached:
                return prep
        if self.retrieve_k > 0:
            prep.examples = worked_examples(self.store, problem, self.retrieve_k, exclude_dataset_id=dataset_id)
        if self.make_tools:
            prep.tools = tools_for(self.store, problem, exclude_dataset_id=dataset_id)
        return prep

    def cache_hit(self, trajectory: Trajectory, cached: tuple[str, str, str]) -> None:
        """Answer from an earlier run; the answer keeps the trust it was given there."""
        answer, source, trust = cached
        trajectory.steps.append(
            Step(
                agent="memory",
                round=0,
                reply=f"exact cache hit: {trust} answer of {source}",
                verdict={"accepted": True, "source": "cache", "feedback": source, "trust": trust},
            )
        )
        trajectory.answer, trajectory.solved, trajectory.status = answer, True, "solved"
        trajectory.trust = trust
        # The certificates the cached answer rests on, filed again under this trajectory: `verify` of this
        # run re-checks what its answer stands on.
        trajectory.certificates = [
            Certificate.from_dict({**c.to_dict(), "id": uuid.uuid4().hex, "trajectory_id": trajectory.id})
            for c in self.store.certificates(source)
        ]
        # Already stored as reusable under its own id; the copy does not need to teach again.
        trajectory.finished_at = time.time()

    def after(self, trajectory: Trajectory, tools: list[MadeTool]) -> dict[str, list[str]]:
        used = record_outcome(self.store, tools, trajectory) if tools else []
        made = harvest(self.store, trajectory) if self.make_tools else []
        return {"used_tools": used, "made_tools": made}
