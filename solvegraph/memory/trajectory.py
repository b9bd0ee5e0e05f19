"""The record of one solve: every agent step, in order, in a JSON-ready form.

The trajectory is what gets printed by ``solve --json``, stored by the memory
store, and scored by benchmarks, so it keeps everything needed to replay a run:
the messages sent, the model's reply, tool calls and their results, verdicts,
token counts and timings.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "total_tokens": self.total_tokens}


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class Step:
    """One agent turn. ``agent`` is planner, solver, verifier or refiner."""

    agent: str
    round: int
    messages: list[dict[str, Any]] = field(default_factory=list)
    reply: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tool_results: list[dict[str, Any]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    usage: Usage = field(default_factory=Usage)
    started_at: float = field(default_factory=time.time)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"] = self.usage.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        data = dict(data)
        usage = {k: v for k, v in (data.pop("usage", None) or {}).items() if k != "total_tokens"}
        return cls(**data, usage=Usage(**usage))


def may_teach(trust: str, reuse_model_accepted: bool = False) -> bool:
    """Whether an answer accepted this way may teach later runs (worked example, cache, made tools):
    tool-verified ones always, model-accepted ones only where the user opted in, unchecked ones never."""
    return trust == "tool-verified" or (trust == "model-accepted" and reuse_model_accepted)


@dataclass
class Trajectory:
    problem: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    model: str = ""
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None
    solved: bool = False
    status: str = "running"  # running | solved | unsolved | error
    # How the answer was accepted: "tool-verified" (a sound check by a tool), "model-accepted" (the
    # verifier model said ACCEPT) or "unchecked" (mechanical checks only, or no clear verdict); "" if none.
    trust: str = ""
    # May this answer teach later runs (worked example, exact-cache answer, made tools)? Tool-verified
    # answers only, plus model-accepted ones where the user opted in; never one scored wrong.
    reusable: bool = False
    stop_reason: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def usage(self) -> Usage:
        total = Usage()
        for step in self.steps:
            total.add(step.usage)
        return total

    @property
    def tool_calls(self) -> int:
        return sum(len(s.tool_results) for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "problem": self.problem,
            "model": self.model,
            "answer": self.answer,
            "solved": self.solved,
            "trust": self.trust,
            "reusable": self.reusable,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": (self.finished_at or time.time()) - self.started_at,
            "usage": self.usage.to_dict(),
            "tool_calls": self.tool_calls,
            "steps": [s.to_dict() for s in self.steps],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        return cls(
            problem=data["problem"],
            id=data["id"],
            model=data.get("model", ""),
            steps=[Step.from_dict(s) for s in data.get("steps", [])],
            answer=data.get("answer"),
            solved=bool(data.get("solved")),
            trust=data.get("trust", ""),
            reusable=bool(data.get("reusable")),
            status=data.get("status", "running"),
            stop_reason=data.get("stop_reason", ""),
            started_at=data.get("started_at", 0.0),
            finished_at=data.get("finished_at"),
        )
