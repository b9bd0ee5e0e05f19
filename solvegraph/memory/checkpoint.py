"""LangGraph checkpoints in the database the user configured, beside the trajectory store.

The store is the record: what ``runs show``, the bench and the viewer read, written step by step as
the graph streams them. A checkpoint is how to continue: the graph's state after each node, under the
trajectory's id as LangGraph's ``thread_id``. Its state holds the same steps, so when the two disagree
(the process died between writing one and the other) the checkpoint wins and the store is cut back to
it before the run continues. See docs/architecture.md.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from .store import Store, StoreError


def open_checkpointer(store: Store) -> Any:
    """A LangGraph saver on ``store``'s database: SqliteSaver for SQLite, PostgresSaver for PostgreSQL."""
    try:
        if store.dialect == "sqlite":
            from langgraph.checkpoint.sqlite import SqliteSaver

            path = store.url.database or ":memory:"
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
            saver: Any = SqliteSaver(conn)
        else:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row

            url = store.url.set(drivername="postgresql").render_as_string(hide_password=False)
            pg = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
            saver = PostgresSaver(pg)
        saver.setup()
        return saver
    except ImportError as exc:
        raise StoreError(f"checkpoints need {exc.name}: pip install langgraph-checkpoint-sqlite / -postgres") from None
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open checkpoints in {store.display}: {exc}") from None
    except Exception as exc:  # psycopg's errors, without importing it for SQLite users
        raise StoreError(f"cannot open checkpoints in {store.display}: {type(exc).__name__}: {exc}") from None
