"""How a database failure reaches the user: one :class:`StoreError` line, never a driver traceback."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from typing import Any, ParamSpec, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from ...errors import SolvegraphError


class StoreError(SolvegraphError):
    """The database cannot be used; the message says why and which one."""


class _Described(Protocol):
    dialect: str
    display: str
    database: str


def explain(store: _Described, exc: BaseException) -> str:
    """The first line of what the driver said, with which database it was and what that usually means."""
    orig = getattr(exc, "orig", None) or exc
    said = str(orig).strip()
    first = said.splitlines()[0] if said else type(orig).__name__
    if store.dialect == "sqlite":
        if "not a database" in first or "malformed" in first:
            return f"{store.database} is not a valid SQLite database (corrupt or another kind of file): {first}"
        if "readonly" in first or "read-only" in first:
            return f"database file {store.database} is read-only: {first}"
        if "no such table" in first or "no such column" in first:
            return f"database {store.database} is not a complete solvegraph memory ({first}); use another --db"
        return f"cannot use SQLite database {store.database}: {first}"
    return f"cannot use database {store.display}: {first}"


P = ParamSpec("P")
R = TypeVar("R")


def guarded(method: Callable[P, R]) -> Callable[P, R]:
    """Turn any database error raised by a store method into one StoreError line naming the database."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except StoreError:
            raise
        except (SQLAlchemyError, sqlite3.Error) as exc:
            store: Any = args[0]
            raise StoreError(explain(store, exc)) from None

    return wrapper
