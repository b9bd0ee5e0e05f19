"""Full-text search on PostgreSQL: a GIN index over ``to_tsvector('english', text)``, ranked by ts_rank_cd.

The index is made by the schema (see ``_migrations``). Its expression must match the query's for the
planner to use it, so the text-search configuration is the constant ``'english'``, not a parameter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnClause

from ..models import Problem

_ENGLISH: ColumnClause[Any] = literal_column("'english'::regconfig")


def terms_to_query(conn: Connection, terms: list[str]) -> list[str]:
    """All of them: the GIN index makes an OR of many terms cheap."""
    return terms


def ranked(conn: Connection, terms: list[str], k: int, where: list[Any]) -> list[tuple[int, str, float]]:
    """(problem id, text, rank) of the best ``k`` problems matching any term; higher rank is better."""
    vector = func.to_tsvector(_ENGLISH, Problem.text)
    # Words of [a-z0-9] only (see query_terms), OR-ed; the query is one bound parameter.
    tsquery = func.to_tsquery(_ENGLISH, bindparam("match", " | ".join(terms)))
    rank = func.ts_rank_cd(vector, tsquery).label("rank")
    query = (
        select(Problem.id, Problem.text, rank).where(vector.op("@@")(tsquery), *where).order_by(rank.desc()).limit(k)
    )
    return [(int(i), str(t), float(r)) for i, t, r in conn.execute(query)]


def forget(conn: Connection, problem_ids: list[int]) -> None:
    """Nothing to do: the index is on the problems table and goes with its rows."""
