"""What every part of the store shares: the URL, the engine, and the schema brought up to date."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ._engine import default_db_url, open_engine, parse_url
from ._errors import StoreError, explain
from ._migrations import prepare


class StoreBase:
    def __init__(self, url: str | None = None) -> None:
        """Open (and create or migrate) the store at ``url``; None is the default SQLite file.

        The URL comes from resolved settings (flag, ``SOLVEGRAPH_DB``, solvegraph.toml): the store reads
        no environment of its own.
        """
        self.url = parse_url(url or default_db_url())
        self.display = self.url.render_as_string(hide_password=True)
        self.dialect = self.url.get_backend_name()
        self.database = self.url.database or ""
        self.engine = open_engine(self.url)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        try:
            self.migrated = prepare(self.engine, self.dialect, self.display)
        except StoreError:
            raise
        except (OperationalError, DatabaseError, sqlite3.Error) as exc:
            raise StoreError(explain(self, exc)) from None

    def session(self) -> Session:
        """A raw ORM session, for tests and one-off inspection; the store's own methods guard their errors."""
        return self._session()

    def close(self) -> None:
        """Release the engine's connections (the store is not usable after)."""
        self.engine.dispose()
