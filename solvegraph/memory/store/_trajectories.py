"""Trajectories and their steps: written as a solve runs, read back whole, retracted and deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import selectinload

from ...types import Step, Trajectory, content_hash
from ..models import CertificateRow, MadeTool, Problem, Run, StepRow, TrajectoryRow
from . import _search_postgres, _search_sqlite
from ._base import StoreBase
from ._certificates import insert_certificates
from ._errors import StoreError, guarded
from ._rows import last_trust, rowcount, step_values, to_datetime, trajectory_from_row

# The tables themselves, for the batched write path: Core statements on a Table skip the ORM's per-row
# bookkeeping, which cost more than the SQL in a benchmark's writer thread.
_TRAJECTORIES = cast(Table, TrajectoryRow.__table__)
_STEPS = cast(Table, StepRow.__table__)
_PROBLEMS = cast(Table, Problem.__table__)


def _problem_ids(conn: Connection, texts: list[str]) -> dict[str, int]:
    """content hash → problem id for each problem text, inserting the ones not yet known.

    A problem row is shared by every run that asks its text: nothing of one run (a benchmark sample's id,
    its gold) is written here.
    """
    wanted = {content_hash(text): text for text in texts}
    known = {
        str(h): int(i)
        for h, i in conn.execute(
            select(_PROBLEMS.c.content_hash, _PROBLEMS.c.id).where(_PROBLEMS.c.content_hash.in_(list(wanted)))
        )
    }
    missing = [{"content_hash": h, "text": t} for h, t in wanted.items() if h not in known]
    if missing:
        conn.execute(_PROBLEMS.insert(), missing)
        known.update(
            (str(h), int(i))
            for h, i in conn.execute(
                select(_PROBLEMS.c.content_hash, _PROBLEMS.c.id).where(
                    _PROBLEMS.c.content_hash.in_([m["content_hash"] for m in missing])
                )
            )
        )
    return known


def _begin_values(
    trajectory: Trajectory, run_id: str, problem_id: int, sample_id: str | None, gold: str | None, config_hash: str
) -> dict[str, Any]:
    return {
        "id": trajectory.id, "run_id": run_id, "problem_id": problem_id, "model": trajectory.model,
        "config_hash": config_hash, "status": "running", "sample_id": sample_id, "gold": gold, "verified": False,
        "prompt_tokens": 0, "completion_tokens": 0, "started_at": to_datetime(trajectory.started_at),
    }  # fmt: skip


def _begin(
    conn: Connection, trajectory: Trajectory, run_id: str, sample_id: str | None, gold: str | None, config_hash: str
) -> None:
    problem_id = _problem_ids(conn, [trajectory.problem])[content_hash(trajectory.problem)]
    conn.execute(_TRAJECTORIES.insert(), [_begin_values(trajectory, run_id, problem_id, sample_id, gold, config_hash)])


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
        "model": trajectory.model,  # a solve resumed on another model is credited to both
        "answer": trajectory.answer,
        "verified": trajectory.reusable,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cost_usd": usage.cost_usd,
        "finished_at": to_datetime(trajectory.finished_at) if trajectory.finished_at else None,
    }
    if score is not None:
        values["score"] = score
    if outcome is not None:
        values.update(outcome=outcome, details=details or {}, latency_s=latency_s)
    return values


def _retract(conn: Connection, pairs: list[tuple[str, str]]) -> list[int]:
    """For each (problem, answer): its earlier verified trajectories stop teaching and their made tools go.

    One query finds them all; returns how many made tools each pair removed.
    """
    text_of = {content_hash(problem): problem for problem, _ in pairs}
    wanted = set(pairs)
    found = conn.execute(
        select(_TRAJECTORIES.c.id, _PROBLEMS.c.content_hash, _TRAJECTORIES.c.answer)
        .join(_PROBLEMS, _PROBLEMS.c.id == _TRAJECTORIES.c.problem_id)
        .where(
            _PROBLEMS.c.content_hash.in_(list(text_of)),
            _TRAJECTORIES.c.answer.in_(list({a for _, a in pairs})),
            _TRAJECTORIES.c.verified.is_(True),
        )
    ).all()
    ids_of: dict[tuple[str, str], list[str]] = {}
    for trajectory_id, h, answer in found:
        if (text_of[h], answer) in wanted:
            ids_of.setdefault((text_of[h], answer), []).append(trajectory_id)
    counts = []
    for pair in pairs:
        ids = ids_of.pop(pair, [])
        if not ids:
            counts.append(0)
            continue
        conn.execute(update(TrajectoryRow).where(TrajectoryRow.id.in_(ids)).values(verified=False))
        counts.append(rowcount(conn.execute(delete(MadeTool).where(MadeTool.origin_trajectory.in_(ids)))))
    return counts


# What write_batch answers for a result it did not score: the run had scored that sample already.
ALREADY_SCORED = -1


def _already_scored(conn: Connection, finishes: list[tuple[str, dict[str, Any]]]) -> list[int]:
    """Positions in ``finishes`` of results for a sample their run has scored already (in the database, or
    earlier in the same batch): the unique index would refuse them, and with them the whole batch."""
    scoring = {tid: i for i, (tid, values) in enumerate(finishes) if values.get("outcome") is not None}
    if not scoring:
        return []
    t = _TRAJECTORIES
    keys = {
        tid: (run, sample)
        for tid, run, sample in conn.execute(
            select(t.c.id, t.c.run_id, t.c.sample_id).where(t.c.id.in_(list(scoring)), t.c.sample_id.is_not(None))
        )
    }
    if not keys:
        return []
    taken = {
        (run, sample)
        for run, sample in conn.execute(
            select(t.c.run_id, t.c.sample_id).where(
                t.c.outcome.is_not(None),
                t.c.run_id.in_({run for run, _ in keys.values()}),
                t.c.sample_id.in_({sample for _, sample in keys.values()}),
            )
        )
    }
    refused = []
    for tid, i in scoring.items():
        key = keys.get(tid)
        if key is None:
            continue
        if key in taken:
            refused.append(i)
        taken.add(key)
    return refused


@dataclass
class Write:
    """One queued write of a running benchmark (see :meth:`TrajectoriesMixin.write_batch`).

    ``kind`` is ``begin`` (args: trajectory, run_id, sample_id, gold), ``step`` (trajectory id, seq,
    step), ``retract`` (problem, answer; its result is the number of made tools removed) or ``finish``
    (trajectory id, the values of :func:`finish_values`), ``certificates`` (a list of
    :class:`~solvegraph.types.Certificate`, saved with the finish they come with).
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
        sample_id: str | None = None,
        gold: str | None = None,
        config_hash: str = "",
    ) -> None:
        """Record a trajectory as started (before its first step); ``sample_id`` names the benchmark sample it
        answers in its run."""
        with self.engine.begin() as conn:
            _begin(conn, trajectory, run_id, sample_id, gold, config_hash)

    @guarded
    def add_step(self, trajectory_id: str, seq: int, step: Step) -> None:
        """One step, one transaction: committed the moment it is taken."""
        with self.engine.begin() as conn:
            conn.execute(insert(StepRow).values(step_values(trajectory_id, seq, step)))

    @guarded
    def write_batch(self, writes: list[Write]) -> list[int | None]:
        """Several queued writes in one transaction: all of them land, or none.

        The benchmark runner queues its writes and a writer thread lands them in batches: one commit,
        and one statement per kind, for many samples' writes instead of a transaction per step. They
        land kind by kind (starts, steps, results, retractions), which keeps each trajectory's order
        (started, its steps, its result): a sample that has an outcome always has all its steps, so
        ``--resume`` keeps exactly the samples with an outcome and runs the rest again. Retractions
        land last: a retraction queued before a later result of the same problem and answer (which
        a scorer called both right and wrong) retracts that result too, the cautious reading.
        """
        out: list[int | None] = [None] * len(writes)
        trajectories, steps, finishes = _TRAJECTORIES, _STEPS, []
        with self.engine.begin() as conn:
            begins = [w.args for w in writes if w.kind == "begin"]
            if begins:
                ids = _problem_ids(conn, [t.problem for t, _, _, _ in begins])
                conn.execute(
                    trajectories.insert(),
                    [
                        _begin_values(t, run_id, ids[content_hash(t.problem)], sample_id, gold, "")
                        for t, run_id, sample_id, gold in begins
                    ],
                )
            rows = [step_values(*w.args) for w in writes if w.kind == "step"]
            if rows:
                conn.execute(steps.insert(), rows)
            finish_at = [i for i, w in enumerate(writes) if w.kind == "finish"]
            finishes = [writes[i].args for i in finish_at]
            for i in _already_scored(conn, finishes):
                # Another process scored this sample of the run first (two resumes of one run at once): this
                # result is kept as a duplicate, unscored, and the rest of the batch lands.
                trajectory_id, values = finishes[i]
                finishes[i] = (trajectory_id, {**values, "outcome": None, "score": None, "status": "duplicate"})
                out[finish_at[i]] = ALREADY_SCORED
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for trajectory_id, values in finishes:
                by_columns.setdefault(tuple(sorted(values)), []).append({"_id": trajectory_id, **values})
            for columns, params in by_columns.items():
                statement = (
                    trajectories.update()
                    .where(trajectories.c.id == bindparam("_id"))
                    .values({c: bindparam(c) for c in columns})
                )
                conn.execute(statement, params)
            insert_certificates(conn, [c for w in writes if w.kind == "certificates" for c in w.args[0]])
            unknown = {w.kind for w in writes} - {"begin", "step", "finish", "retract", "certificates"}
            if unknown:
                raise ValueError(f"unknown write {unknown.pop()!r}")
            at = [i for i, w in enumerate(writes) if w.kind == "retract"]
            if at:
                for i, count in zip(at, _retract(conn, [writes[i].args for i in at]), strict=True):
                    out[i] = count
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
            insert_certificates(conn, [c for c in trajectory.certificates if c.trajectory_id == trajectory.id])

    @guarded
    def save_many(self, items: list[tuple[Trajectory, str, str | None]]) -> None:
        """Batched insert of finished trajectories: (trajectory, run_id, sample_id).

        Core executemany, not the ORM unit of work: 10x faster for benchmark imports.
        """
        with self.engine.begin() as conn:
            known = _problem_ids(conn, [t.problem for t, _, _ in items])
            trajectories: list[dict[str, Any]] = []
            steps: list[dict[str, Any]] = []
            for t, run_id, sample_id in items:
                u = t.usage
                trajectories.append(
                    {
                        "id": t.id, "run_id": run_id, "problem_id": known[content_hash(t.problem)],
                        "model": t.model, "config_hash": "", "status": t.status, "answer": t.answer,
                        "verified": t.reusable, "sample_id": sample_id, "gold": None, "score": None, "outcome": None,
                        "details": None, "latency_s": None, "prompt_tokens": u.prompt_tokens,
                        "completion_tokens": u.completion_tokens, "cost_usd": u.cost_usd,
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
            conn.execute(delete(CertificateRow).where(CertificateRow.trajectory_id.in_(ids)))
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
            return _retract(conn, [(problem, answer)])[0]

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
