"""``solvegraph bench``: strategies over a dataset, concurrently, limited, scored, resumable.

Every sample's trajectory is written to the memory store step by step and its
result the moment it is scored, so a crashed or stopped run continues with
``--resume RUN_ID``: finished samples are kept and none is run twice. Hitting a
per-sample limit (wall time, tokens, model calls, tool calls) is a scored outcome.
The run's cost limit (``--max-cost``) is not: once the run has spent it, no model
call is made, and the samples it stopped stay unscored for ``--resume``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from ..config import Settings
from ..errors import ModelConnectionError, PromptRefusedError, SolvegraphError
from ..llm import ModelClient, Reply, make_client, make_role_clients
from ..memory import Trajectory, TrajectoryStore, content_hash, may_teach
from ..memory.store import ALREADY_SCORED
from ..plugins import PluginManager, ToolSession
from ..types import TRUST_LEVELS, Certificate, verified
from . import _registry as registry
from ._draws import Draws
from ._epochs import expand
from ._errors import ErrorCount, transient
from ._errors import parse_fail_on_error as parse_fail_on_error  # the CLI reads --fail-on-error with it
from ._writer import SampleWriter, StoreWriter
from .datasets import Dataset, Sample
from .scorers import Score, Scorer
from .strategies import check_strategy, run_direct, run_graph, run_pal

T = TypeVar("T")


@dataclass
class Limits:
    wall_s: float | None = None
    tokens: int | None = None
    model_calls: int | None = None
    tool_calls: int | None = None


class LimitExceeded(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind} limit: {detail}")
        self.kind = kind


class Abandoned(BaseException):
    """The user abandoned the samples in flight (a second Ctrl-C): they are not scored, and --resume runs them."""


class AlreadyScored(Exception):
    """Another process scored this sample of the run first (two resumes of one run at once): this result is
    kept unscored, as a duplicate, and the sample is not counted twice."""


class CostBudget:
    """What the whole run may spend on model calls (``--max-cost``), shared by all its samples.

    Checked before every call: once ``spent`` reaches ``limit`` no sample starts and no call is
    made, so a run overshoots by at most the calls that were already in flight. A resumed run
    starts from what its earlier attempts spent, unscored samples included.
    """

    def __init__(self, limit_usd: float | None, spent_usd: float = 0.0) -> None:
        self.limit, self.spent = limit_usd, spent_usd
        self.reached = threading.Event()
        self._lock = threading.Lock()
        self._check()

    def _check(self) -> None:
        if self.limit is not None and self.spent >= self.limit:
            self.reached.set()

    def spend(self, cost_usd: float | None) -> None:
        if cost_usd:
            with self._lock:
                self.spent += cost_usd
                self._check()


class MeteredClient:
    """The model client with one sample's limits checked before every call.

    Its calls are asyncio (``achat``) on the runner's event loop, so every model call of a run shares
    one connection pool and one adaptive per-endpoint limit. ``chat`` is for code in a worker thread
    (a plugin's blocking work that asks the model): it hands the call to that loop and waits.
    """

    def __init__(
        self,
        inner: ModelClient,
        limits: Limits,
        started: float,
        abandon: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        budget: CostBudget | None = None,
    ) -> None:
        self.inner, self.limits, self.started, self.abandon, self.loop = inner, limits, started, abandon, loop
        self.budget = budget
        self.calls = 0
        self.tokens = 0
        self._meter = self  # whose counts the limits see: a role's client counts on the sample's

    def sibling(self, inner: ModelClient) -> MeteredClient:
        """The same sample's limits over another role's model (``[models.verifier]``): one count for both."""
        other = MeteredClient(inner, self.limits, self.started, self.abandon, self.loop, self.budget)
        other._meter = self._meter
        return other

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def base_url(self) -> str:
        return self.inner.base_url

    @property
    def identity(self) -> str:
        return self.inner.identity

    def _before(self) -> None:
        if self.abandon is not None and self.abandon.is_set():
            raise Abandoned
        if self.budget is not None and self.budget.reached.is_set():
            raise Abandoned  # the run's money is spent: unscored, --resume with a higher --max-cost runs it
        lim = self.limits
        if lim.wall_s is not None and time.monotonic() - self.started > lim.wall_s:
            raise LimitExceeded("wall time", f"{lim.wall_s:g} s")
        if lim.model_calls is not None and self._meter.calls >= lim.model_calls:
            raise LimitExceeded("model calls", str(lim.model_calls))
        if lim.tokens is not None and self._meter.tokens >= lim.tokens:
            raise LimitExceeded("tokens", str(lim.tokens))

    def _after(self, reply: Reply) -> Reply:
        if self.abandon is not None and self.abandon.is_set():
            raise Abandoned  # abandoned while the model answered: the reply is dropped with the sample
        self._meter.calls += 1
        self._meter.tokens += reply.usage.total_tokens
        if self.budget is not None:
            self.budget.spend(reply.usage.cost_usd)
        return reply

    async def achat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Reply:
        self._before()
        return self._after(await self.inner.achat(messages, tools, max_tokens, response_format))

    async def achat_n(self, messages: list[dict[str, Any]], n: int, max_tokens: int | None = None) -> list[Reply]:
        """``n`` choices in one request (epochs drawn together): this sample is charged its own reply, the
        run's budget all of them."""
        self._before()
        replies = await self.inner.achat_n(messages, n, max_tokens)
        for other in replies[1:]:
            if self.budget is not None:
                self.budget.spend(other.usage.cost_usd)
        self._after(replies[0])
        return replies

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Reply:
        if self.loop is None:
            self._before()
            return self._after(self.inner.chat(messages, tools, max_tokens, response_format))
        coro = self.achat(messages, tools, max_tokens, response_format)
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


@dataclass
class BenchConfig:
    """Everything needed to run (and resume) a benchmark; stored with the run."""

    dataset: str
    data: str | None = None
    question_fields: list[str] = field(default_factory=list)
    answer_field: str | None = None
    id_field: str | None = None  # jsonl: the sample id's field (default: id or task_id, any case)
    category_field: str | None = None  # jsonl: the category's field (default: category or type, any case)
    scorer: str | None = None
    strategy: str = "graph"
    samples: int = 1
    epochs: int = 1  # --epochs: each problem run this many times, each epoch a sample of its own (_epochs.py)
    select: str = "majority"  # majority | verifier
    limit: int | None = None
    split: str | None = None
    ids: list[str] | None = None
    jobs: int = 4
    limits: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    base_url: str | None = None
    model_path: str | None = None
    response_cache: bool = False
    max_cost: float | None = None  # US dollars the whole run may spend (--max-cost)
    roles: dict[str, dict[str, str | None]] = field(default_factory=dict)  # [models.ROLE] as run (no keys)
    retry_on_error: int = 0  # --retry-on-error: a sample that errored transiently is run again this many times
    fail_on_error: float | None = None  # --fail-on-error: a count (>= 1) or a fraction; None is 1 (_errors.py)
    # The graph's budget as the run began (--max-rounds, --cell-timeout or their settings); None: a run stored
    # before they were recorded, which goes on with today's.
    max_rounds: int | None = None
    cell_timeout: float | None = None
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def resolve_dataset(plugins: PluginManager, config: BenchConfig, mirror: str | None = None) -> Dataset:
    """The dataset ``config`` names. With no ``--data``, a dataset with a pinned source is fetched on
    first use (from ``mirror`` when set) and ``config.data`` becomes its cached file."""
    if config.dataset == "jsonl":
        from .builtin import jsonl_dataset

        if not config.data or not config.question_fields or not config.answer_field:
            raise SolvegraphError("the jsonl dataset needs --data FILE, --question-field F and --answer-field F")
        return jsonl_dataset(
            config.question_fields,
            config.answer_field,
            config.scorer or "numeric",
            id_field=config.id_field,
            category_field=config.category_field,
        )
    datasets = plugins.datasets()
    if config.dataset not in datasets:
        raise SolvegraphError(f"unknown dataset {config.dataset!r}; known: {', '.join(sorted([*datasets, 'jsonl']))}")
    dataset = datasets[config.dataset]
    if not config.data and config.dataset in registry.registered():
        config.data = str(registry.ensure(config.dataset, mirror=mirror))
    if not config.data:
        hint = f" (e.g. .../{dataset.file_hint})" if dataset.file_hint else ""
        raise SolvegraphError(f"dataset {config.dataset!r} reads a local file: pass --data PATH{hint}")
    return dataset


def resolve_scorer(plugins: PluginManager, name: str) -> Scorer:
    scorers = plugins.scorers()
    if name not in scorers:
        raise SolvegraphError(f"unknown scorer {name!r}; known: {', '.join(sorted(scorers))}")
    return scorers[name]


def select_samples(loaded: list[Sample], config: BenchConfig) -> list[Sample]:
    samples = loaded
    if config.split:
        samples = [s for s in samples if s.metadata.get("split", config.split) == config.split]
    if config.ids:
        wanted = set(config.ids)
        samples = [s for s in samples if s.id in wanted or s.id.split("-", 1)[-1] in wanted]
        if not samples:
            raise SolvegraphError(f"none of the ids {', '.join(config.ids)} is in the dataset")
    if config.limit is not None:
        samples = samples[: config.limit]
    return samples


# Strongest first: with several samples of one answer, it keeps the best way it was checked.
TRUST_ORDER = TRUST_LEVELS


def score(
    scorer: Scorer,
    prediction: str | None,
    gold: Any,
    trajectory: Trajectory,
    options: dict[str, Any] | None = None,
    plugins: PluginManager | None = None,
) -> Score:
    """Call ``scorer`` with what it asks for: the trajectory (evidence), the run's tool options (a scorer
    that re-runs a tool, like ``proof``, must use the same Lean and project as the run) and the plugin
    manager (through which it reaches that tool)."""
    wanted = inspect.signature(scorer.score).parameters
    extra: dict[str, Any] = {}
    if "trajectory" in wanted:
        extra["trajectory"] = trajectory.to_dict()
    if "options" in wanted:
        extra["options"] = options or {}
    if "plugins" in wanted:
        extra["plugins"] = plugins
    return scorer.score(prediction, gold, **extra)


def backing(trajectory: Trajectory) -> list[Certificate]:
    """The certificates of the sample's answer, filed under the sample's trajectory (an attempt's own
    trajectory is not stored); those of attempts whose answer lost the vote are dropped."""
    if not trajectory.solved or trajectory.answer is None:
        return []
    kept = [c for c in trajectory.certificates if c.answer == trajectory.answer]
    for c in kept:
        c.trajectory_id = trajectory.id
    return kept


def outcome_of(trajectory: Trajectory, result: Score, limits: Limits) -> str:
    if result.correct:
        return "correct"
    calls = [r for s in trajectory.steps for r in s.tool_results if s.agent != "memory"]
    if "tool-call budget" in trajectory.stop_reason and limits.tool_calls is not None:
        return "limit"
    if calls and not calls[-1].get("ok"):
        return "timeout" if str(calls[-1].get("error", "")).startswith("timeout") else "tool_error"
    return "wrong"


def _json_array(path: str | None) -> bool:
    """Whether ``path`` is a file whose text starts a JSON array (SVAMP.json upstream), not JSON Lines."""
    try:
        with open(path or "", encoding="utf-8") as f:
            return f.read(4096).lstrip().startswith("[")
    except (OSError, UnicodeDecodeError):
        return False


def tool_evidence(trajectory: Trajectory) -> dict[str, Any] | None:
    """What made the run's answer verified by a tool (cross- or tool-verified): the accepting verdict's checks,
    the independent routes that agreed, and the tool calls of its round.

    A verified answer the scorer calls wrong is ``disputed``, not ``wrong``: a sound check (the
    Lean judge, the MILP/CP re-check) passed, so the gold is as suspect as the answer. This is what a
    person needs to judge which one is right.
    """
    for step in reversed(trajectory.steps):
        verdict = step.verdict or {}
        if step.agent == "verifier" and verdict.get("accepted") and verified(str(verdict.get("trust", ""))):
            calls = [
                {"name": c.get("name"), "arguments": c.get("arguments")}
                for s in trajectory.steps
                if s.agent == "solver" and s.round == step.round
                for c in s.tool_calls
            ]
            return {
                "verified_by": list(verdict.get("verified_by") or []),
                "cross_verified_by": list(verdict.get("cross_verified_by") or []),
                "checks": list(verdict.get("checks") or []),
                "feedback": str(verdict.get("feedback", "")),
                "tool_calls": calls[-3:],
            }
    return None


def gold_of(sample: Sample) -> str:
    """A sample's gold as the store keeps it (JSON text)."""
    return json.dumps(sample.answer, default=str)


def majority(answers: list[str | None]) -> str | None:
    counted = Counter(a for a in answers if a is not None)
    return counted.most_common(1)[0][0] if counted else None


class BenchRunner:
    def __init__(
        self,
        config: BenchConfig,
        settings: Settings,
        store: TrajectoryStore | None,
        *,
        run_id: str | None = None,
        on_result: Any = None,
        plugins: PluginManager | None = None,
        ray: str | None = None,
    ) -> None:
        check_strategy(config.strategy)
        if config.select not in ("majority", "verifier"):
            raise SolvegraphError("--select must be majority or verifier")
        if config.select == "verifier" and config.strategy != "graph":
            raise SolvegraphError("--select verifier ranks samples by the verifier's verdict: use --strategy graph")
        self.config, self.settings = config, settings
        self.store: TrajectoryStore = store  # type: ignore[assignment]  # None only on a Ray worker, which never writes
        self.ray = ray
        if ray is not None and config.response_cache:
            raise SolvegraphError("--response-cache is not available with --ray: the workers have no store")
        if ray is not None and settings.uses_embedded:
            raise SolvegraphError(
                "--ray needs --base-url: workers on other machines cannot reach this machine's embedded model"
            )
        self.plugins = plugins or PluginManager()
        self.dataset = resolve_dataset(self.plugins, config, settings.data_mirror)
        self.scorer = resolve_scorer(self.plugins, config.scorer or self.dataset.scorer)
        self.dataset.ready(settings.session_options())
        self.limits = Limits(**config.limits)
        self.on_result = on_result
        # Ctrl-C once: start no new sample and finish those in flight; twice: abandon those too.
        self.stopping = threading.Event()
        self.abandon = threading.Event()
        self.abandoned = 0
        self.already_scored = 0  # results another process had scored first (see AlreadyScored)
        self.errors = ErrorCount(config.fail_on_error, 0)  # samples that errored (--retry-on-error, --fail-on-error)
        self.run_id = run_id
        self.code = False
        self.client: ModelClient | None = None
        self.role_clients: dict[str, ModelClient] = {}  # planner/verifier/refiner on their own models
        self.draws: Draws | None = None  # direct epochs drawn with n in one request (_draws.py)
        self.budget = CostBudget(None)
        self.repaired = {"named": 0, "unscored": 0}  # what --resume put right in an older run's sample ids
        self._pool: ThreadPoolExecutor | None = None
        self._closing: ThreadPoolExecutor | None = None
        # A scorer that reaches a tool (tests in the sandbox, Lean) or runs in the sandbox itself (math, which
        # asks for the run's options to know its backend) judges off the event loop; one that only compares
        # answers is called on it.
        wanted = inspect.signature(self.scorer.score).parameters
        self.scorer_blocks = "plugins" in wanted or "options" in wanted

    @classmethod
    def on_worker(cls, config: BenchConfig, settings: Settings, run_id: str, code: bool) -> BenchRunner:
        """The runner a Ray worker uses for its samples: no store (the driver writes), its own kernels."""
        from ..agents import plugins_for  # the driver's plugins, as every caller assembles them

        runner = cls(config, settings, None, run_id=run_id, plugins=plugins_for(settings))
        runner.code = code
        if runner.settings.samples_temperature is not None and (config.samples > 1 or config.epochs > 1):
            runner.settings.temperature = runner.settings.samples_temperature
        runner.client = make_client(settings)
        runner.role_clients = make_role_clients(settings)
        runner._warm_kernels()
        return runner

    def prepare(self) -> list[Sample]:
        """Load and filter the samples, start (or reopen) the run; returns the samples still to do."""
        loaded = self.dataset.load(self.config.data or "")
        self.config.skipped = loaded.skipped
        samples = expand(select_samples(loaded.samples, self.config), self.config.epochs)
        repeated = [(i, n) for i, n in Counter(s.id for s in samples).items() if n > 1]
        if repeated:
            i, n = repeated[0]
            raise SolvegraphError(
                f"sample id {i!r} is in the dataset {n} times ({len(repeated)} ids repeat): a run scores each "
                "sample once, so ids must be unique (jsonl: choose the id with --id-field)"
            )
        if not loaded.samples and _json_array(self.config.data):
            raise SolvegraphError(
                f"{self.config.data}: a JSON array, not JSON Lines (one record per line); "
                f"`solvegraph data get {self.config.dataset}` fetches and converts a pinned dataset"
            )
        if not samples:
            why = f"; {len(loaded.skipped)} lines skipped, the first: {loaded.skipped[0]}" if loaded.skipped else ""
            raise SolvegraphError(f"the dataset has no samples to run (after --split, --ids and --limit){why}")
        self.code = any(s.metadata.get("kind") == "code" for s in samples)
        if self.settings.samples_temperature is not None and (self.config.samples > 1 or self.config.epochs > 1):
            self.settings.temperature = self.settings.samples_temperature  # K draws, not one answer K times
        self.client = make_client(self.settings)
        self.role_clients = make_role_clients(self.settings)
        for c in (self.client, *self.role_clients.values()):
            if self.config.response_cache:
                c.cache = self.store  # replies keyed on model, messages and parameters
            if self.config.max_cost is not None and c.price is None:
                raise SolvegraphError(
                    f"--max-cost needs the price of model {c.model!r}: add it under [prices] in solvegraph.toml "
                    f'(e.g. "{c.model}" = {{ input = 0.15, output = 0.6 }}, dollars per million tokens)'
                )
        if self.run_id is None:
            self.config.model = self.client.model
            self.run_id = self.store.start_run("bench", self.client.model, self.config.dataset, self.config.to_dict())
            self.total = len(samples)
            self.budget = CostBudget(self.config.max_cost)
            return samples
        self.budget = CostBudget(self.config.max_cost, self.store.run_costs([self.run_id])[self.run_id] or 0.0)
        # A run written before sample ids lived on the run's rows may have scored samples without one:
        # named again from the dataset here, and a sample scored twice keeps only its first score.
        by_text: dict[str, list[tuple[str, str | None]]] = {}
        for s in samples:
            by_text.setdefault(content_hash(s.question), []).append((s.id, gold_of(s)))
        self.repaired = self.store.repair_samples(self.run_id, by_text)
        done = self.store.finished_samples(self.run_id)
        self.store.abandon_unfinished(self.run_id)
        self.total = len(samples)
        return [s for s in samples if s.id not in done]

    # -- one sample --------------------------------------------------------------
    async def run_sample(self, sample: Sample, writer: SampleWriter) -> dict[str, Any]:
        """Run, score and queue the writes of one sample; returns its result once the result is committed."""
        return await (await self._run_sample(sample, writer))()

    async def _run_sample(self, sample: Sample, writer: SampleWriter) -> Callable[[], Awaitable[dict[str, Any]]]:
        """Run and score one sample and queue its writes; returns what waits for them and gives its result.

        The run holds a ``-j`` slot only for this part: the wait for the store's commit happens after the
        slot is freed, so the writer thread's commits do not keep the next sample from starting.
        """
        assert self.client is not None and self.run_id is not None
        started = time.monotonic()
        client = MeteredClient(self.client, self.limits, started, self.abandon, asyncio.get_running_loop(), self.budget)
        trajectory = Trajectory(problem=sample.question, model=self.client.model)
        writer.begin(trajectory, self.run_id, sample.id, gold_of(sample))

        def sink(t: Trajectory, step: Any) -> None:
            if t is not trajectory:
                trajectory.steps.append(step)
            writer.step(trajectory.id, len(trajectory.steps) - 1, step)

        answers: list[tuple[str | None, bool, str]] = []
        failure: tuple[str, str] | None = None
        try:
            for _ in range(max(1, self.config.samples)):
                answers.append(await self._attempt(client, sample, trajectory, sink))
        except LimitExceeded as exc:
            failure = ("limit", str(exc))
        except PromptRefusedError as exc:
            failure = ("refused", str(exc))  # this sample's prompt, not the endpoint: the run goes on
        except Exception as exc:
            if isinstance(exc, ModelConnectionError) or transient(exc):
                # The endpoint or the tool infrastructure, not the model: this attempt is kept, unscored, with
                # status "error"; the run retries the sample or counts it against --fail-on-error.
                trajectory.status, trajectory.finished_at = "error", time.time()
                trajectory.certificates = []  # no answer of the sample stands on them
                await asyncio.wrap_future(writer.finish(trajectory))
                raise
            failure = ("error", f"{type(exc).__name__}: {exc}")
        if answers:
            pool = [a for a, ok, _ in answers if ok] if self.config.select == "verifier" else []
            trajectory.answer = majority(pool or [a for a, _, _ in answers])
            trajectory.solved = any(ok for a, ok, _ in answers if a == trajectory.answer)
            trusts = {t for a, ok, t in answers if ok and a == trajectory.answer}
            trajectory.trust = next((t for t in TRUST_ORDER if t in trusts), "") if trajectory.solved else ""
        trajectory.status = "solved" if trajectory.solved else "unsolved"
        trajectory.certificates = backing(trajectory)
        if failure and failure[0] == "refused" and not answers:
            trajectory.status = "refused"
        trajectory.finished_at = time.time()
        if self.abandon.is_set():
            raise Abandoned  # not scored, nothing retracted: --resume runs it again
        options = self.settings.session_options()
        if self.scorer_blocks:
            result = await self._blocking(
                score, self.scorer, trajectory.answer, sample.answer, trajectory, options, self.plugins
            )
        else:
            result = score(self.scorer, trajectory.answer, sample.answer, trajectory, options, self.plugins)
        # An answer scored wrong never teaches.
        trajectory.reusable = may_teach(trajectory.trust, self.settings.reuse_model_accepted) and result.correct
        outcome = failure[0] if failure and not result.correct else outcome_of(trajectory, result, self.limits)
        evidence = tool_evidence(trajectory) if outcome == "wrong" and verified(trajectory.trust) else None
        if evidence is not None:
            outcome = "disputed"  # a tool's sound check says the answer holds: the gold may be wrong
        retracting = None
        if not result.correct and trajectory.answer is not None and outcome != "disputed":
            # An answer shown wrong: earlier runs that gave it stop teaching, and their made tools go.
            retracting = writer.retract(sample.question, trajectory.answer)
        details = {
            **({"evidence": evidence} if evidence is not None else {}),
            **result.detail,
            **({"failure": failure[1]} if failure else {}),
            **({"category": sample.metadata["category"]} if sample.metadata.get("category") else {}),
            **({"trust": trajectory.trust} if trajectory.trust else {}),
        }
        latency = time.monotonic() - started
        committed = writer.finish(
            trajectory, score=1.0 if result.correct else 0.0, outcome=outcome, details=details, latency_s=latency
        )
        row = {
            "sample": sample.id,
            "outcome": outcome,
            "correct": result.correct,
            "answer": trajectory.answer,
            "trust": trajectory.trust,
            "tokens": trajectory.usage.total_tokens,
            "cost_usd": trajectory.usage.cost_usd,
            "latency_s": latency,
        }

        async def settled() -> dict[str, Any]:
            if await asyncio.wrap_future(committed) == ALREADY_SCORED:  # counted done only once its result is in
                raise AlreadyScored(sample.id)
            retracted = (await asyncio.wrap_future(retracting)) if retracting is not None else 0
            return {**row, **({"retracted_made_tools": retracted} if retracted else {})}

        return settled

    async def _attempt(
        self, client: MeteredClient, sample: Sample, main: Trajectory, sink: Any
    ) -> tuple[str | None, bool, str]:
        """One strategy run: (answer, accepted, trust); its steps go into the sample's trajectory as they happen.

        ``direct`` and ``pal`` have no verifier: their answers are unchecked. All three run on the event
        loop; ``pal`` and the graph leave it only for blocking tool work (kernel cells, solvers, Lean),
        which goes to the run's bounded pool.
        """
        sub = Trajectory(problem=sample.question, model=client.model)
        strategy = self.config.strategy
        if strategy == "direct":
            await run_direct(client, sample, sub, sink, self.code, self.draws)
            return sub.answer, sub.answer is not None, "unchecked"
        session = ToolSession(options=self.settings.session_options())
        try:
            if strategy == "pal":
                await run_pal(client, self.plugins, sample, sub, session, sink, self.code, self._blocking)
                return sub.answer, sub.answer is not None, "unchecked"
            await self._run_graph(client, sample, sub, session, sink)
            main.stop_reason = sub.stop_reason
            main.certificates.extend(sub.certificates)  # its answer's certificates (kept if that answer wins)
            return sub.answer, sub.solved, sub.trust
        finally:
            # Stopping its kernel (~80 ms) is not the sample's work: it happens beside the next samples.
            self._closer().submit(session.close)

    async def _run_graph(
        self, client: MeteredClient, sample: Sample, sub: Trajectory, session: ToolSession, sink: Any
    ) -> None:
        from ..agents import Budget, SolveRunner

        tool_calls = self.settings.max_tool_calls
        if self.limits.tool_calls is not None:
            tool_calls = min(tool_calls, self.limits.tool_calls)
        graph = SolveRunner(
            client,
            self.plugins,
            Budget(
                max_rounds=self.settings.max_rounds,
                max_tool_calls=tool_calls,
                reuse_model_accepted=self.settings.reuse_model_accepted,
                max_tokens=self.settings.role_max_tokens(),
            ),
            session_options=self.settings.session_options(),
            role_clients={role: client.sibling(c) for role, c in self.role_clients.items()},
        )
        await run_graph(graph, sample, sub, session, sink, self.code, self._blocking)

    def _closer(self) -> ThreadPoolExecutor:
        """Two threads that close finished samples' tool sessions (their kernels) in the background."""
        if self._closing is None:
            self._closing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sg-bench-close")
        return self._closing

    async def _blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in the run's pool for blocking work (kernels, solvers, Lean, the graph).

        The pool has one thread per sample in flight (asyncio's default executor has min(32, cores + 4),
        which on 2 cores would cap -j 16 at 6); ``direct`` never makes it. A graph sample holds a thread
        only while one of its tools runs, never while it waits for the model.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, self.config.jobs), thread_name_prefix="sg-bench")
        # In a copy of this context, as asyncio.to_thread does: a tool's tracing span is its node's child.
        call = functools.partial(contextvars.copy_context().run, fn, *args)
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    def _stop_pools(self) -> None:
        """Wait for the blocking work and the background closes: every kernel of the run is stopped."""
        for pool in (self._pool, self._closing):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._closing = None

    # -- the whole run -----------------------------------------------------------
    async def _run_all(self, samples: list[Sample]) -> list[dict[str, Any]]:
        jobs = max(1, self.config.jobs)
        gate = asyncio.Semaphore(jobs)
        results: list[dict[str, Any]] = []
        # At -j 1 each sample waits for its commit before the next starts: no wait for more writes to batch.
        writer = StoreWriter(self.store, linger=0.0 if jobs == 1 else StoreWriter.LINGER)

        async def one(sample: Sample) -> None:
            async with gate:
                tries = 0
                while True:
                    # Ctrl-C, too many errors, or the run's money spent: no new sample (or retry) starts;
                    # --resume runs it later.
                    if self.stopping.is_set() or self.budget.reached.is_set():
                        return
                    try:
                        settle = await self._run_sample(sample, writer)
                        break
                    except Abandoned:
                        self.abandoned += 1  # left unscored: --resume runs it again, once
                        return
                    except Exception as exc:
                        if not transient(exc):
                            raise  # e.g. a refused API key or an unknown model: every sample would meet it
                        if self._errored(sample, exc, tries):
                            return
                    tries += 1
                if jobs == 1:  # one at a time: each sample sees the last one's writes (recall, retractions)
                    await record(settle)
                    return
            await record(settle)  # the slot is free: the next sample starts while this one's writes commit

        async def record(settle: Callable[[], Awaitable[dict[str, Any]]]) -> None:
            try:
                result = await settle()
            except AlreadyScored:
                self.already_scored += 1
                return
            results.append(result)
            if self.on_result:
                self.on_result(result)

        try:
            await asyncio.gather(*(one(s) for s in samples))
        finally:
            for c in (self.client, *self.role_clients.values()):
                if c is not None:
                    await c.aclose()
            writer.close()
            self._stop_pools()
        return results

    def _errored(self, sample: Sample, exc: BaseException, tries: int) -> bool:
        """A transient error ended an attempt of ``sample``: False to run it again (``--retry-on-error``),
        True once it errored for good (counted, and the run stopped past ``--fail-on-error``)."""
        if tries < self.config.retry_on_error:
            self.errors.retries += 1
            return False
        if self.errors.add(sample.id, exc):
            self.stopping.set()  # as a first Ctrl-C: those in flight finish, none starts
        return True

    def _warm_kernels(self) -> None:
        if self.config.strategy in ("pal", "graph") or self.code:
            # Each plugin gets ready for -j sessions: the python plugin forks one fresh kernel ahead per worker.
            self.plugins.warm(self.settings.session_options(), self.config.jobs)

    def run(self, samples: list[Sample]) -> list[dict[str, Any]]:
        """The synchronous entry point: runs the asyncio core to the end (locally, or on Ray with ``ray``)."""
        self.store.update_run_config(self.run_id or "", skipped=self.config.skipped)
        self.errors.total = self.total
        cfg = self.config
        if cfg.strategy == "direct" and cfg.epochs > 1 and cfg.samples == 1 and not cfg.response_cache:
            self.draws = Draws(samples)
        if self.ray is not None:
            from ._ray import run_on_ray

            return asyncio.run(run_on_ray(self, samples, self.ray))
        self._warm_kernels()
        return asyncio.run(self._run_all(samples))
