"""The response cache: a model's reply by the hash of what decides it (benchmarks' ``--cache``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ..models import CachedResponse
from ._base import StoreBase
from ._errors import guarded


class CacheMixin(StoreBase):
    @guarded
    def cached_reply(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(select(CachedResponse.reply).where(CachedResponse.key == key)).scalar()

    @guarded
    def cache_reply(self, key: str, model: str, reply: dict[str, Any]) -> None:
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(CachedResponse.key).where(CachedResponse.key == key)).first() is None:
                    conn.execute(insert(CachedResponse).values(key=key, model=model, reply=reply))
        except IntegrityError:
            pass  # a concurrent worker stored the same reply first; keep theirs
