"""``solvegraph bench``: strategies over a dataset, concurrently, limited, scored, resumable.

Every sample's trajectory is written to the memory store step by step and its
result the moment it is scored, so a crashed or stopped run continues with
``--resume RUN_ID``: finished samples are kept and none is run twice. Hitting a
per-sample limit (wall time, tokens, model calls, tool calls) is a scored outcome.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from ..config import Settings
from ..errors import ModelConnectionError, PromptRefusedError, SolvegraphError
from ..llm import ModelClient, Reply, make_client
from ..memory import Store, Trajectory, may_teach
from ..plugins import PluginManager, ToolSession
from .datasets import Dataset, Sample
from .scorers import Score, Scorer
from .strategies import check_strategy, run_direct, run_graph, run_pal


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


class MeteredClient:
    """The model client with one sample's limits checked before every call."""

    def __init__(
        self, inner: ModelClient, limits: Limits, started: float, abandon: threading.Event | None = None
    ) -> None:
        self.inner, self.limits, self.started, self.abandon = inner, limits, started, abandon
        self.calls = 0
        self.tokens = 0

    @property
    def model(self) -> str:
        return self.inner.model

    @property
    def base_url(self) -> str:
        return self.inner.base_url

    @property
    def identity(self) -> str:
        return self.inner.identity

    def chat(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None, max_tokens: int | None = None
    ) -> Reply:
        if self.abandon is not None and self.abandon.is_set():
            raise Abandoned
        lim = self.limits
        if lim.wall_s is not None and time.monotonic() - self.started > lim.wall_s:
            raise LimitExceeded("wall time", f"{lim.wall_s:g} s")
        if lim.model_calls is not None and self.calls >= lim.model_calls:
            raise LimitExceeded("model calls", str(lim.model_calls))
        if lim.tokens is not None and self.tokens >= lim.tokens:
            raise LimitExceeded("tokens", str(lim.tokens))
        reply = self.inner.chat(messages, tools, max_tokens)
        if self.abandon is not None and self.abandon.is_set():
            raise Abandoned  # abandoned while the model answered: the reply is dropped with the sample
        self.calls += 1
        self.tokens += reply.usage.total_tokens
        return reply


@dataclass
class BenchConfig:
    """Everything needed to run (and resume) a benchmark; stored with the run."""

    dataset: str
    data: str | None = None
    question_fields: list[str] = field(default_factory=list)
    answer_field: str | None = None
    scorer: str | None = None
    strategy: str = "graph"
    samples: int = 1
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
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def resolve_dataset(plugins: PluginManager, config: BenchConfig) -> Dataset:
    if config.dataset == "jsonl":
        from .builtin import jsonl_dataset

        if not config.data or not config.question_fields or not config.answer_field:
            raise SolvegraphError("the jsonl dataset needs --data FILE, --question-field F and --answer-field F")
        return jsonl_dataset(config.question_fields, config.answer_field, config.scorer or "numeric")
    datasets = plugins.datasets()
    if config.dataset not in datasets:
        raise SolvegraphError(f"unknown dataset {config.dataset!r}; known: {', '.join(sorted([*datasets, 'jsonl']))}")
    dataset = datasets[config.dataset]
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
TRUST_ORDER = ("tool-verified", "model-accepted", "unchecked")


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
    import inspect

    wanted = inspect.signature(scorer.score).parameters
    extra: dict[str, Any] = {}
    if "trajectory" in wanted:
        extra["trajectory"] = trajectory.to_dict()
    if "options" in wanted:
        extra["options"] = options or {}
    if "plugins" in wanted:
        extra["plugins"] = plugins
    return scorer.score(prediction, gold, **extra)


def outcome_of(trajectory: Trajectory, result: Score, limits: Limits) -> str:
    if result.correct:
        return "correct"
    calls = [r for s in trajectory.steps for r in s.tool_results if s.agent != "memory"]
    if "tool-call budget" in trajectory.stop_reason and limits.tool_calls is not None:
        return "limit"
    if calls and not calls[-1].get("ok"):
        return "timeout" if str(calls[-1].get("error", "")).startswith("timeout") else "tool_error"
    return "wrong"


def majority(answers: list[str | None]) -> str | None:
    counted = Counter(a for a in answers if a is not None)
    return counted.most_common(1)[0][0] if counted else None


class BenchRunner:
    def __init__(
        self,
        config: BenchConfig,
        settings: Settings,
        store: Store,
        *,
        run_id: str | None = None,
        on_result: Any = None,
        plugins: PluginManager | None = None,
    ) -> None:
        check_strategy(config.strategy)
        if config.select not in ("majority", "verifier"):
            raise SolvegraphError("--select must be majority or verifier")
        if config.select == "verifier" and config.strategy != "graph":
            raise SolvegraphError("--select verifier ranks samples by the verifier's verdict: use --strategy graph")
        self.config, self.settings, self.store = config, settings, store
        self.plugins = plugins or PluginManager()
        self.dataset = resolve_dataset(self.plugins, config)
        self.scorer = resolve_scorer(self.plugins, config.scorer or self.dataset.scorer)
        self.dataset.ready(settings.session_options())
        self.limits = Limits(**config.limits)
        self.on_result = on_result
        # Ctrl-C once: start no new sample and finish those in flight; twice: abandon those too.
        self.stopping = threading.Event()
        self.abandon = threading.Event()
        self.abandoned = 0
        self.run_id = run_id
        self.code = False
        self.client: ModelClient | None = None

    def prepare(self) -> list[Sample]:
        """Load and filter the samples, start (or reopen) the run; returns the samples still to do."""
        loaded = self.dataset.load(self.config.data or "")
        self.config.skipped = loaded.skipped
        samples = select_samples(loaded.samples, self.config)
        self.code = any(s.metadata.get("kind") == "code" for s in samples)
        if self.settings.samples_temperature is not None and self.config.samples > 1:
            self.settings.temperature = self.settings.samples_temperature
        self.client = make_client(self.settings)
        if self.config.response_cache:
            self.client.cache = self.store  # replies keyed on model, messages and parameters

        if self.run_id is None:
            self.config.model = self.client.model
            self.run_id = self.store.start_run("bench", self.client.model, self.config.dataset, self.config.to_dict())
            self.total = len(samples)
            return samples
        done = self.store.finished_samples(self.run_id)
        self.store.abandon_unfinished(self.run_id)
        self.total = len(samples)
        return [s for s in samples if s.id not in done]

    # -- one sample --------------------------------------------------------------
    def run_sample(self, sample: Sample) -> dict[str, Any]:
        assert self.client is not None and self.run_id is not None
        started = time.monotonic()
        client = MeteredClient(self.client, self.limits, started, self.abandon)
        trajectory = Trajectory(problem=sample.question, model=self.client.model)
        self.store.begin(trajectory, self.run_id, dataset_id=sample.id, gold=json.dumps(sample.answer, default=str))

        def sink(t: Trajectory, step: Any) -> None:
            if t is not trajectory:
                trajectory.steps.append(step)
            self.store.add_step(trajectory.id, len(trajectory.steps) - 1, step)

        answers: list[tuple[str | None, bool, str]] = []
        failure: tuple[str, str] | None = None
        try:
            for _ in range(max(1, self.config.samples)):
                answers.append(self._attempt(client, sample, trajectory, sink))
        except LimitExceeded as exc:
            failure = ("limit", str(exc))
        except PromptRefusedError as exc:
            failure = ("refused", str(exc))  # this sample's prompt, not the endpoint: the run goes on
        except ModelConnectionError:
            raise  # after the client's own retries: the endpoint is down, stop the run (it can be resumed)
        except Exception as exc:
            failure = ("error", f"{type(exc).__name__}: {exc}")
        if answers:
            pool = [a for a, ok, _ in answers if ok] if self.config.select == "verifier" else []
            trajectory.answer = majority(pool or [a for a, _, _ in answers])
            trajectory.solved = any(ok for a, ok, _ in answers if a == trajectory.answer)
            trusts = {t for a, ok, t in answers if ok and a == trajectory.answer}
            trajectory.trust = next((t for t in TRUST_ORDER if t in trusts), "") if trajectory.solved else ""
        trajectory.status = "solved" if trajectory.solved else "unsolved"
        if failure and failure[0] == "refused" and not answers:
            trajectory.status = "refused"
        trajectory.finished_at = time.time()
        if self.abandon.is_set():
            raise Abandoned  # not scored, nothing retracted: --resume runs it again
        options = self.settings.session_options()
        result = score(self.scorer, trajectory.answer, sample.answer, trajectory, options, self.plugins)
        # An answer scored wrong never teaches.
        trajectory.reusable = may_teach(trajectory.trust, self.settings.reuse_model_accepted) and result.correct
        retracted = 0
        if not result.correct and trajectory.answer is not None:
            # An answer shown wrong: earlier runs that gave it stop teaching, and their made tools go.
            retracted = self.store.retract_answer(sample.question, trajectory.answer)
        outcome = failure[0] if failure and not result.correct else outcome_of(trajectory, result, self.limits)
        details = {
            **result.detail,
            **({"failure": failure[1]} if failure else {}),
            **({"category": sample.metadata["category"]} if sample.metadata.get("category") else {}),
            **({"trust": trajectory.trust} if trajectory.trust else {}),
            **({"retracted_made_tools": retracted} if retracted else {}),
        }
        latency = time.monotonic() - started
        self.store.finish(
            trajectory, score=1.0 if result.correct else 0.0, outcome=outcome, details=details, latency_s=latency
        )

        return {
            "sample": sample.id,
            "outcome": outcome,
            "correct": result.correct,
            "answer": trajectory.answer,
            "trust": trajectory.trust,
            "tokens": trajectory.usage.total_tokens,
            "latency_s": latency,
        }

    def _attempt(
        self, client: MeteredClient, sample: Sample, main: Trajectory, sink: Any
    ) -> tuple[str | None, bool, str]:
        """One strategy run: (answer, accepted, trust); its steps go into the sample's trajectory as they happen.

        ``direct`` and ``pal`` have no verifier: their answers are unchecked.
        """
        sub = Trajectory(problem=sample.question, model=client.model)
        strategy = self.config.strategy
        if strategy == "direct":
            run_direct(client, sample, sub, sink, self.code)
            return sub.answer, sub.answer is not None, "unchecked"
        with ToolSession(options=self.settings.session_options()) as session:
            if strategy == "pal":
                run_pal(client, self.plugins, sample, sub, session, sink, self.code)
                return sub.answer, sub.answer is not None, "unchecked"
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
                ),
                session_options=self.settings.session_options(),
            )
            run_graph(graph, sample, sub, session, sink, self.code)
            main.stop_reason = sub.stop_reason
            return sub.answer, sub.solved, sub.trust

    # -- the whole run -----------------------------------------------------------
    async def _run_all(self, samples: list[Sample]) -> list[dict[str, Any]]:
        jobs = max(1, self.config.jobs)
        gate = asyncio.Semaphore(jobs)
        results: list[dict[str, Any]] = []
        # Our own pool: asyncio.to_thread's default executor has min(32, cores + 4) threads, which on a
        # 2-core machine silently capped -j 16 at 6 problems in flight.
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="sg-bench") as pool:

            async def one(sample: Sample) -> None:
                async with gate:
                    if self.stopping.is_set():  # Ctrl-C: no new sample starts; --resume runs it later
                        return
                    try:
                        result = await loop.run_in_executor(pool, self.run_sample, sample)
                    except Abandoned:
                        self.abandoned += 1  # left unscored: --resume runs it again, once
                        return
                results.append(result)
                if self.on_result:
                    self.on_result(result)

            await asyncio.gather(*(one(s) for s in samples))
        return results

    def run(self, samples: list[Sample]) -> list[dict[str, Any]]:
        if self.config.strategy in ("pal", "graph") or self.code:
            from ..tools.python_kernel import default_pool

            # One fresh kernel ready per worker, forked ahead from the template (never reused across problems).
            default_pool(
                memory_mb=self.settings.kernel_memory_mb, size=self.config.jobs, sandbox=self.settings.sandbox
            ).warm()

        self.store.update_run_config(self.run_id or "", skipped=self.config.skipped)
        return asyncio.run(self._run_all(samples))
