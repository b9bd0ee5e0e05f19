"""Made tools (LATM / CRAFT): functions kept from verified code, with how often they helped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update

from ..models import MadeTool
from ._base import StoreBase
from ._errors import guarded


class MadeToolsMixin(StoreBase):
    @guarded
    def add_made_tools(self, tools: Iterable[dict[str, Any]]) -> list[str]:
        """Keep each tool (MadeTool's columns as a dict) unless one with its source hash is kept; the names added."""
        added = []
        with self._session.begin() as s:
            for values in tools:
                known = s.execute(select(MadeTool.id).where(MadeTool.source_hash == values["source_hash"])).scalar()
                if known is None:
                    s.add(MadeTool(**values))
                    added.append(str(values["name"]))
        return added

    @guarded
    def made_tools_from(self, problem_texts: list[str], *, exclude_problem_hash: str) -> list[MadeTool]:
        """The tools made while solving these problems, never one made from the excluded problem."""
        with self._session() as s:
            query = select(MadeTool).where(
                MadeTool.problem_text.in_(problem_texts), MadeTool.origin_problem_hash != exclude_problem_hash
            )
            return list(s.execute(query).scalars().all())

    @guarded
    def count_tool_uses(self, tool_ids: list[int], *, succeeded: bool) -> None:
        """One more use of each tool, and one more success or failure."""
        field = MadeTool.successes if succeeded else MadeTool.failures
        with self.engine.begin() as conn:
            conn.execute(
                update(MadeTool)
                .where(MadeTool.id.in_(tool_ids))
                .values(uses=MadeTool.uses + 1, **{field.key: field + 1})
            )

    @guarded
    def made_tools(self) -> list[MadeTool]:
        """Every kept tool, most used first."""
        with self._session() as s:
            return list(s.execute(select(MadeTool).order_by(MadeTool.uses.desc(), MadeTool.created_at)).scalars())
