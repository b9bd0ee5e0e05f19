"""The contracts every layer speaks: problem, step, tool call and result, verdict, trajectory, sample, score.

This module imports nothing from solvegraph, so every layer may import it. The
records are pydantic dataclasses: they keep positional construction (plugins
write ``ToolResult(True, "ok")``) and attribute access, are validated when built,
and dump to and load from JSON through one :class:`~pydantic.TypeAdapter` each,
so a round trip (``Trajectory.from_dict(t.to_dict()) == t``) holds by construction
rather than by three hand-written converters agreeing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import field
from typing import Any, ClassVar, TypedDict

from pydantic import ConfigDict, TypeAdapter
from pydantic.dataclasses import dataclass

from ._vocabulary import (
    MODEL_SWITCH,
    STRATEGIES,
    TRAJECTORY_STATUSES,
    TRUST_LEVELS,
    VERIFIED,
    credit,
    dollars,
    inert,
    last_model,
    may_teach,
    trust_rank,
    verified,
)

# Unknown keys are ignored when loading, so the derived totals a dump adds (``duration_s``) load back.
_CONFIG = ConfigDict(extra="ignore")


def content_hash(text: str) -> str:
    """The id of a text, as the store keys problems: sha256 of its words joined by single spaces,
    so a problem pasted with other line breaks is the same problem."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


@dataclass(config=_CONFIG)
class Problem:
    """A problem as posed: its text, and the id the store files it under (the text's hash)."""

    text: str

    @property
    def id(self) -> str:
        return content_hash(self.text)


@dataclass(config=_CONFIG, frozen=True)
class Price:
    """What a model costs: US dollars per million input (prompt) and output (completion) tokens.

    ``cached_input`` is the price of prompt tokens the endpoint served from its prompt cache
    (OpenAI's ``prompt_tokens_details.cached_tokens``), usually a fraction of ``input``; None
    prices them as any other input.
    """

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float:
        cached = min(cached_tokens, prompt_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        paid = (prompt_tokens - cached) * self.input + cached * cached_rate + completion_tokens * self.output
        return paid / 1_000_000


def price_for(prices: Mapping[str, Price], model: str) -> Price | None:
    """The price of ``model``: its own entry, else the most specific glob pattern that matches
    (``"gpt-4o*"``, ``"*"``), else None (unpriced: its cost is unknown, never shown as $0)."""
    if model in prices:
        return prices[model]
    patterns = sorted((p for p in prices if any(c in p for c in "*?[")), key=len, reverse=True)
    return next((prices[p] for p in patterns if fnmatch.fnmatchcase(model, p)), None)


@dataclass(config=_CONFIG)
class Usage:
    """Tokens spent, summed over model calls, and what they cost.

    ``cost_usd`` is None while no call was priced (the model has no known or configured price): an
    unknown cost, not a free one. ``reasoning_tokens`` are the part of ``completion_tokens`` the model
    spent thinking (counted by the endpoint, or estimated from the reasoning's share of the reply): they
    are paid for as completion tokens, and shown apart.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost_usd: float | None = None
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.calls += other.calls
        self.reasoning_tokens += other.reasoning_tokens
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd

    def to_dict(self) -> dict[str, int | float | None]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "calls": self.calls,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "reasoning_tokens": self.reasoning_tokens,
        }


@dataclass(config=_CONFIG)
class ToolCall:
    """A call the model asked for: its id, the tool's name and the arguments as the model wrote them."""

    id: str
    name: str
    arguments: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(config=_CONFIG)
class ToolResult:
    """Structured outcome of a tool call: ok or not, its output, and the error text.

    ``data`` carries a tool's structured result (status, objective, verdict); ``error_kind``
    says what failed when it was not the tool's own work (``invalid_arguments`` names a bad
    field before the tool ran).
    """

    ok: bool
    output: str = ""
    error: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False
    duration_s: float = 0.0

    @classmethod
    def success(cls, output: str = "", **data: Any) -> ToolResult:
        return cls(ok=True, output=output, data=data)

    @classmethod
    def failure(cls, error: str, output: str = "", **data: Any) -> ToolResult:
        return cls(ok=False, output=output, error=error, data=data)

    def to_dict(self) -> dict[str, Any]:
        return _TOOL_RESULT.dump_python(self, mode="python")

    def render(self) -> str:
        """What the model sees: output, then the error if any."""
        parts = [self.output.rstrip()] if self.output.strip() else []
        if not self.ok:
            parts.append(f"ERROR: {self.error}")
        return "\n".join(parts) if parts else "(no output)"


class Verdict(TypedDict, total=False):
    """The verifier's judgement of one attempt, and how it was reached."""

    accepted: bool
    feedback: str
    source: str  # "deterministic", "verifier:<name>", "model" or "model-unclear"
    checks: list[str]  # notes from plugin verifiers that passed
    trust: str  # accepted verdicts: "cross-verified", "tool-verified", "model-accepted" or "unchecked"
    verified_by: list[str]  # the plugin checks that explicitly accepted, each with a certificate
    cross_verified_by: list[str]  # the independent routes that agreed with them (cross-verified only)
    certificates: list[str]  # the ids of those certificates (the store keeps them whole)


@dataclass(config=_CONFIG)
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
    # The model that answered this step ("" for a step no model took part in, or one recorded before
    # steps carried it): a resumed solve may continue on another model, and the record says which.
    model: str = ""
    # The model's reasoning (<think> blocks, reasoning_content), kept apart from ``reply``: never run, never
    # read as the answer, shown collapsed.
    reasoning: str = ""
    # How the reply came back, where it says more than its text: finish_reason, tool_format (the dialect its
    # calls were written in), problems (what could not be read, as the model was told), retries (tries cut
    # off at max_tokens).
    reply_meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = _STEP.dump_python(self)
        data["usage"] = self.usage.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Step:
        return _STEP.validate_python(data)


@dataclass(config=_CONFIG)
class Trajectory:
    """The record of one solve: every agent step, in order, and how it ended."""

    problem: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    model: str = ""
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None
    solved: bool = False
    status: str = "running"  # running | solved | unsolved | error | refused | interrupted
    # How the answer was accepted: "cross-verified" (a sound check by a tool, and an independent route
    # agreed), "tool-verified" (a sound check by a tool), "model-accepted" (the verifier model said ACCEPT)
    # or "unchecked" (mechanical checks only, or no clear verdict); "" if none.
    trust: str = ""
    # May this answer teach later runs (worked example, exact-cache answer, made tools)? Cross- and
    # tool-verified answers only, plus model-accepted ones where the user opted in; never one scored wrong.
    reusable: bool = False
    stop_reason: str = ""
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    # The certificates the accepted answer rests on (tool-verified answers): saved by the store's ``finish``
    # into its own table, never in the steps, and left out of ``to_dict`` (their artifacts are whole model
    # files); ``runs export`` and the viewer read them from the store.
    certificates: list[Certificate] = field(default_factory=list, compare=False)

    DERIVED: ClassVar[tuple[str, ...]] = ("duration_s", "usage", "tool_calls")

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
        """The JSON-ready record, with the derived totals (``duration_s``, ``usage``, ``tool_calls``) added."""
        data = _TRAJECTORY.dump_python(self)
        data.pop("certificates", None)
        data["steps"] = [s.to_dict() for s in self.steps]
        data["duration_s"] = (self.finished_at or time.time()) - self.started_at
        data["usage"] = self.usage.to_dict()
        data["tool_calls"] = self.tool_calls
        return data

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        """Load a dumped trajectory; derived totals are recomputed, never trusted from the dump."""
        return _TRAJECTORY.validate_python(data)


@dataclass(config=_CONFIG)
class Event:
    """What a node reports as it happens: plan, code, tool_output, verdict, guidance, answer."""

    kind: str
    agent: str
    round: int
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


@dataclass(config=_CONFIG)
class Sample:
    """One benchmark item: a stable id, the question, the gold answer and whatever else the dataset carries."""

    id: str
    question: str
    answer: Any
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(config=_CONFIG)
class Score:
    """A scorer's judgement of one answer, and why."""

    correct: bool
    detail: dict[str, Any] = field(default_factory=dict)


CERTIFICATE_SCHEMA = 1  # raised when a certificate's fields change meaning; a reader refuses a newer one


@dataclass(config=_CONFIG)
class Certificate:
    """What a tool-verified answer rests on, in a form anyone can check again without the run.

    A plugin check that accepts (``accepted: True``) hands one back under ``"certificate"``: the claim it
    verified and the artifacts the claim rests on, as the tool read them (the model file the solver read,
    the SMT script, the Lean challenge and candidate). ``solvegraph verify`` re-checks it in a fresh
    sandboxed process, through the checker registered for its ``kind``
    (:func:`~solvegraph.plugins.hookspecs.solvegraph_certificate_checkers`); nothing of the original run
    is consulted. An answer that no checker can certify is not tool-verified.
    """

    kind: str  # which checker re-checks it: "milp", "cp", "smt", "lean", or a plugin's own
    claim: dict[str, Any]  # what is certified: status, objective, values; sat and its model; the theorem
    artifacts: dict[str, str] = field(default_factory=dict)  # file name -> text: "model.cip", "script.smt2"
    checks: list[str] = field(default_factory=list)  # what the solve-time check did, one line each
    provenance: dict[str, Any] = field(default_factory=dict)  # solver and toolchain versions, limits
    tool: str = ""  # the tool whose result it certifies
    verifier: str = ""  # the plugin check that issued it
    answer: str | None = None  # the answer it backs, once the run ends
    problem_id: str = ""
    trajectory_id: str = ""
    schema: int = CERTIFICATE_SCHEMA
    created_at: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)  # how a verdict and the store refer to it

    def to_dict(self) -> dict[str, Any]:
        return _CERTIFICATE.dump_python(self, mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Certificate:
        """Load a certificate; raises pydantic's ``ValidationError`` naming the bad field."""
        return _CERTIFICATE.validate_python(data)


_CERTIFICATE: TypeAdapter[Certificate] = TypeAdapter(Certificate)
_TOOL_RESULT: TypeAdapter[ToolResult] = TypeAdapter(ToolResult)
_STEP: TypeAdapter[Step] = TypeAdapter(Step)
_TRAJECTORY: TypeAdapter[Trajectory] = TypeAdapter(Trajectory)

__all__ = [
    "CERTIFICATE_SCHEMA",
    "MODEL_SWITCH",
    "STRATEGIES",
    "TRAJECTORY_STATUSES",
    "TRUST_LEVELS",
    "VERIFIED",
    "Certificate",
    "Event",
    "Price",
    "Problem",
    "Sample",
    "Score",
    "Step",
    "ToolCall",
    "ToolResult",
    "Trajectory",
    "Usage",
    "Verdict",
    "content_hash",
    "credit",
    "dollars",
    "inert",
    "last_model",
    "may_teach",
    "price_for",
    "trust_rank",
    "verified",
]
