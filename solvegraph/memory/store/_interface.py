"""What the rest of solvegraph may ask of a trajectory store, split by role.

- :class:`RunStore`: runs (a solve, a chat, a benchmark run), their settings and their results;
- :class:`TrajectoryLog`: trajectories and their steps, written as they run, read back, pruned, and the
  certificates their tool-verified answers rest on;
- :class:`ReuseStore`: what makes solved problems help the next ones (the exact answer cache,
  retrieval of similar verified ones, retraction) and the model-response cache;
- :class:`MadeToolStore`: functions kept from solved problems as tools.

:class:`TrajectoryStore` is all four. A caller takes the narrowest role it uses; :class:`Store`
implements every role on SQLite and PostgreSQL, and ``tests/memory/test_store_conformance.py`` runs the
same behavioural suite over both. Every method raises :class:`StoreError` (one line naming the
database) for any database failure, never a driver exception.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ...types import Certificate, Step, Trajectory
from ..models import MadeTool
from ._trajectories import Write


@runtime_checkable
class RunStore(Protocol):
    """Runs: one per solve, chat or benchmark run, with its settings, its samples' results and its cost."""

    display: str  # the database's URL without its password, for messages
    dialect: str  # "sqlite" or "postgresql"

    def start_run(
        self,
        kind: str,
        model: str = "",
        dataset: str | None = None,
        config: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str: ...
    def run_config(self, run_id: str) -> dict[str, Any]: ...
    def update_run_config(self, run_id: str, **changes: Any) -> None: ...
    def finished_samples(self, run_id: str) -> dict[str, str]: ...
    def repair_samples(self, run_id: str, samples: dict[str, list[tuple[str, str | None]]]) -> dict[str, int]: ...
    def abandon_unfinished(self, run_id: str) -> int: ...
    def results(self, run_id: str) -> list[dict[str, Any]]: ...
    def outcome_counts(self, run_ids: list[str]) -> dict[str, dict[str, int]]: ...
    def run_costs(self, run_ids: list[str]) -> dict[str, float | None]: ...
    def role_costs(self, run_id: str) -> dict[str, dict[str, Any]]: ...
    def result_of(self, trajectory_id: str) -> dict[str, Any] | None: ...
    def resolve(self, ident: str) -> tuple[str, list[str]]: ...
    def runs(self, limit: int = 20, *, run_id: str | None = None) -> list[dict[str, Any]]: ...
    def stats(self) -> dict[str, Any]: ...


@runtime_checkable
class TrajectoryLog(Protocol):
    """Trajectories and their steps: each step written as it happens, the whole read back, pruned."""

    def begin(
        self,
        trajectory: Trajectory,
        run_id: str,
        *,
        sample_id: str | None = None,
        gold: str | None = None,
        config_hash: str = "",
    ) -> None: ...
    def add_step(self, trajectory_id: str, seq: int, step: Step) -> None: ...
    def write_batch(self, writes: list[Write]) -> list[int | None]: ...
    def keep_steps(self, trajectory_id: str, keep: int) -> int: ...
    def reopen(self, trajectory_id: str) -> None: ...
    def finish(
        self,
        trajectory: Trajectory,
        *,
        score: float | None = None,
        outcome: str | None = None,
        details: dict[str, Any] | None = None,
        latency_s: float | None = None,
    ) -> None: ...
    def save_many(self, items: list[tuple[Trajectory, str, str | None]]) -> None: ...
    def load(self, trajectory_id: str) -> Trajectory: ...
    def delete_trajectories(self, ids: list[str]) -> dict[str, int]: ...
    def select_for_prune(self, *, older_than_days: float | None = None, status: str | None = None) -> list[str]: ...
    # The certificates a tool-verified answer rests on, kept with its trajectory (``finish`` saves
    # ``Trajectory.certificates``; a benchmark's ``write_batch`` a ``certificates`` write).
    def save_certificates(self, certificates: list[Certificate]) -> None: ...
    def certificates(self, trajectory_id: str) -> list[Certificate]: ...
    def certificate(self, certificate_id: str) -> Certificate: ...


@runtime_checkable
class ReuseStore(Protocol):
    """Reuse: the exact answer cache, retrieval of similar verified problems, retraction of a wrong
    answer, and the model-response cache."""

    def retract_answer(self, problem: str, answer: str) -> int: ...
    def cached_answer(self, problem: str, config_hash: str) -> tuple[str, str, str] | None: ...
    def search(
        self,
        query: str,
        k: int = 5,
        *,
        verified_only: bool = False,
        exclude_hash: str | None = None,
        exclude_dataset_id: str | None = None,
    ) -> list[dict[str, Any]]: ...
    def cached_reply(self, key: str) -> dict[str, Any] | None: ...
    def cache_reply(self, key: str, model: str, reply: dict[str, Any]) -> None: ...


@runtime_checkable
class MadeToolStore(Protocol):
    """Made tools: functions kept from solved problems, found again for similar ones, ranked by their use."""

    def add_made_tools(self, tools: Any) -> list[str]: ...
    def made_tools_from(self, problem_texts: list[str], *, exclude_problem_hash: str) -> list[MadeTool]: ...
    def count_tool_uses(self, tool_ids: list[int], *, succeeded: bool) -> None: ...
    def made_tools(self) -> list[MadeTool]: ...


@runtime_checkable
class TrajectoryStore(RunStore, TrajectoryLog, ReuseStore, MadeToolStore, Protocol):
    """Every role: what the agents' memory and the bench runner use."""

    def close(self) -> None:
        """Release the database's connections; the store is not used after."""
        ...
