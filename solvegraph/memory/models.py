"""SQLAlchemy 2 models for the trajectory memory. One schema for SQLite and PostgreSQL.

Steps are rows of their own, written as the graph runs, so a crash loses at most
the step in flight. The schema's version is stored in ``meta`` and brought up to date by
``store/_migrations.py``; a database written by a newer version is refused with a clear
message instead of being misread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Meta(Base):
    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Run(Base):
    """One invocation: a solve, a chat session or a benchmark run."""

    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # solve | chat | bench
    model: Mapped[str] = mapped_column(String(200), default="")
    dataset: Mapped[str | None] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    trajectories: Mapped[list[TrajectoryRow]] = relationship(back_populates="run")


class Problem(Base):
    """A problem text, once, by content hash, shared by every run that asked it.

    ``dataset_id`` is kept for databases written before schema version 4, which filed a benchmark
    sample's id here: one problem row serves many runs (a solve, then a bench of the same text), so
    a run's sample identity lives on its trajectory (``TrajectoryRow.sample_id``) and this column is
    no longer written.
    """

    __tablename__ = "problems"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    dataset_id: Mapped[str | None] = mapped_column(String(200), index=True)


class TrajectoryRow(Base):
    __tablename__ = "trajectories"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    problem_id: Mapped[int] = mapped_column(ForeignKey("problems.id"), index=True)
    model: Mapped[str] = mapped_column(String(200), default="")
    config_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    answer: Mapped[str | None] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    # The benchmark sample this trajectory answers, in its run (schema version 4); None outside benchmarks.
    sample_id: Mapped[str | None] = mapped_column(String(200))
    gold: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    # Benchmarks: correct | wrong | tool_error | timeout | limit | refused | error, and the scorer's details.
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    latency_s: Mapped[float | None] = mapped_column(Float)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float)  # schema version 3; None: unpriced
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    run: Mapped[Run] = relationship(back_populates="trajectories")
    problem: Mapped[Problem] = relationship()
    steps: Mapped[list[StepRow]] = relationship(order_by="StepRow.seq", back_populates="trajectory")

    __table_args__ = (
        Index("ix_traj_problem_verified", "problem_id", "verified"),
        Index("ix_traj_run_started", "run_id", "started_at"),  # schema version 2
        # Schema version 4: a run scores each of its samples at most once. PostgreSQL's copy of the
        # condition is set only when a PostgreSQL memory is created (``postgresql_partial_index``): naming
        # it here loads SQLAlchemy's PostgreSQL dialect into every process, a SQLite one's too (~0.02 s).
        Index("ux_traj_run_sample", "run_id", "sample_id", unique=True, sqlite_where=text("outcome IS NOT NULL")),
    )


class StepRow(Base):
    __tablename__ = "steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trajectory_id: Mapped[str] = mapped_column(ForeignKey("trajectories.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(200))  # schema version 4: the model that answered it
    round: Mapped[int] = mapped_column(Integer, default=0)
    messages: Mapped[list[Any]] = mapped_column(default=list)
    reply: Mapped[str] = mapped_column(Text, default="")
    tool_calls: Mapped[list[Any]] = mapped_column(default=list)
    tool_results: Mapped[list[Any]] = mapped_column(default=list)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    model_calls: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float)  # schema version 3; None: unpriced
    timings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[float] = mapped_column(Float, default=0.0)
    # Schema version 5: the model's reasoning and how its reply came back (Step.reasoning, Step.reply_meta,
    # Usage.reasoning_tokens); NULL for a step with none of them.
    reply_meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    trajectory: Mapped[TrajectoryRow] = relationship(back_populates="steps")


class CertificateRow(Base):
    """A certificate a tool-verified answer rests on (schema version 6): the whole
    :class:`~solvegraph.types.Certificate` as JSON, filed under the trajectory whose answer it backs."""

    __tablename__ = "certificates"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    trajectory_id: Mapped[str] = mapped_column(ForeignKey("trajectories.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    schema: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MadeTool(Base):
    """A function extracted from verified code, kept for reuse (LATM / CRAFT)."""

    __tablename__ = "made_tools"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    signature: Mapped[str] = mapped_column(Text)
    docstring: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64), unique=True)
    problem_text: Mapped[str] = mapped_column(Text, default="")
    origin_trajectory: Mapped[str | None] = mapped_column(String(32))
    origin_problem_hash: Mapped[str] = mapped_column(String(64), default="")
    uses: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Not a column: how the trajectory the tool was made from was accepted (cross-verified, tool-verified, ...),
    # derived by the store from that trajectory's verdicts when it lists tools, so no schema migration.
    trust = ""

    @property
    def rank(self) -> float:
        """Laplace-smoothed success rate: a tool that later fails verification sinks."""
        return (self.successes + 1) / (self.successes + self.failures + 2)


class CachedResponse(Base):
    """A model reply keyed on model, messages and parameters (benchmarks' optional response cache)."""

    __tablename__ = "response_cache"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    reply: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
