"""Made tools (LATM / CRAFT): functions kept from verified code, with how often they helped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update

from ...types import trust_rank
from ..models import MadeTool, StepRow
from ._base import StoreBase
from ._errors import guarded
from ._rows import last_trust


def by_trust(tool: MadeTool) -> tuple[int, int]:
    """Rank key: the origin's trust (cross-verified first), then more successes first."""
    return trust_rank(tool.trust), -tool.successes


def _with_trust(s: Any, tools: list[MadeTool]) -> list[MadeTool]:
    """Each tool with the trust of the trajectory it was made from (the last trust its verdicts carry)."""
    ids = {t.origin_trajectory for t in tools if t.origin_trajectory}
    verdicts: dict[str, list[Any]] = {}
    if ids:
        rows = s.execute(
            select(StepRow.trajectory_id, StepRow.verdict).where(StepRow.trajectory_id.in_(ids)).order_by(StepRow.seq)
        )
        for trajectory_id, verdict in rows:
            verdicts.setdefault(trajectory_id, []).append(verdict)
    for t in tools:
        t.trust = last_trust(verdicts.get(t.origin_trajectory or "", []))
    return tools


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
        """The tools made while solving these problems, never one made from the excluded problem; each with
        the ``trust`` of the trajectory it was made from."""
        with self._session() as s:
            query = select(MadeTool).where(
                MadeTool.problem_text.in_(problem_texts), MadeTool.origin_problem_hash != exclude_problem_hash
            )
            return _with_trust(s, list(s.execute(query).scalars().all()))

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
        """Every kept tool, ranked by the trust of its origin (cross-verified first), then successes, then uses."""
        with self._session() as s:
            query = select(MadeTool).order_by(MadeTool.uses.desc(), MadeTool.created_at)
            tools = _with_trust(s, list(s.execute(query).scalars()))
        return sorted(tools, key=by_trust)
