"""Full-text search on SQLite: FTS5 ranked by BM25, queried with bound parameters only.

The index (``problems_fts``, external content over ``problems``) and its vocabulary table are made
by the schema (see ``_migrations``); a trigger adds each new problem.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, column, delete, func, literal_column, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnClause

from ..models import Problem

_FTS = table("problems_fts", column("rowid"), column("text"))
_VOCAB = table("problems_fts_vocab", column("term"), column("doc"))
_INDEX: ColumnClause[Any] = literal_column("problems_fts")  # FTS5 matches and ranks against the table itself


def terms_to_query(conn: Connection, terms: list[str], keep: int = 6) -> list[str]:
    """The query's rarest indexed terms: they carry most of BM25's weight and touch the fewest rows.

    Querying all terms of a long problem made top-5 retrieval 2-3x slower at 100k problems.
    """
    rows = conn.execute(select(_VOCAB.c.term, _VOCAB.c.doc).where(_VOCAB.c.term.in_(terms))).all()
    df: dict[str, int] = {str(term): int(doc) for term, doc in rows}
    return sorted((t for t in terms if df.get(t)), key=lambda t: df[t])[:keep]


def ranked(conn: Connection, terms: list[str], k: int, where: list[Any]) -> list[tuple[int, str, float]]:
    """(problem id, text, rank) of the best ``k`` problems matching any term; lower rank is better."""
    # Each term is one word of [a-z0-9] (see query_terms), quoted as an FTS5 string: no query syntax
    # reaches MATCH, and the whole query travels as one bound parameter.
    match = " OR ".join(f'"{t}"' for t in terms)
    rank = func.bm25(_INDEX).label("rank")
    query = (
        select(Problem.id, Problem.text, rank)
        .select_from(_FTS.join(Problem, Problem.id == _FTS.c.rowid))
        .where(_INDEX.op("MATCH")(bindparam("match", match)), *where)
        .order_by(rank)
        .limit(k)
    )
    return [(int(i), str(t), float(r)) for i, t, r in conn.execute(query)]


def forget(conn: Connection, problem_ids: list[int]) -> None:
    """Drop deleted problems from the index, which is a table of its own on SQLite."""
    if problem_ids:
        conn.execute(delete(_FTS).where(_FTS.c.rowid.in_(problem_ids)))
