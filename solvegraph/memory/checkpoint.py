"""LangGraph checkpoints in the database the user configured, beside the trajectory store.

The store is the record: what ``runs show``, the bench and the viewer read, written step by step as
the graph streams them. A checkpoint is how to continue: the graph's state after each node, under the
trajectory's id as LangGraph's ``thread_id``. Its state holds the same steps, so when the two disagree
(the process died between writing one and the other) the checkpoint wins and the store is cut back to
it before the run continues. See docs/architecture.md.

The graph runs with LangGraph's ``astream``, so its saver must answer the async methods too. The
savers here are LangGraph's own ``SqliteSaver`` and ``PostgresSaver`` with those methods added as the
sync ones run on a worker thread (:class:`_OnThread`): each is one short statement under the saver's
lock, on a connection opened for any thread. That is what ``AsyncSqliteSaver`` does underneath
(aiosqlite is a thread per connection), without binding the saver to one event loop: the CLI opens
it once and every solve, each on its own loop, and the synchronous API (``get_state``,
``delete_thread``) keep using it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .store import Store, StoreError


class _OnThread:
    """The async methods of a LangGraph checkpoint saver, as its sync methods on a worker thread."""

    async def aget_tuple(self, config: Any) -> Any:
        return await asyncio.to_thread(self.get_tuple, config)  # type: ignore[attr-defined]

    async def alist(
        self, config: Any, *, filter: dict[str, Any] | None = None, before: Any = None, limit: int | None = None
    ) -> AsyncIterator[Any]:
        found = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))  # type: ignore[attr-defined]
        )
        for item in found:
            yield item

    async def aput(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)  # type: ignore[attr-defined]

    async def aput_writes(
        self, config: Any, writes: Sequence[tuple[str, Any]], task_id: str, task_path: str = ""
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)  # type: ignore[attr-defined]

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)  # type: ignore[attr-defined]


def open_checkpointer(store: Store) -> Any:
    """A LangGraph saver on ``store``'s database: SqliteSaver for SQLite, PostgresSaver for PostgreSQL,
    each answering the async methods too."""
    try:
        if store.dialect == "sqlite":
            from langgraph.checkpoint.sqlite import SqliteSaver

            class Sqlite(_OnThread, SqliteSaver):
                pass

            path = store.url.database or ":memory:"
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
            saver: Any = Sqlite(conn)
        else:
            import psycopg
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row

            class Postgres(_OnThread, PostgresSaver):
                pass

            url = store.url.set(drivername="postgresql").render_as_string(hide_password=False)
            pg = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
            saver = Postgres(pg)
        saver.setup()
        return saver
    except ImportError as exc:
        raise StoreError(f"checkpoints need {exc.name}: pip install langgraph-checkpoint-sqlite / -postgres") from None
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot open checkpoints in {store.display}: {exc}") from None
    except Exception as exc:  # psycopg's errors, without importing it for SQLite users
        raise StoreError(f"cannot open checkpoints in {store.display}: {type(exc).__name__}: {exc}") from None
