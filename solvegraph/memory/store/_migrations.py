"""Schema versions: how a database written by an older solvegraph is brought up to this one.

Version 1 is the baseline (the first released schema). Each later version is a :class:`Migration`
with its statements for both dialects, frozen once released: a new change is a new entry, never an
edit, the way ``langgraph-checkpoint-postgres`` keeps its list. A fresh database is created from
the current models and stamped with the newest version; ``tests/memory`` checks that it matches a
version-1 database migrated step by step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine

from ..models import Base, Meta
from ._errors import StoreError


@dataclass(frozen=True)
class Migration:
    version: int
    why: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


# Version 4's repair of the data, the same SQL on both dialects. A bench trajectory takes the sample id its
# problem row carried when that id is of its run's dataset (ids start with the dataset's name: the row kept
# the id of whichever benchmark first asked the text); where two scored trajectories of one run then share
# an id (the same text under two ids in one dataset, or a sample run again by the old resume), the later
# ones lose only their id, never their score or steps: ``bench --resume`` names them again from the dataset
# (Store.repair_samples), which also renames an id its dataset does not have.
_V4_DATA = (
    "UPDATE trajectories SET sample_id = (SELECT problems.dataset_id FROM problems, runs "
    "WHERE problems.id = trajectories.problem_id AND runs.id = trajectories.run_id "
    "AND problems.dataset_id LIKE runs.dataset || '-%') "
    "WHERE run_id IN (SELECT id FROM runs WHERE kind = 'bench')",
    # Without an index the search for an earlier row with the same id reads the table once per row.
    "CREATE INDEX IF NOT EXISTS ix_v4_run_sample ON trajectories (run_id, sample_id)",
    "UPDATE trajectories SET sample_id = NULL WHERE outcome IS NOT NULL AND sample_id IS NOT NULL AND EXISTS ("
    "SELECT 1 FROM trajectories AS earlier WHERE earlier.run_id = trajectories.run_id "
    "AND earlier.sample_id = trajectories.sample_id AND earlier.outcome IS NOT NULL "
    "AND (earlier.started_at < trajectories.started_at "
    "OR (earlier.started_at = trajectories.started_at AND earlier.id < trajectories.id)))",
    "DROP INDEX IF EXISTS ix_v4_run_sample",
    "CREATE UNIQUE INDEX IF NOT EXISTS ux_traj_run_sample ON trajectories (run_id, sample_id) "
    "WHERE outcome IS NOT NULL",
    "UPDATE steps SET model = (SELECT model FROM trajectories WHERE trajectories.id = steps.trajectory_id) "
    "WHERE model_calls > 0",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "a run's trajectories in start order (results, runs show, resume and the viewer's run page)",
        sqlite=("CREATE INDEX IF NOT EXISTS ix_traj_run_started ON trajectories (run_id, started_at)",),
        postgresql=("CREATE INDEX IF NOT EXISTS ix_traj_run_started ON trajectories (run_id, started_at)",),
    ),
    Migration(
        3,
        "what each step and trajectory cost in US dollars (NULL: the model had no known or configured price)",
        sqlite=("ALTER TABLE steps ADD COLUMN cost_usd FLOAT", "ALTER TABLE trajectories ADD COLUMN cost_usd FLOAT"),
        postgresql=(
            "ALTER TABLE steps ADD COLUMN IF NOT EXISTS cost_usd FLOAT",
            "ALTER TABLE trajectories ADD COLUMN IF NOT EXISTS cost_usd FLOAT",
        ),
    ),
    Migration(
        4,
        "a benchmark sample's identity on its run's trajectory, not the shared problem (a problem a solve had "
        "seen before lost its sample id in a bench run); each scored at most once per run; each step's model",
        sqlite=(
            "ALTER TABLE trajectories ADD COLUMN sample_id VARCHAR(200)",
            "ALTER TABLE steps ADD COLUMN model VARCHAR(200)",
            *_V4_DATA,
        ),
        postgresql=(
            "ALTER TABLE trajectories ADD COLUMN IF NOT EXISTS sample_id VARCHAR(200)",
            "ALTER TABLE steps ADD COLUMN IF NOT EXISTS model VARCHAR(200)",
            *_V4_DATA,
        ),
    ),
    Migration(
        5,
        "each step's reasoning (<think> blocks, reasoning_content) kept apart from its reply, and how the reply "
        "came back (finish_reason, tool-call dialect, what could not be read, retries after a cut-off reply)",
        sqlite=("ALTER TABLE steps ADD COLUMN reply_meta JSON",),
        postgresql=("ALTER TABLE steps ADD COLUMN IF NOT EXISTS reply_meta JSON",),
    ),
    Migration(
        6,
        "the certificates tool-verified answers rest on (solvegraph verify re-checks them), with their trajectory",
        sqlite=(
            "CREATE TABLE IF NOT EXISTS certificates (id VARCHAR(32) NOT NULL, trajectory_id VARCHAR(32) NOT NULL, "
            "kind VARCHAR(64) NOT NULL, schema INTEGER NOT NULL, body JSON NOT NULL, created_at DATETIME NOT NULL, "
            "PRIMARY KEY (id), FOREIGN KEY(trajectory_id) REFERENCES trajectories (id))",
            "CREATE INDEX IF NOT EXISTS ix_certificates_trajectory_id ON certificates (trajectory_id)",
        ),
        postgresql=(
            "CREATE TABLE IF NOT EXISTS certificates (id VARCHAR(32) NOT NULL, trajectory_id VARCHAR(32) NOT NULL, "
            "kind VARCHAR(64) NOT NULL, schema INTEGER NOT NULL, body JSON NOT NULL, "
            "created_at TIMESTAMP WITH TIME ZONE NOT NULL, "
            "PRIMARY KEY (id), FOREIGN KEY(trajectory_id) REFERENCES trajectories (id))",
            "CREATE INDEX IF NOT EXISTS ix_certificates_trajectory_id ON certificates (trajectory_id)",
        ),
    ),
)
BASELINE = 1
SCHEMA_VERSION = MIGRATIONS[-1].version if MIGRATIONS else BASELINE

# What the models alone do not make: the full-text index of each dialect, kept in step with its search module.
_EXTRAS = {
    "sqlite": (
        "CREATE VIRTUAL TABLE IF NOT EXISTS problems_fts USING fts5(text, content='problems', content_rowid='id')",
        "CREATE TRIGGER IF NOT EXISTS problems_fts_ai AFTER INSERT ON problems BEGIN "
        "INSERT INTO problems_fts(rowid, text) VALUES (new.id, new.text); END",
        "CREATE VIRTUAL TABLE IF NOT EXISTS problems_fts_vocab USING fts5vocab(problems_fts, row)",
    ),
    "postgresql": ("CREATE INDEX IF NOT EXISTS ix_problems_tsv ON problems USING GIN (to_tsvector('english', text))",),
}


def schema_version(conn: Connection) -> int | None:
    """The version stamped in ``meta``, or None when the database holds no solvegraph memory yet."""
    if "meta" not in inspect(conn).get_table_names():
        return None
    value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    return int(value) if value is not None else None


def prepare(engine: Engine, dialect: str, display: str) -> list[int]:
    """Create a fresh memory, or migrate an older one; returns the versions applied (empty if none were).

    A database from a newer solvegraph, or one with tables of the same names that is not a memory,
    is refused, never written to. Creating and migrating happen in one transaction under a lock
    (SQLite's write lock, a PostgreSQL advisory lock), and what the database holds is read again
    under it: a process that opens the memory while another creates it waits and then sees all of
    it, never tables without their version, and two that create it at once do it once.
    """
    with engine.connect() as conn:
        if schema_version(conn) == SCHEMA_VERSION:
            return []
    with engine.connect() as conn:
        _lock(conn, dialect)
        tables = set(inspect(conn).get_table_names())
        version = schema_version(conn) if "meta" in tables else None
        if version is None:
            if tables & {"meta", "runs", "trajectories", "steps"}:
                raise StoreError(
                    f"database {display} holds tables that are not a solvegraph memory (no schema version); "
                    "use another --db"
                )
            _create(conn, dialect)
            conn.commit()
            return []
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {display} has schema version {version}; this solvegraph uses version {SCHEMA_VERSION}. "
                "Upgrade solvegraph, or use another --db"
            )
        # All pending versions in one transaction: a failure leaves the database as it was.
        applied = []
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            for statement in getattr(migration, dialect):
                conn.execute(text(statement))
            conn.execute(update(Meta).where(Meta.key == "schema_version").values(value=str(migration.version)))
            applied.append(migration.version)
        conn.commit()
        return applied


# Any fixed 64-bit key does: the advisory lock only has to be the same one in every solvegraph process.
_PG_LOCK_KEY = int.from_bytes(b"solvegph", "big")


def _lock(conn: Connection, dialect: str) -> None:
    """Begin ``conn``'s transaction holding the lock that serializes creating and migrating a memory.

    The sqlite3 module leaves DDL outside any transaction unless one is begun explicitly;
    ``BEGIN IMMEDIATE`` takes the write lock at once and waits out the busy timeout for it.
    """
    if dialect == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _create(conn: Connection, dialect: str) -> None:
    if dialect == "postgresql":
        postgresql_partial_index()
    Base.metadata.create_all(conn)
    for statement in _EXTRAS[dialect]:
        conn.execute(text(statement))
    conn.execute(insert(Meta).values(key="schema_version", value=str(SCHEMA_VERSION)))


def postgresql_partial_index() -> None:
    """Give the unique index of a run's scored samples its condition on PostgreSQL, as it has on SQLite.

    Set on the model's index only where PostgreSQL is used (see ``TrajectoryRow.__table_args__``).
    """
    index = next(i for i in Base.metadata.tables["trajectories"].indexes if i.name == "ux_traj_run_sample")
    index.dialect_kwargs["postgresql_where"] = index.dialect_kwargs["sqlite_where"]
