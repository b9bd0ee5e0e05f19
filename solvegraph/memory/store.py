"""The trajectory store: SQLite by default, PostgreSQL through the same code.

SQLite runs in WAL mode with a busy timeout so many benchmark workers can write at
once; every step is its own short transaction, so a crash loses at most the step
in flight. Problems are indexed for full-text search (FTS5 on SQLite, a tsvector
GIN index on PostgreSQL). Every way a database can be unusable ends in one
:class:`StoreError` line.
"""

from __future__ import annotations

import os
import re
import sqlite3
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import bindparam, create_engine, delete, event, func, insert, inspect, select, text, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ..errors import SolvegraphError
from ..types import Step, Trajectory, Usage, content_hash
from .models import SCHEMA_VERSION, Base, CachedResponse, MadeTool, Meta, Problem, Run, StepRow, TrajectoryRow


class StoreError(SolvegraphError):
    """The database cannot be used; the message says why and which one."""


def _run_status(counts: dict[str, int]) -> str:
    """One word for a run: its only trajectory's status, or what its trajectories came to."""
    if not counts:
        return "empty"
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("solvegraph"))


def default_db_url() -> str:
    return f"sqlite:///{default_data_dir() / 'memory.sqlite'}"


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "are",
        "with",
        "that",
        "this",
        "what",
        "how",
        "many",
        "much",
        "from",
        "each",
        "has",
        "have",
        "its",
        "was",
        "were",
        "will",
        "which",
        "into",
        "than",
        "then",
        "them",
        "they",
        "their",
        "there",
        "these",
        "those",
        "per",
        "can",
        "does",
        "did",
        "not",
    ]
)


def query_terms(text_: str, limit: int = 24) -> list[str]:
    """Distinct content words, for an OR full-text query (never raw user text in MATCH)."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text_.lower()):
        if w not in _STOP:
            seen.setdefault(w, None)
        if len(seen) >= limit:
            break
    return list(seen)


def _rowcount(result: Any) -> int:
    """Rows a DML statement touched (a CursorResult's rowcount; the generic Result type does not declare it)."""
    return int(getattr(result, "rowcount", 0) or 0)


class Store:
    def __init__(self, url: str | None = None) -> None:
        """Open (and create or migrate) the store at ``url``; None is the default SQLite file.

        The URL comes from resolved settings (flag, ``SOLVEGRAPH_DB``, solvegraph.toml): the store reads
        no environment of its own.
        """
        url = url or default_db_url()
        try:
            self.url = make_url(url)
        except ArgumentError:
            raise StoreError(
                f"invalid database URL {url!r}: expected e.g. sqlite:///path/memory.sqlite or "
                "postgresql+psycopg://user@host/db"
            ) from None
        self.display = self.url.render_as_string(hide_password=True)
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise StoreError(f"unsupported database {self.display}: use sqlite or postgresql")
        self.engine = self._engine()
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._initialize()

    # -- setup ------------------------------------------------------------------
    def _engine(self) -> Engine:
        try:
            if self.dialect == "sqlite":
                return self._sqlite_engine()
            url = self.url
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise StoreError(f"no driver for {self.display}: {exc}") from None

    def _sqlite_engine(self) -> Engine:
        database = self.url.database or ""
        if database and database != ":memory:":
            path = Path(database).expanduser()
            if not path.parent.is_dir():
                # Only solvegraph's own data folder is made on demand: a mistyped --db must not
                # leave a tree of new folders behind it.
                if path.parent.resolve() != default_data_dir().resolve():
                    raise StoreError(f"the folder {path.parent} does not exist; create it or pass another --db")
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {path}: {exc.strerror}") from None
            # No write bit at all counts as read-only even for root, who would otherwise write through it.
            if path.exists() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
                raise StoreError(
                    f"database file {path} is read-only; solvegraph needs to write to it "
                    "(fix its permissions or pass another --db)"
                )
            if not os.access(path.parent, os.W_OK):
                raise StoreError(f"the folder of {path} is read-only; SQLite needs it for its WAL files")
        engine = create_engine(self.url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine

    def _initialize(self) -> None:
        try:
            with self.engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
            if "meta" in tables:
                with self._session() as s:
                    row = s.get(Meta, "schema_version")
                version = int(row.value) if row is not None else None
                if version != SCHEMA_VERSION:
                    raise StoreError(
                        f"database {self.display} has schema version {version}; this solvegraph uses "
                        f"version {SCHEMA_VERSION}. Use another --db, or export and re-import the runs"
                    )
                return
            if tables & {"runs", "trajectories", "steps"}:
                raise StoreError(
                    f"database {self.display} holds tables that are not a solvegraph memory "
                    "(no schema version); use another --db"
                )
            Base.metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                if self.dialect == "sqlite":
                    conn.execute(
                        text(
                            "CREATE VIRTUAL TABLE IF NOT EXISTS problems_fts USING fts5(text, "
                            "content='problems', content_rowid='id')"
                        )
                    )
                    conn.execute(
                        text(
                            "CREATE TRIGGER IF NOT EXISTS problems_fts_ai AFTER INSERT ON problems BEGIN "
                            "INSERT INTO problems_fts(rowid, text) VALUES (new.id, new.text); END"
                        )
                    )
                    conn.execute(
                        text("CREATE VIRTUAL TABLE IF NOT EXISTS problems_fts_vocab USING fts5vocab(problems_fts, row)")
                    )

                else:
                    conn.execute(
                        text(
                            "CREATE INDEX IF NOT EXISTS ix_problems_tsv ON problems "
                            "USING GIN (to_tsvector('english', text))"
                        )
                    )
                conn.execute(insert(Meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
        except StoreError:
            raise
        except (OperationalError, DatabaseError, sqlite3.DatabaseError) as exc:
            raise StoreError(self._explain(exc)) from None

    def _explain(self, exc: Exception) -> str:
        orig = getattr(exc, "orig", exc)
        first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        if self.dialect == "sqlite":
            if "not a database" in first or "malformed" in first:
                return f"{self.url.database} is not a valid SQLite database (corrupt or another kind of file): {first}"
            if "readonly" in first or "read-only" in first:
                return f"database file {self.url.database} is read-only: {first}"
            return f"cannot open SQLite database {self.url.database}: {first}"
        return f"cannot use database {self.display}: {first}"

    def session(self) -> Session:
        return self._session()

    def _guard(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except (SQLAlchemyError, sqlite3.DatabaseError) as exc:
            raise StoreError(self._explain(exc)) from None

    # -- writing ----------------------------------------------------------------
    def start_run(
        self,
        kind: str,
        model: str = "",
        dataset: str | None = None,
        config: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> str:
        run_id = run_id or uuid.uuid4().hex

        def write() -> None:
            with self._session.begin() as s:
                s.add(Run(id=run_id, kind=kind, model=model, dataset=dataset, config=config or {}))

        self._guard(write)
        return run_id

    def _problem_id(self, conn: Any, problem: str, dataset_id: str | None) -> int:
        h = content_hash(problem)
        found = conn.execute(select(Problem.id).where(Problem.content_hash == h)).scalar()
        if found is not None:
            return int(found)
        return int(
            conn.execute(
                insert(Problem).values(content_hash=h, text=problem, dataset_id=dataset_id).returning(Problem.id)
            ).scalar_one()
        )

    # The per-step write paths use Core statements on a pooled connection, not ORM sessions: a benchmark
    # makes several of these per sample from many threads, and the ORM's unit of work tripled their cost.
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

        def write() -> None:
            with self.engine.begin() as conn:
                pid = self._problem_id(conn, trajectory.problem, dataset_id)
                conn.execute(
                    insert(TrajectoryRow).values(
                        id=trajectory.id,
                        run_id=run_id,
                        problem_id=pid,
                        model=trajectory.model,
                        config_hash=config_hash,
                        status="running",
                        gold=gold,
                        verified=False,
                        prompt_tokens=0,
                        completion_tokens=0,
                        started_at=_dt(trajectory.started_at),
                    )
                )

        self._guard(write)

    def add_step(self, trajectory_id: str, seq: int, step: Step) -> None:
        """One step, one transaction: committed the moment it is taken."""

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(insert(StepRow).values(_step_dict(trajectory_id, seq, step)))

        self._guard(write)

    def keep_steps(self, trajectory_id: str, keep: int) -> int:
        """Delete the steps from position ``keep`` on; returns how many went.

        A resumed solve makes the store agree with its checkpoint: a step written after the last
        checkpoint (the process died between the two) is taken again by the resumed node, so it must
        not stay behind as a copy.
        """

        def write() -> int:
            with self.engine.begin() as conn:
                gone = conn.execute(delete(StepRow).where(StepRow.trajectory_id == trajectory_id, StepRow.seq >= keep))
                return _rowcount(gone)

        return self._guard(write)

    def reopen(self, trajectory_id: str) -> None:
        """Mark a trajectory running again (it is being resumed)."""

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(update(TrajectoryRow).where(TrajectoryRow.id == trajectory_id).values(status="running"))

        self._guard(write)

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
        usage = trajectory.usage
        values: dict[str, Any] = {
            "status": trajectory.status,
            "answer": trajectory.answer,
            "verified": trajectory.reusable,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "finished_at": _dt(trajectory.finished_at) if trajectory.finished_at else None,
        }
        if score is not None:
            values["score"] = score
        if outcome is not None:
            values.update(outcome=outcome, details=details or {}, latency_s=latency_s)

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(update(TrajectoryRow).where(TrajectoryRow.id == trajectory.id).values(**values))

        self._guard(write)

    def save_many(self, items: list[tuple[Trajectory, str, str | None]]) -> None:
        """Batched insert of finished trajectories: (trajectory, run_id, dataset_id).

        Core executemany, not the ORM unit of work: 10x faster for benchmark imports.
        """

        def write() -> None:
            with self._session.begin() as s:
                hashes = {content_hash(t.problem): (t.problem, d) for t, _, d in items}
                known = dict(
                    s.execute(select(Problem.content_hash, Problem.id).where(Problem.content_hash.in_(list(hashes))))
                    .tuples()
                    .all()
                )
                missing = [
                    {"content_hash": h, "text": p, "dataset_id": d} for h, (p, d) in hashes.items() if h not in known
                ]
                if missing:
                    rows = s.execute(
                        insert(Problem).returning(Problem.content_hash, Problem.id, sort_by_parameter_order=True),
                        missing,
                    )
                    known.update(rows.tuples().all())
                trajectories: list[dict[str, Any]] = []
                steps: list[dict[str, Any]] = []
                for t, run_id, _ in items:
                    u = t.usage
                    trajectories.append(
                        {
                            "id": t.id,
                            "run_id": run_id,
                            "problem_id": known[content_hash(t.problem)],
                            "model": t.model,
                            "config_hash": "",
                            "status": t.status,
                            "answer": t.answer,
                            "verified": t.reusable,
                            "gold": None,
                            "score": None,
                            "outcome": None,
                            "details": None,
                            "latency_s": None,
                            "prompt_tokens": u.prompt_tokens,
                            "completion_tokens": u.completion_tokens,
                            "started_at": _dt(t.started_at),
                            "finished_at": _dt(t.finished_at) if t.finished_at else None,
                        }
                    )
                    steps.extend(_step_dict(t.id, i, step) for i, step in enumerate(t.steps))
                s.execute(insert(TrajectoryRow), trajectories)
                if steps:
                    s.execute(insert(StepRow), steps)

        self._guard(write)

    def run_config(self, run_id: str) -> dict[str, Any]:
        with self._session() as s:
            run = s.get(Run, run_id)
            if run is None:
                raise StoreError(f"no run {run_id!r} in {self.display}")
            return dict(run.config or {})

    def update_run_config(self, run_id: str, **changes: Any) -> None:
        def write() -> None:
            with self._session.begin() as s:
                run = s.get(Run, run_id)
                if run is not None:
                    run.config = {**(run.config or {}), **changes}

        self._guard(write)

    def finished_samples(self, run_id: str) -> dict[str, str]:
        """dataset id → trajectory id of every sample of the run that has an outcome."""
        with self._session() as s:
            rows = s.execute(
                select(Problem.dataset_id, TrajectoryRow.id)
                .join(Problem)
                .where(TrajectoryRow.run_id == run_id, TrajectoryRow.outcome.is_not(None))
            ).all()
            return {str(d): t for d, t in rows}

    def abandon_unfinished(self, run_id: str) -> int:
        """Mark trajectories of a crashed run that never got an outcome; they are kept, never counted."""
        with self._session.begin() as s:
            result = s.execute(
                update(TrajectoryRow)
                .where(TrajectoryRow.run_id == run_id, TrajectoryRow.outcome.is_(None))
                .values(status="abandoned")
            )
            return _rowcount(result)

    def results(self, run_id: str) -> list[dict[str, Any]]:
        with self._session() as s:
            rows = s.execute(
                select(TrajectoryRow, Problem.dataset_id)
                .join(Problem)
                .where(TrajectoryRow.run_id == run_id, TrajectoryRow.outcome.is_not(None))
                .order_by(TrajectoryRow.started_at)
            ).all()
            return [
                {
                    "trajectory": t.id,
                    "sample": d,
                    "score": t.score,
                    "outcome": t.outcome,
                    "details": t.details or {},
                    "latency_s": t.latency_s,
                    "answer": t.answer,
                    "gold": t.gold,
                    "tokens": t.prompt_tokens + t.completion_tokens,
                }
                for t, d in rows
            ]

    # -- reading ----------------------------------------------------------------
    def load(self, trajectory_id: str) -> Trajectory:
        with self._session() as s:
            row = s.execute(
                select(TrajectoryRow)
                .where(TrajectoryRow.id == trajectory_id)
                .options(selectinload(TrajectoryRow.steps), selectinload(TrajectoryRow.problem))
            ).scalar()
            if row is None:
                raise StoreError(f"no trajectory {trajectory_id!r} in {self.display}")
            return _trajectory(row)

    def resolve(self, ident: str) -> tuple[str, list[str]]:
        """A run id or trajectory id (or a unique prefix of one) → (run id, trajectory ids)."""
        with self._session() as s:
            runs = s.execute(select(Run.id).where(Run.id.startswith(ident)).limit(2)).scalars().all()
            trajs = s.execute(
                select(TrajectoryRow.id, TrajectoryRow.run_id).where(TrajectoryRow.id.startswith(ident)).limit(2)
            ).all()
            if len(runs) + len(trajs) > 1 and not (len(runs) == 1 and runs[0] == ident):
                raise StoreError(f"{ident!r} is ambiguous: give more characters")
            if runs:
                ids = (
                    s.execute(
                        select(TrajectoryRow.id)
                        .where(TrajectoryRow.run_id == runs[0])
                        .order_by(TrajectoryRow.started_at)
                    )
                    .scalars()
                    .all()
                )
                return runs[0], list(ids)
            if trajs:
                return trajs[0].run_id, [trajs[0].id]
        raise StoreError(f"no run or trajectory {ident!r} in {self.display}")

    def delete_trajectories(self, ids: list[str]) -> dict[str, int]:
        """Delete trajectories with their steps and the tools made from them; then runs and problems left empty.

        One transaction: a failure deletes nothing. Returns how many of each were deleted.
        """

        def write() -> dict[str, int]:
            with self._session.begin() as s:
                problem_ids = set(
                    s.execute(select(TrajectoryRow.problem_id).where(TrajectoryRow.id.in_(ids))).scalars().all()
                )
                run_ids = set(s.execute(select(TrajectoryRow.run_id).where(TrajectoryRow.id.in_(ids))).scalars().all())
                steps = _rowcount(s.execute(delete(StepRow).where(StepRow.trajectory_id.in_(ids))))
                tools = _rowcount(s.execute(delete(MadeTool).where(MadeTool.origin_trajectory.in_(ids))))
                trajectories = _rowcount(s.execute(delete(TrajectoryRow).where(TrajectoryRow.id.in_(ids))))
                still_used = select(TrajectoryRow.run_id).where(TrajectoryRow.run_id.in_(run_ids))
                runs = _rowcount(s.execute(delete(Run).where(Run.id.in_(run_ids), Run.id.not_in(still_used))))
                orphans = list(
                    s.execute(
                        select(Problem.id).where(
                            Problem.id.in_(problem_ids),
                            Problem.id.not_in(
                                select(TrajectoryRow.problem_id).where(TrajectoryRow.problem_id.in_(problem_ids))
                            ),
                        )
                    )
                    .scalars()
                    .all()
                )
                if orphans and self.dialect == "sqlite":  # the FTS5 index is a table of its own
                    s.execute(
                        text("DELETE FROM problems_fts WHERE rowid IN :ids").bindparams(
                            bindparam("ids", expanding=True)
                        ),
                        {"ids": orphans},
                    )
                problems = _rowcount(s.execute(delete(Problem).where(Problem.id.in_(orphans)))) if orphans else 0
                return {
                    "trajectories": int(trajectories or 0),
                    "steps": int(steps or 0),
                    "made_tools": int(tools or 0),
                    "runs": int(runs or 0),
                    "problems": int(problems or 0),
                }

        return self._guard(write)

    def select_for_prune(self, *, older_than_days: float | None = None, status: str | None = None) -> list[str]:
        """Ids of the trajectories ``memory prune`` would delete: started before the cut-off and/or with a status."""
        if older_than_days is None and status is None:
            raise StoreError("say what to prune: --older-than DAYS and/or --status STATUS")
        query = select(TrajectoryRow.id)
        if older_than_days is not None:
            query = query.where(TrajectoryRow.started_at < datetime.now(UTC) - timedelta(days=older_than_days))
        if status is not None:
            query = query.where(TrajectoryRow.status == status)
        with self._session() as s:
            return list(s.execute(query).scalars().all())

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
                    "status": _run_status(statuses[r.id]),
                    "statuses": statuses[r.id],
                    "problem": first.get(r.id),
                }
                for r, n, solved in rows
            ]

    def stats(self) -> dict[str, Any]:
        with self._session() as s:

            def count(model: Any, *where: Any) -> int:
                return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar() or 0)

            return {
                "database": self.display,
                "schema_version": SCHEMA_VERSION,
                "runs": count(Run),
                "problems": count(Problem),
                "trajectories": count(TrajectoryRow),
                "verified": count(TrajectoryRow, TrajectoryRow.verified.is_(True)),
                "steps": count(StepRow),
                "made_tools": count(MadeTool),
            }

    def _rarest(self, terms: list[str], keep: int = 6) -> list[str]:
        """The query's rarest indexed terms: they carry most of BM25's weight and touch the fewest rows.

        Querying all terms of a long problem made top-5 retrieval 2-3x slower at 100k problems.
        """
        marks = ", ".join(f":t{i}" for i in range(len(terms)))
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT term, doc FROM problems_fts_vocab WHERE term IN ({marks})"),
                {f"t{i}": t for i, t in enumerate(terms)},
            ).all()
        df: dict[str, int] = {str(term): int(doc) for term, doc in rows}
        present = sorted((t for t in terms if df.get(t)), key=lambda t: df[t])
        return present[:keep]

    def cached_reply(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(select(CachedResponse.reply).where(CachedResponse.key == key)).scalar()

    def cache_reply(self, key: str, model: str, reply: dict[str, Any]) -> None:
        def write() -> None:
            try:
                with self.engine.begin() as conn:
                    if conn.execute(select(CachedResponse.key).where(CachedResponse.key == key)).first() is None:
                        conn.execute(insert(CachedResponse).values(key=key, model=model, reply=reply))
            except IntegrityError:
                pass  # a concurrent worker stored the same reply first; keep theirs

        self._guard(write)

    def retract_answer(self, problem: str, answer: str) -> int:
        """An answer to ``problem`` was shown wrong: earlier runs that gave it stop teaching.

        Their trajectories are no longer reusable (no worked example, no cache answer), and the
        tools made from them are deleted. Returns how many made tools were removed.
        """

        def write() -> int:
            with self._session.begin() as s:
                ids = (
                    s.execute(
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
                s.execute(update(TrajectoryRow).where(TrajectoryRow.id.in_(ids)).values(verified=False))
                removed = s.execute(delete(MadeTool).where(MadeTool.origin_trajectory.in_(ids)))
                return _rowcount(removed)

        return self._guard(write)

    def cached_answer(self, problem: str, config_hash: str) -> tuple[str, str, str] | None:
        """(answer, trajectory id, trust) of a reusable run of this exact problem and configuration."""
        with self._session() as s:
            row = s.execute(
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
            verdicts = s.execute(
                select(StepRow.verdict).where(StepRow.trajectory_id == row.id).order_by(StepRow.seq)
            ).scalars()
            return row.answer, row.id, last_trust(verdicts) or "unchecked"

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        verified_only: bool = False,
        exclude_hash: str | None = None,
        exclude_dataset_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Problems ranked by BM25 (FTS5) or ts_rank (PostgreSQL), each with its latest trajectory."""
        terms = query_terms(query)
        if not terms:
            return []
        if self.dialect == "sqlite":
            terms = self._rarest(terms)
            if not terms:
                return []
        verified = (
            "AND EXISTS (SELECT 1 FROM trajectories t WHERE t.problem_id = p.id AND t.verified)"
            if verified_only
            else ""
        )
        excl = "AND p.content_hash != :h " if exclude_hash else ""
        excl += "AND (p.dataset_id IS NULL OR p.dataset_id != :d) " if exclude_dataset_id else ""
        if self.dialect == "sqlite":
            sql = (
                f"SELECT p.id, p.text, bm25(problems_fts) AS rank FROM problems_fts "
                f"JOIN problems p ON p.id = problems_fts.rowid WHERE problems_fts MATCH :q {excl} {verified} "
                f"ORDER BY rank LIMIT :k"
            )
            q = " OR ".join(f'"{t}"' for t in terms)
        else:
            sql = (
                f"SELECT p.id, p.text, ts_rank_cd(to_tsvector('english', p.text), query) AS rank "
                f"FROM problems p, to_tsquery('english', :q) query "
                f"WHERE to_tsvector('english', p.text) @@ query {excl} {verified} ORDER BY rank DESC LIMIT :k"
            )
            q = " | ".join(terms)
        params = {"q": q, "k": k, "h": exclude_hash, "d": exclude_dataset_id}

        def run() -> list[dict[str, Any]]:
            with self._session() as s:
                hits = s.execute(text(sql), params).all()
                out = []
                for pid, ptext, rank in hits:
                    cond = [TrajectoryRow.problem_id == pid]
                    if verified_only:
                        cond.append(TrajectoryRow.verified.is_(True))
                    t = s.execute(
                        select(TrajectoryRow.id, TrajectoryRow.answer, TrajectoryRow.verified)
                        .where(*cond)
                        .order_by(TrajectoryRow.started_at.desc())
                        .limit(1)
                    ).first()
                    out.append(
                        {
                            "problem": ptext,
                            "rank": float(rank),
                            "trajectory": t.id if t else None,
                            "answer": t.answer if t else None,
                            "verified": bool(t.verified) if t else False,
                        }
                    )
                return out

        return self._guard(run)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _step_dict(trajectory_id: str, seq: int, step: Step) -> dict[str, Any]:
    return {
        "trajectory_id": trajectory_id, "seq": seq, "agent": step.agent, "round": step.round,
        "messages": step.messages, "reply": step.reply, "tool_calls": step.tool_calls,
        "tool_results": step.tool_results, "verdict": step.verdict, "prompt_tokens": step.usage.prompt_tokens,
        "completion_tokens": step.usage.completion_tokens, "model_calls": step.usage.calls,
        "timings": step.timings, "started_at": step.started_at,
    }  # fmt: skip


def last_trust(verdicts: Iterable[dict[str, Any] | None]) -> str:
    """How the final answer was accepted: the trust of the last verdict that carries one ("" if none)."""
    found = ""
    for verdict in verdicts:
        if isinstance(verdict, dict) and verdict.get("trust"):
            found = str(verdict["trust"])
    return found


def _trajectory(row: TrajectoryRow) -> Trajectory:
    steps = [
        Step(
            agent=r.agent,
            round=r.round,
            messages=r.messages or [],
            reply=r.reply or "",
            tool_calls=r.tool_calls or [],
            tool_results=r.tool_results or [],
            verdict=r.verdict,
            usage=Usage(r.prompt_tokens, r.completion_tokens, r.model_calls),
            started_at=r.started_at,
            timings=r.timings or {},
        )
        for r in row.steps
    ]
    return Trajectory(
        problem=row.problem.text,
        id=row.id,
        model=row.model,
        steps=steps,
        answer=row.answer,
        solved=row.status == "solved",
        trust=last_trust(st.verdict for st in steps),
        reusable=row.verified,
        status=row.status,
        started_at=row.started_at.timestamp(),
        finished_at=row.finished_at.timestamp() if row.finished_at else None,
    )
