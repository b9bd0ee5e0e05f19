"""From a database URL to an SQLAlchemy engine, refusing what would fail later or leave a mess behind."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ._errors import StoreError


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("solvegraph"))


def default_db_url() -> str:
    return f"sqlite:///{default_data_dir() / 'memory.sqlite'}"


def parse_url(url: str) -> URL:
    """``url`` as SQLAlchemy reads it; a URL it cannot read, or a database it does not support, is a StoreError."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"invalid database URL {url!r}: expected e.g. sqlite:///path/memory.sqlite or "
            "postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"unsupported database {parsed.render_as_string(hide_password=True)}: use sqlite or postgresql"
        )
    return parsed


def open_engine(url: URL) -> Engine:
    """An engine for ``url``: SQLite in WAL mode with a busy timeout, PostgreSQL through psycopg 3."""
    display = url.render_as_string(hide_password=True)
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise StoreError(f"no driver for {display}: {exc}") from None


_BUSY_TIMEOUT_S = 60


def _to_wal(cursor: Any) -> None:
    """Put the database in WAL mode, waiting for the lock as any other statement does.

    Switching the journal mode answers "database is locked" at once, without the busy handler,
    when another connection holds a lock: several processes opening a fresh database together
    (a bench's workers, or a progress read beside the bench) would fail here.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
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
    engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_S * 1000}")
        _to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
