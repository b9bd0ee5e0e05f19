"""Runs: one per solve, chat or benchmark, and what their trajectories came to."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update

from ..models import Problem, Run, StepRow, TrajectoryRow
from ._base import StoreBase
from ._errors import StoreError, guarded
from ._rows import rowcount, run_status


class RunsMixin(StoreBase):
    @guarded
    def start_run(
        self,
        kind: str,
        model: str = "",
        dataset: str | None = None,
        config: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        run_id = run_id or uuid.uuid4().hex
        with self._session.begin() as s:
            s.add(Run(id=run_id, kind=kind, model=model, dataset=dataset, config=config or {}))
        return run_id

    @guarded
    def run_config(self, run_id: str) -> dict[str, Any]:
        with self._session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"no run {run_id!r} in {self.display}")
            return dict(run.config or {})

    @guarded
    def update_run_config(self, run_id: str, **changes: Any) -> None:
        with self._session.begin() as s:
            run = s.get(Run, run_id)
            if run is not None:
                run.config = {**(run.config or {}), **changes}

    @guarded
    def finished_samples(self, run_id: str) -> dict[str, str]:
        """sample id → trajectory id of every sample of the run that has an outcome."""
        t = TrajectoryRow
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(t.sample_id, t.id).where(t.run_id == run_id, t.outcome.is_not(None), t.sample_id.is_not(None))
            ).all()
            return {str(d): i for d, i in rows}

    @guarded
    def repair_samples(self, run_id: str, samples: dict[str, list[tuple[str, str | None]]]) -> dict[str, int]:
        """Name again the scored trajectories of a run whose sample id is not one of its dataset's; unscore repeats.

        ``samples`` maps each problem's content hash to the dataset's samples with that text, as (id, gold as
        stored). A scored trajectory whose id is missing, or is not one of its text's ids in this dataset
        (databases before schema version 4 filed ids on the problem shared by every run, so a run could carry
        another dataset's id, or one from before a loader change), takes the first of its text's ids not yet
        scored in the run, one with the same gold first. One with no such id left is a sample scored twice
        (the old resume ran it again): its outcome is cleared and its status set to ``duplicate``, its steps
        kept. A text the dataset does not have is left as it is. One transaction. Returns {"named": n,
        "unscored": n}.
        """
        t = TrajectoryRow
        named = unscored = 0
        with self.engine.begin() as conn:
            scored = conn.execute(
                select(t.id, t.sample_id, t.gold, Problem.content_hash)
                .join(Problem, Problem.id == t.problem_id)
                .where(t.run_id == run_id, t.outcome.is_not(None))
                .order_by(t.started_at, t.id)
            ).all()
            ids_of = {digest: [i for i, _ in found] for digest, found in samples.items()}
            taken = {sample for _, sample, _, digest in scored if sample in ids_of.get(digest, ())}
            lost = [(tid, gold, digest) for tid, sample, gold, digest in scored
                    if digest in samples and sample not in ids_of[digest]]  # fmt: skip
            if lost:  # their ids go first, so a name moved from one row to another never meets itself
                conn.execute(update(t).where(t.id.in_([tid for tid, _, _ in lost])).values(sample_id=None))
            for trajectory_id, gold, digest in lost:
                free = [(i, g) for i, g in samples[digest] if i not in taken]
                if free:
                    chosen = next((i for i, g in free if g == gold), free[0][0])
                    taken.add(chosen)
                    conn.execute(update(t).where(t.id == trajectory_id).values(sample_id=chosen))
                    named += 1
                else:
                    conn.execute(update(t).where(t.id == trajectory_id).values(outcome=None, status="duplicate"))
                    unscored += 1
        return {"named": named, "unscored": unscored}

    @guarded
    def abandon_unfinished(self, run_id: str) -> int:
        """Mark trajectories of a crashed run that never got an outcome; they are kept, never counted."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(TrajectoryRow)
                .where(
                    TrajectoryRow.run_id == run_id,
                    TrajectoryRow.outcome.is_(None),
                    # unscored by repair_samples, or an attempt that errored (bench --retry-on-error): it says why
                    TrajectoryRow.status.not_in(("duplicate", "error")),
                )
                .values(status="abandoned")
            )
            return rowcount(result)

    @guarded
    def outcome_counts(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """run id → {outcome: scored samples}, for many runs in one query (the viewer's run list)."""
        out: dict[str, dict[str, int]] = {r: {} for r in run_ids}
        with self.engine.connect() as conn:
            for run, outcome, n in conn.execute(
                select(TrajectoryRow.run_id, TrajectoryRow.outcome, func.count())
                .where(TrajectoryRow.run_id.in_(run_ids), TrajectoryRow.outcome.is_not(None))
                .group_by(TrajectoryRow.run_id, TrajectoryRow.outcome)
            ):
                out[run][str(outcome)] = int(n)
        return out

    @guarded
    def run_costs(self, run_ids: list[str]) -> dict[str, float | None]:
        """run id → US dollars its model calls cost, every step of every trajectory counted (also those
        abandoned or left unscored: that money is spent), or None where no call was priced. One query."""
        out: dict[str, float | None] = dict.fromkeys(run_ids)
        with self.engine.connect() as conn:
            for run, cost in conn.execute(
                select(TrajectoryRow.run_id, func.sum(StepRow.cost_usd))
                .join(StepRow, StepRow.trajectory_id == TrajectoryRow.id)
                .where(TrajectoryRow.run_id.in_(run_ids))
                .group_by(TrajectoryRow.run_id)
            ):
                out[run] = float(cost) if cost is not None else None
        return out

    @guarded
    def role_costs(self, run_id: str) -> dict[str, dict[str, Any]]:
        """agent → its model calls, tokens, US dollars (None where unpriced) and the models that answered, over
        every step of the run: what the planner, solver, verifier and refiner each cost. One query."""
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for agent, model, calls, prompt, completion, cost in conn.execute(
                select(
                    StepRow.agent, StepRow.model, func.sum(StepRow.model_calls), func.sum(StepRow.prompt_tokens),
                    func.sum(StepRow.completion_tokens), func.sum(StepRow.cost_usd),
                )
                .join(TrajectoryRow, StepRow.trajectory_id == TrajectoryRow.id)
                .where(TrajectoryRow.run_id == run_id, StepRow.model_calls > 0)
                .group_by(StepRow.agent, StepRow.model)
            ):  # fmt: skip
                row = out.setdefault(str(agent), {"model_calls": 0, "tokens": 0, "cost_usd": None, "models": []})
                row["model_calls"] += int(calls or 0)
                row["tokens"] += int(prompt or 0) + int(completion or 0)
                if cost is not None:
                    row["cost_usd"] = (row["cost_usd"] or 0.0) + float(cost)
                if model:
                    row["models"].append(str(model))
        return out

    @guarded
    def result_of(self, trajectory_id: str) -> dict[str, Any] | None:
        """The benchmark row of one trajectory (run, sample, gold, outcome, details), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    TrajectoryRow.run_id, TrajectoryRow.sample_id, TrajectoryRow.gold, TrajectoryRow.outcome,
                    TrajectoryRow.details, TrajectoryRow.score, TrajectoryRow.latency_s,
                )
                .where(TrajectoryRow.id == trajectory_id)
            ).first()  # fmt: skip
        if row is None:
            return None
        run_id, sample, gold, outcome, details, score, latency = row
        return {
            "run_id": run_id, "sample": sample, "gold": gold, "outcome": outcome, "details": details or {},
            "score": score, "latency_s": latency,
        }  # fmt: skip

    @guarded
    def results(self, run_id: str) -> list[dict[str, Any]]:
        """The scored samples of a benchmark run, in the order they started.

        Plain rows, not ORM objects: the viewer reads a 10,000-sample run on every page load.
        """
        t = TrajectoryRow
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    t.id, t.sample_id, t.score, t.outcome, t.details, t.latency_s, t.answer, t.gold,
                    t.prompt_tokens, t.completion_tokens, t.cost_usd, Problem.text, t.model,
                )
                .join(Problem, Problem.id == t.problem_id)
                .where(t.run_id == run_id, t.outcome.is_not(None))
                .order_by(t.started_at)
            ).all()  # fmt: skip
        return [
            {
                "trajectory": tid, "sample": d, "score": score, "outcome": outcome, "details": details or {},
                "latency_s": latency, "answer": answer, "gold": gold, "tokens": (pt or 0) + (ct or 0), "cost_usd": cost,
                "question": q, "model": model, "trust": (details or {}).get("trust", ""),
            }
            for tid, d, score, outcome, details, latency, answer, gold, pt, ct, cost, q, model in rows
        ]  # fmt: skip

    @guarded
    def resolve(self, ident: str) -> tuple[str, list[str]]:
        """A run id or trajectory id (or a unique prefix of one) → (run id, trajectory ids)."""
        with self.engine.connect() as conn:
            runs = (
                conn.execute(select(Run.id).where(Run.id.startswith(ident, autoescape=True)).limit(2)).scalars().all()
            )
            trajs = conn.execute(
                select(TrajectoryRow.id, TrajectoryRow.run_id)
                .where(TrajectoryRow.id.startswith(ident, autoescape=True))
                .limit(2)
            ).all()
            # A solve's run has its trajectory's id: the prefix of both names one thing, the run.
            same_run = len(runs) == 1 and (runs[0] == ident or all(t.id == runs[0] for t in trajs))
            if len(runs) + len(trajs) > 1 and not same_run:
                raise StoreError(f"{ident!r} is ambiguous: give more characters")
            if runs:
                ids = conn.execute(
                    select(TrajectoryRow.id).where(TrajectoryRow.run_id == runs[0]).order_by(TrajectoryRow.started_at)
                ).scalars()
                return runs[0], list(ids)
            if trajs:
                return trajs[0].run_id, [trajs[0].id]
        raise StoreError(f"no run or trajectory {ident!r} in {self.display}")

    @guarded
    def runs(self, limit: int = 20, *, run_id: str | None = None) -> list[dict[str, Any]]:
        """Newest runs first, with trajectory and solved counts; ``run_id`` selects exactly one."""
        with self._session() as s:
            counts = (
                select(
                    TrajectoryRow.run_id,
                    func.count().label("n"),
                    func.sum(func.cast(TrajectoryRow.verified, type_=TrajectoryRow.prompt_tokens.type)).label("solved"),
                )
                .group_by(TrajectoryRow.run_id)
                .subquery()
            )
            query = select(Run, counts.c.n, counts.c.solved).outerjoin(counts, counts.c.run_id == Run.id)
            if run_id is not None:
                query = query.where(Run.id == run_id)
            rows = s.execute(query.order_by(Run.created_at.desc()).limit(limit)).all()
            ids = [r.id for r, _, _ in rows]
            statuses: dict[str, dict[str, int]] = {i: {} for i in ids}
            for run, status, n in s.execute(
                select(TrajectoryRow.run_id, TrajectoryRow.status, func.count())
                .where(TrajectoryRow.run_id.in_(ids))
                .group_by(TrajectoryRow.run_id, TrajectoryRow.status)
            ):
                statuses[run][status] = int(n)
            first: dict[str, str] = {}
            for run, text_ in s.execute(
                select(TrajectoryRow.run_id, Problem.text)
                .join(Problem, Problem.id == TrajectoryRow.problem_id)
                .where(TrajectoryRow.run_id.in_(ids))
                .order_by(TrajectoryRow.started_at.desc())
            ):
                first[run] = text_  # the last one written is the earliest: ordered newest first
            return [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "model": r.model,
                    "dataset": r.dataset,
                    "created_at": r.created_at.isoformat() if r.created_at else None,
                    "trajectories": int(n or 0),
                    "solved": int(solved or 0),
                    "status": run_status(statuses[r.id]),
                    "statuses": statuses[r.id],
                    "problem": first.get(r.id),
                }
                for r, n, solved in rows
            ]
