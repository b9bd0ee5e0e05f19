"""Between the record's types and the database's rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from ...types import Step, Trajectory, Usage
from ..models import TrajectoryRow


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def rowcount(result: Any) -> int:
    """Rows a DML statement touched (a CursorResult's rowcount; the generic Result type does not declare it)."""
    return int(getattr(result, "rowcount", 0) or 0)


def step_values(trajectory_id: str, seq: int, step: Step) -> dict[str, Any]:
    return {
        "trajectory_id": trajectory_id, "seq": seq, "agent": step.agent, "round": step.round,
        "messages": step.messages, "reply": step.reply, "tool_calls": step.tool_calls,
        "tool_results": step.tool_results, "verdict": step.verdict, "prompt_tokens": step.usage.prompt_tokens,
        "completion_tokens": step.usage.completion_tokens, "model_calls": step.usage.calls,
        "cost_usd": step.usage.cost_usd, "timings": step.timings, "started_at": step.started_at,
        "model": step.model or None, "reply_meta": _reply_meta(step),
    }  # fmt: skip


def _reply_meta(step: Step) -> dict[str, Any] | None:
    """The step's reasoning and reply details as one JSON value, None when it has none (most steps)."""
    meta = dict(step.reply_meta)
    if step.reasoning:
        meta["reasoning"] = step.reasoning
    if step.usage.reasoning_tokens:
        meta["reasoning_tokens"] = step.usage.reasoning_tokens
    return meta or None


def last_trust(verdicts: Iterable[dict[str, Any] | None]) -> str:
    """How the final answer was accepted: the trust of the last verdict that carries one ("" if none)."""
    found = ""
    for verdict in verdicts:
        if isinstance(verdict, dict) and verdict.get("trust"):
            found = str(verdict["trust"])
    return found


def run_status(counts: dict[str, int]) -> str:
    """One word for a run: its only trajectory's status, or what its trajectories came to."""
    if not counts:
        return "empty"
    if len(counts) == 1:
        return next(iter(counts))
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def trajectory_from_row(row: TrajectoryRow) -> Trajectory:
    steps = [
        Step(
            agent=r.agent,
            round=r.round,
            messages=r.messages or [],
            reply=r.reply or "",
            tool_calls=r.tool_calls or [],
            tool_results=r.tool_results or [],
            verdict=r.verdict,
            usage=Usage(
                r.prompt_tokens, r.completion_tokens, r.model_calls, r.cost_usd, meta.pop("reasoning_tokens", 0)
            ),
            started_at=r.started_at,
            timings=r.timings or {},
            model=r.model or "",
            reasoning=str(meta.pop("reasoning", "")),
            reply_meta=meta,
        )
        for r in row.steps
        for meta in [dict(r.reply_meta or {})]
    ]
    return Trajectory(
        problem=row.problem.text,
        id=row.id,
        model=row.model,
        steps=steps,
        answer=row.answer,
        solved=row.status == "solved",
        trust=last_trust(st.verdict for st in steps),
        reusable=row.verified,
        status=row.status,
        started_at=row.started_at.timestamp(),
        finished_at=row.finished_at.timestamp() if row.finished_at else None,
    )
