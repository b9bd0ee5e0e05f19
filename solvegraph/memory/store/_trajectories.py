"""Trajectories and their steps: written as a solve runs, read back whole, retracted and deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import selectinload

from ...types import Step, Trajectory, content_hash
from ..models import MadeTool, Problem, Run, StepRow, TrajectoryRow
from . import _search_postgres, _search_sqlite
from ._base import StoreBase
from ._errors import StoreError, guarded
from ._rows import last_trust, rowcount, step_values, to_datetime, trajectory_from_row


def _problem_id(conn: Connection, problem: str, dataset_id: str | None) -> int:
    h = content_hash(problem)
    found = conn.execute(select(Problem.id).where(Problem.content_hash == h)).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            insert(Problem).values(content_hash=h, text=problem, dataset_id=dataset_id).returning(Problem.id)
        ).scalar_one()
    )


def _begin(
    conn: Connection, trajectory: Trajectory, run_id: str, dataset_id: str | None, gold: str | None, config_hash: str
) -> None:
    conn.execute(
        insert(TrajectoryRow).values(
            id=trajectory.id,
            run_id=run_id,
            problem_id=_problem_id(conn, trajectory.problem, dataset_id),
            model=trajectory.model,
            config_hash=config_hash,
            status="running",
            gold=gold,
            verified=False,
            prompt_tokens=0,
            completion_tokens=0,
            started_at=to_datetime(trajectory.started_at),
        )
    )


def finish_values(
    trajectory: Trajectory,
    *,
    score: float | None = None,
    outcome: str | None = None,
    details: dict[str, Any] | None = None,
    latency_s: float | None = None,
) -> dict[str, Any]:
    """The columns :meth:`TrajectoriesMixin.finish` writes, taken from the trajectory as it is now."""
    usage = trajectory.usage
    values: dict[str, Any] = {
        "status": trajectory.status,
        "answer": trajectory.answer,
        "verified": trajectory.reusable,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "finished_at": to_datetime(trajectory.finished_at) if trajectory.finished_at else None,
    }
    if score is not None:
        values["score"] = score
    if outcome is not None:
        values.update(outcome=outcome, details=details or {}, latency_s=latency_s)
    return values


def _retract(conn: Connection, problem: str, answer: str) -> int:
    ids = (
        conn.execute(
            select(TrajectoryRow.id)
            .join(Problem)
            .where(
                Problem.content_hash == content_hash(problem),
                TrajectoryRow.answer == answer,
                TrajectoryRow.verified.is_(True),
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return 0
    conn.execute(update(TrajectoryRow).where(TrajectoryRow.id.in_(ids)).values(verified=False))
    return rowcount(conn.execute(delete(MadeTool).where(MadeTool.origin_trajectory.in_(ids))))


@dataclass
class Write:
    """One queued write of a running benchmark (see :meth:`TrajectoriesMixin.write_batch`).

    ``kind`` is ``begin`` (args: trajectory, run_id, dataset_id, gold), ``step`` (trajectory id, seq,
    step), ``retract`` (problem, answer; its result is the number of made tools removed) or ``finish``
    (trajectory id, the values of :func:`finish_values`).
    """

    kind: str
    args: tuple[Any, ...]


class TrajectoriesMixin(StoreBase):
    # The per-step write paths use Core statements on a pooled connection, not ORM sessions: a benchmark
    # makes several of these per sample from many threads, and the ORM's unit of work tripled their cost.
    @guarded
    def begin(
        self,
        trajectory: Trajectory,
        run_id: str,
        *,
        dataset_id: str | None = None,
        gold: str | None = None,
        config_hash: str = "",
    ) -> None:
        """Record a trajectory as started (before its first step)."""
        with self.engine.begin() as conn:
            _begin(conn, trajectory, run_id, dataset_id, gold, config_hash)

    @guarded
    def add_step(self, trajectory_id: str, seq: int, step: Step) -> None:
        """One step, one transaction: committed the moment it is taken."""
        with self.engine.begin() as conn:
            conn.execute(insert(StepRow).values(step_values(trajectory_id, seq, step)))

    @guarded
    def write_batch(self, writes: list[Write]) -> list[int | None]:
        """Several queued writes in one transaction, in order: all of them land, or none.

        The benchmark runner queues its writes and a writer thread lands them in batches (one commit
        for many samples' steps instead of one per step). A sample's ``finish`` comes after its steps
        in the queue, so a sample that has an outcome always has all its steps: ``--resume`` keeps
        exactly the samples with an outcome and runs the rest again.
        """
        out: list[int | None] = []
        with self.engine.begin() as conn:
            steps: list[dict[str, Any]] = []
            for w in writes:
                if w.kind == "step":
                    steps.append(step_values(*w.args))
                    out.append(None)
                    continue
                if steps:
                    conn.execute(insert(StepRow), steps)
                    steps = []
                if w.kind == "begin":
                    trajectory, run_id, dataset_id, gold = w.args
                    _begin(conn, trajectory, run_id, dataset_id, gold, "")
                    out.append(None)
                elif w.kind == "retract":
                    out.append(_retract(conn, *w.args))
                elif w.kind == "finish":
                    trajectory_id, values = w.args
                    conn.execute(update(TrajectoryRow).where(TrajectoryRow.id == trajectory_id).values(**values))
                    out.append(None)
                else:
                    raise ValueError(f"unknown write {w.kind!r}")
            if steps:
                conn.execute(insert(StepRow), steps)
        return out

    @guarded
    def keep_steps(self, trajectory_id: str, keep: int) -> int:
        """Delete the steps from position ``keep`` on; returns how many went.

        A resumed solve makes the store agree with its checkpoint: a step written after the last
        checkpoint (the process died between the two) is taken again by the resumed node, so it must
        not stay behind as a copy.
        """
        with self.engine.begin() as conn:
            gone = conn.execute(delete(StepRow).where(StepRow.trajectory_id == trajectory_id, StepRow.seq >= keep))
            return rowcount(gone)

    @guarded
    def reopen(self, trajectory_id: str) -> None:
        """Mark a trajectory running again (it is being resumed)."""
        with self.engine.begin() as conn:
            conn.execute(update(TrajectoryRow).where(TrajectoryRow.id == trajectory_id).values(status="running"))

    @guarded
    def finish(
        self,
        trajectory: Trajectory,
        *,
        score: float | None = None,
        outcome: str | None = None,
        details: dict[str, Any] | None = None,
        latency_s: float | None = None,
    ) -> None:
        """The final answer and status; with ``outcome`` also a benchmark result, in the same transaction."""
        values = finish_values(trajectory, score=score, outcome=outcome, details=details, latency_s=latency_s)
        with self.engine.begin() as conn:
            conn.execute(update(TrajectoryRow).where(TrajectoryRow.id == trajectory.id).values(**values))

    @guarded
    def save_many(self, items: list[tuple[Trajectory, str, str | None]]) -> None:
        """Batched insert of finished trajectories: (trajectory, run_id, dataset_id).

        Core executemany, not the ORM unit of work: 10x faster for benchmark imports.
        """
        with self.engine.begin() as conn:
            hashes = {content_hash(t.problem): (t.problem, d) for t, _, d in items}
            known = dict(
                conn.execute(select(Problem.content_hash, Problem.id).where(Problem.content_hash.in_(list(hashes))))
                .tuples()
                .all()
            )
            missing = [
                {"content_hash": h, "text": p, "dataset_id": d} for h, (p, d) in hashes.items() if h not in known
            ]
            if missing:
                rows = conn.execute(
                    insert(Problem).returning(Problem.content_hash, Problem.id, sort_by_parameter_order=True), missing
                )
                known.update(rows.tuples().all())
            trajectories: list[dict[str, Any]] = []
            steps: list[dict[str, Any]] = []
            for t, run_id, _ in items:
                u = t.usage
                trajectories.append(
                    {
                        "id": t.id, "run_id": run_id, "problem_id": known[content_hash(t.problem)],
                        "model": t.model, "config_hash": "", "status": t.status, "answer": t.answer,
                        "verified": t.reusable, "gold": None, "score": None, "outcome": None, "details": None,
                        "latency_s": None, "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
                        "started_at": to_datetime(t.started_at),
                        "finished_at": to_datetime(t.finished_at) if t.finished_at else None,
                    }
                )  # fmt: skip
                steps.extend(step_values(t.id, i, step) for i, step in enumerate(t.steps))
            conn.execute(insert(TrajectoryRow), trajectories)
            if steps:
                conn.execute(insert(StepRow), steps)

    @guarded
    def load(self, trajectory_id: str) -> Trajectory:
        with self._session() as s:
            row = s.execute(
                select(TrajectoryRow)
                .where(TrajectoryRow.id == trajectory_id)
                .options(selectinload(TrajectoryRow.steps), selectinload(TrajectoryRow.problem))
            ).scalar()
            if row is None:
                raise StoreError(f"no trajectory {trajectory_id!r} in {self.display}")
            return trajectory_from_row(row)

    @guarded
    def delete_trajectories(self, ids: list[str]) -> dict[str, int]:
        """Delete trajectories with their steps and the tools made from them; then runs and problems left empty.

        One transaction: a failure deletes nothing. Returns how many of each were deleted.
        """
        with self.engine.begin() as conn:
            problem_ids = set(
                conn.execute(select(TrajectoryRow.problem_id).where(TrajectoryRow.id.in_(ids))).scalars().all()
            )
            run_ids = set(conn.execute(select(TrajectoryRow.run_id).where(TrajectoryRow.id.in_(ids))).scalars().all())
            steps = rowcount(conn.execute(delete(StepRow).where(StepRow.trajectory_id.in_(ids))))
            tools = rowcount(conn.execute(delete(MadeTool).where(MadeTool.origin_trajectory.in_(ids))))
            trajectories = rowcount(conn.execute(delete(TrajectoryRow).where(TrajectoryRow.id.in_(ids))))
            still_used = select(TrajectoryRow.run_id).where(TrajectoryRow.run_id.in_(run_ids))
            runs = rowcount(conn.execute(delete(Run).where(Run.id.in_(run_ids), Run.id.not_in(still_used))))
            still_asked = select(TrajectoryRow.problem_id).where(TrajectoryRow.problem_id.in_(problem_ids))
            orphans = list(
                conn.execute(select(Problem.id).where(Problem.id.in_(problem_ids), Problem.id.not_in(still_asked)))
                .scalars()
                .all()
            )
            search = _search_sqlite if self.dialect == "sqlite" else _search_postgres
            search.forget(conn, orphans)
            problems = rowcount(conn.execute(delete(Problem).where(Problem.id.in_(orphans)))) if orphans else 0
            return {
                "trajectories": trajectories,
                "steps": steps,
                "made_tools": tools,
                "runs": runs,
                "problems": problems,
            }

    @guarded
    def select_for_prune(self, *, older_than_days: float | None = None, status: str | None = None) -> list[str]:
        """Ids of the trajectories ``memory prune`` would delete: started before the cut-off and/or with a status."""
        if older_than_days is None and status is None:
            raise StoreError("say what to prune: --older-than DAYS and/or --status STATUS")
        query = select(TrajectoryRow.id)
        if older_than_days is not None:
            query = query.where(TrajectoryRow.started_at < datetime.now(UTC) - timedelta(days=older_than_days))
        if status is not None:
            query = query.where(TrajectoryRow.status == status)
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars().all())

    @guarded
    def retract_answer(self, problem: str, answer: str) -> int:
        """An answer to ``problem`` was shown wrong: earlier runs that gave it stop teaching.

        Their trajectories are no longer reusable (no worked example, no cache answer), and the
        tools made from them are deleted. Returns how many made tools were removed.
        """
        with self.engine.begin() as conn:
            return _retract(conn, problem, answer)

    @guarded
    def cached_answer(self, problem: str, config_hash: str) -> tuple[str, str, str] | None:
        """(answer, trajectory id, trust) of a reusable run of this exact problem and configuration."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(TrajectoryRow.answer, TrajectoryRow.id)
                .join(Problem)
                .where(
                    Problem.content_hash == content_hash(problem),
                    TrajectoryRow.config_hash == config_hash,
                    TrajectoryRow.verified.is_(True),
                    TrajectoryRow.answer.is_not(None),
                )
                .order_by(TrajectoryRow.finished_at.desc())
                .limit(1)
            ).first()
            if row is None:
                return None
            verdicts = conn.execute(
                select(StepRow.verdict).where(StepRow.trajectory_id == row.id).order_by(StepRow.seq)
            ).scalars()
            return row.answer, row.id, last_trust(verdicts) or "unchecked"
