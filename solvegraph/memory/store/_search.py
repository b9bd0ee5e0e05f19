"""Similar problems by full-text search, through the module of the store's dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select

from ..models import Problem, TrajectoryRow
from . import _search_postgres, _search_sqlite
from ._base import StoreBase
from ._errors import guarded
from ._terms import query_terms


class SearchMixin(StoreBase):
    @guarded
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
        where: list[Any] = []
        if exclude_hash:
            where.append(Problem.content_hash != exclude_hash)
        if exclude_dataset_id:  # a benchmark sample never learns from its own earlier runs, under any text
            asked_as = exists().where(
                TrajectoryRow.problem_id == Problem.id, TrajectoryRow.sample_id == exclude_dataset_id
            )
            where.append(~asked_as)
        if verified_only:
            where.append(exists().where(TrajectoryRow.problem_id == Problem.id, TrajectoryRow.verified.is_(True)))
        dialect = _search_sqlite if self.dialect == "sqlite" else _search_postgres
        with self.engine.connect() as conn:
            terms = dialect.terms_to_query(conn, terms)
            if not terms:
                return []
            out = []
            for pid, ptext, rank in dialect.ranked(conn, terms, k, where):
                latest = select(TrajectoryRow.id, TrajectoryRow.answer, TrajectoryRow.verified).where(
                    TrajectoryRow.problem_id == pid
                )
                if verified_only:
                    latest = latest.where(TrajectoryRow.verified.is_(True))
                t = conn.execute(latest.order_by(TrajectoryRow.started_at.desc()).limit(1)).first()
                out.append(
                    {
                        "problem": ptext,
                        "rank": rank,
                        "trajectory": t.id if t else None,
                        "answer": t.answer if t else None,
                        "verified": bool(t.verified) if t else False,
                    }
                )
            return out
