"""The trajectory store: SQLite by default, PostgreSQL through the same code.

Split by concern: ``_interface`` (the protocols the rest of solvegraph uses, one per role: runs,
trajectories, reuse, made tools), ``_engine`` (URL to
engine), ``_migrations`` (schema versions), ``_runs``, ``_trajectories``, ``_certificates``, ``_made_tools`` and
``_cache`` (the tables), ``_search`` with one module per full-text dialect, and ``_errors`` (every
database failure as one :class:`StoreError` line).

SQLite runs in WAL mode with a busy timeout so many benchmark workers can write at once. A solve
commits every step as its own short transaction, so a crash loses at most the step in flight; a
benchmark queues its writes and lands them in batches (``write_batch``), a sample's result after
its steps, so a crash loses only unscored samples, which ``--resume`` runs again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ...types import content_hash
from ..models import MadeTool, Problem, Run, StepRow, TrajectoryRow
from ._cache import CacheMixin
from ._certificates import CertificatesMixin
from ._engine import default_data_dir, default_db_url
from ._errors import StoreError, guarded
from ._interface import MadeToolStore, ReuseStore, RunStore, TrajectoryLog, TrajectoryStore
from ._made_tools import MadeToolsMixin
from ._migrations import MIGRATIONS, SCHEMA_VERSION
from ._rows import last_trust
from ._runs import RunsMixin
from ._search import SearchMixin
from ._terms import query_terms
from ._trajectories import ALREADY_SCORED, TrajectoriesMixin, Write, finish_values


class Store(RunsMixin, TrajectoriesMixin, CertificatesMixin, SearchMixin, MadeToolsMixin, CacheMixin):
    """The SQL implementation of :class:`TrajectoryStore`."""

    @guarded
    def stats(self) -> dict[str, Any]:
        with self.engine.connect() as conn:

            def count(model: Any, *where: Any) -> int:
                return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar() or 0)

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


def _implements_every_role(store: Store) -> TrajectoryStore:
    """Never called: mypy checks here that :class:`Store` has every method of every role, with its signature."""
    return store


__all__ = [
    "ALREADY_SCORED",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "MadeToolStore",
    "ReuseStore",
    "RunStore",
    "Store",
    "StoreError",
    "TrajectoryLog",
    "TrajectoryStore",
    "Write",
    "content_hash",
    "default_data_dir",
    "default_db_url",
    "finish_values",
    "last_trust",
    "query_terms",
]
