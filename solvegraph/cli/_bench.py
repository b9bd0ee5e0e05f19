"""``solvegraph bench``: run a benchmark, resume one, report on it, compare two."""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .._vocabulary import STRATEGIES
from ..errors import SolvegraphError
from . import _collector as collector
from ._console import console, safe, shown
from ._memory import open_store, record_switch, switched_model
from ._options import SHARED_OPTIONS, SolvingOptions, given, one_of, solving_options
from ._settings import settings_from

err = console(stderr=True)
out = console()


class _DefaultRun(TyperGroup):
    """`bench DATASET ...` and `bench --resume ID` mean `bench run ...`; `report` and `compare` stay commands.

    ``--ray`` with no address means the cluster Ray finds itself (RAY_ADDRESS, or one started here): typer
    has no option whose value may be left out, so the bench's own arguments read a bare ``--ray`` as
    ``--ray auto`` here (the process's ``sys.argv`` is left as it was).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, _ray_address(args))


def _ray_address(args: list[str]) -> list[str]:
    """``args`` with ``auto`` after a ``--ray`` given no address (last, or followed by another option)."""
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            return [*args[: i + 1], "auto", *args[i + 1 :]]
    return args


bench_app = typer.Typer(
    cls=_DefaultRun,
    help="Run agents over a benchmark; report and compare runs.\n\n`solvegraph bench DATASET --data FILE [options]` "
    "is short for `bench run` (see `solvegraph bench run --help`); `solvegraph bench --resume RUN_ID` continues a "
    "stopped run.",
    no_args_is_help=False,
    rich_markup_mode=None,
)


def _bench_run(store: Any, ident: str) -> dict[str, Any]:
    """The benchmark run ``ident`` names (an id or a unique prefix); a solve or chat run is one clear line."""
    rid, _ = store.resolve(ident)
    run: dict[str, Any] = store.runs(1, run_id=rid)[0]
    if run["kind"] != "bench":
        raise SolvegraphError(
            f"run {rid[:12]} is a {run['kind']} run, not a benchmark: see it with solvegraph runs show {rid[:12]}"
            + (f", or continue it with solvegraph solve --resume {rid[:12]}" if run["kind"] == "solve" else "")
        )
    return run


def _run_row(store: Any, run_id: str) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    run = _bench_run(store, run_id)
    return run, store.run_config(run["id"]), store.results(run["id"])


# What defines a benchmark run: a resume goes on with the run's own values, so giving one anew is refused.
_DEFINES_A_RUN = (
    "dataset", "data", "question_field", "answer_field", "id_field", "category_field", "scorer", "strategy",
    "samples", "epochs", "select", "limit", "split", "ids", "max_seconds", "max_tokens_per_sample", "max_model_calls",
    "max_tool_calls", "response_cache", "model_path", "max_rounds", "cell_timeout",
)  # fmt: skip


def _flag(ctx: Any, name: str) -> str:
    """How the user wrote a parameter: its longest option name, or its metavar for an argument."""
    param = next(p for p in ctx.command.params if p.name == name)
    return max(param.opts, key=len) if param.param_type_name == "option" else param.human_readable_name


@bench_app.command("run")
@solving_options(without=("no_memory", "no_cache", "max_tool_calls"))
def bench_run(
    ctx: typer.Context,
    dataset: Annotated[
        str | None,
        typer.Argument(
            help="gsm8k, math, gsm_hard, asdiv, svamp, mbpp, humaneval, complexor, nl4opt, mamo_easy, mamo_complex, "
            "industryor, optibench, optmath, dcp_bench_open, minif2f, jsonl (and the *_original sets), or one a "
            "plugin adds."
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="The dataset file (or folder, for minif2f). Without it, a dataset with a pinned source "
            "(solvegraph data list) is downloaded on first use into the user cache folder.",
        ),
    ] = None,
    question_field: Annotated[
        str | None,
        typer.Option("--question-field", help="jsonl: question field(s), comma-separated and joined with a space."),
    ] = None,
    answer_field: Annotated[str | None, typer.Option("--answer-field", help="jsonl: the answer field.")] = None,
    id_field: Annotated[
        str | None,
        typer.Option("--id-field", help="jsonl: the sample id's field [default: id or task_id, in any case]."),
    ] = None,
    category_field: Annotated[
        str | None,
        typer.Option("--category-field", help="jsonl: the category's field [default: category or type, any case]."),
    ] = None,
    scorer: Annotated[str | None, typer.Option("--scorer", help="Override the dataset's scorer.")] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", callback=one_of(*STRATEGIES), help="direct, pal or graph.")
    ] = "graph",
    samples: Annotated[int, typer.Option("--samples", min=1, help="Attempts per problem (self-consistency).")] = 1,
    epochs: Annotated[
        int,
        typer.Option(
            "--epochs",
            min=1,
            help="Run each problem K times, each epoch scored and stored on its own (resumable); the summary "
            "adds mean, majority, pass@k, pass^k and at_least_k with 95% intervals.",
        ),
    ] = 1,
    select: Annotated[
        str,
        typer.Option(
            "--select", callback=one_of("majority", "verifier"), help="With --samples: majority, or verifier."
        ),
    ] = "majority",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N samples.")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Only samples of this split (e.g. mbpp: test).")] = None,
    ids: Annotated[str | None, typer.Option("--ids", help="Comma-separated sample ids.")] = None,
    jobs: Annotated[int, typer.Option("-j", "--jobs", min=1, help="Problems in flight at once.")] = 4,
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", min=0.001, help="Per-sample wall-time limit, seconds.")
    ] = None,
    max_tokens_per_sample: Annotated[
        int | None, typer.Option("--max-sample-tokens", min=1, help="Per-sample tokens.")
    ] = None,
    max_model_calls: Annotated[
        int | None, typer.Option("--max-model-calls", min=1, help="Per-sample model calls.")
    ] = None,
    max_tool_calls: Annotated[
        int | None, typer.Option("--max-tool-calls", min=0, help="Per-sample tool calls.")
    ] = None,
    max_cost: Annotated[
        float | None,
        typer.Option(
            "--max-cost",
            min=0.0,
            metavar="DOLLARS",
            help="What the whole run may spend on model calls, in US dollars (needs the model's price under "
            "[prices] in solvegraph.toml). Once spent, no call is made; the samples it stopped stay unscored, "
            "and --resume with a higher --max-cost goes on.",
        ),
    ] = None,
    retry_on_error: Annotated[
        int | None,
        typer.Option(
            "--retry-on-error",
            min=0,
            metavar="N",
            help="Run a sample again, up to N times, when it failed on a transient error (the model endpoint "
            "timed out or answered 5xx after the client's own retries, or the sandbox failed), not a wrong "
            "answer [default 0].",
        ),
    ] = None,
    fail_on_error: Annotated[
        str | None,
        typer.Option(
            "--fail-on-error",
            metavar="COUNT|FRACTION",
            help="Stop the run cleanly once this many samples (e.g. 5) or this share of them (e.g. 0.1) errored "
            "after their retries; errored samples stay unscored and --resume runs them again [default 1].",
        ),
    ] = None,
    response_cache: Annotated[
        bool,
        typer.Option(
            "--response-cache",
            help="Reuse model replies for identical model, messages and parameters (stored in the memory database).",
        ),
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue a stopped run with its own settings: finished samples are kept, none is run twice. "
            "-j, --max-cost, --retry-on-error, --fail-on-error, --base-url and --api-key may be given anew; what "
            "defines "
            "the run may not.",
        ),
    ] = None,
    switch_model: Annotated[
        bool,
        typer.Option(
            "--switch-model",
            help="With --resume: go on with the --model given, not the run's own; the switch is recorded.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="End with one JSON summary line.")] = False,
    opts: SolvingOptions = SHARED_OPTIONS,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="[ADDRESS]",
            help="Run the samples on a Ray cluster (host:port of its head; alone: RAY_ADDRESS or the cluster "
            "started on this machine). Each node runs its share with its own kernels; results land in this "
            "--db. Needs --base-url and solvegraph[ray].",
        ),
    ] = None,
) -> None:
    """Run a strategy over a dataset, score every sample, store results as they complete, print accuracy."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ..agents import plugins_for
    from ..bench.report import accuracy_line, dollars, render_text, summarize
    from ..bench.runner import BenchConfig, BenchRunner, parse_fail_on_error

    store = open_store(opts.db, opts.config)
    fail_at = parse_fail_on_error(fail_on_error)
    if resume:
        fixed = [p for p in _DEFINES_A_RUN if given(ctx, p)]
        if fixed:
            flags = ", ".join(_flag(ctx, p) for p in fixed)
            raise SolvegraphError(f"--resume goes on with the run's own settings: drop {flags} (or start a new run)")
        run_id = _bench_run(store, resume)["id"]
        cfg = BenchConfig.from_dict(store.run_config(run_id))
        # The run goes on with its model, endpoint and budgets (--model-path, --max-rounds and
        # --cell-timeout are refused above); a run stored before they were recorded takes today's settings.
        opts = replace(
            opts,
            model=switched_model(run_id, cfg.model, opts.model, switch_model),
            base_url=opts.base_url or cfg.base_url,
            model_path=cfg.model_path,
            max_rounds=cfg.max_rounds,
            cell_timeout=cfg.cell_timeout,
        )
        if max_cost is not None:  # a resumed run may be given more money
            cfg.max_cost = max_cost
            store.update_run_config(run_id, max_cost=max_cost)
        if given(ctx, "jobs"):  # how many at once: safe to change
            cfg.jobs = jobs
            store.update_run_config(run_id, jobs=jobs)
        for key, value in (("retry_on_error", retry_on_error), ("fail_on_error", fail_at)):
            if value is not None:  # how errors are handled: may be given anew
                setattr(cfg, key, value)
                store.update_run_config(run_id, **{key: value})
    else:
        if switch_model:
            raise SolvegraphError("--switch-model goes with --resume RUN_ID")
        if not dataset:
            raise SolvegraphError("name a dataset (gsm8k, mbpp, nl4opt, ..., jsonl) or pass --resume RUN_ID")
        run_id = None
        limits = {
            k: v
            for k, v in {
                "wall_s": max_seconds,
                "tokens": max_tokens_per_sample,
                "model_calls": max_model_calls,
                "tool_calls": max_tool_calls,
            }.items()
            if v is not None
        }
        cfg = BenchConfig(
            dataset=dataset,
            data=data,
            scorer=scorer,
            strategy=strategy,
            samples=samples,
            epochs=epochs,
            select=select,
            limit=limit,
            split=split,
            jobs=jobs,
            limits=limits,
            question_fields=[f.strip() for f in question_field.split(",")] if question_field else [],
            answer_field=answer_field,
            id_field=id_field,
            category_field=category_field,
            ids=[i.strip() for i in ids.split(",")] if ids else None,
            base_url=opts.base_url,
            model_path=opts.model_path,
            response_cache=response_cache,
            max_cost=max_cost,
            retry_on_error=retry_on_error or 0,
            fail_on_error=fail_at,
        )
    # A resumed run goes on with its own roles' models.
    settings = settings_from(opts, roles=cfg.roles if resume else None)
    from ._console import check_sandbox

    check_sandbox(settings.sandbox)
    cfg.base_url = settings.base_url
    cfg.max_rounds, cfg.cell_timeout = settings.max_rounds, settings.cell_timeout  # recorded for --resume
    cfg.roles = settings.roles_record()
    if resume:
        store.update_run_config(run_id or "", roles=cfg.roles, max_rounds=cfg.max_rounds, cell_timeout=cfg.cell_timeout)
    if not resume and not cfg.data and cfg.dataset != "jsonl":
        from ..bench import registry
        from ._data import fetch

        if cfg.dataset in registry.registered():  # first use: fetched once, with a bar; later runs read the cache
            cfg.data = fetch(cfg.dataset, settings.data_mirror, quiet=as_json and not err.is_terminal)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("acc {task.fields[acc]}"),
        TextColumn("{task.fields[tokens]} tok"),
        TextColumn("{task.fields[cost]}"),
        TimeRemainingColumn(),
        console=err,
        disable=as_json and not err.is_terminal,
    )
    state = {"done": 0, "correct": 0, "tokens": 0}

    def spent() -> str:
        budget = runner.budget
        if runner.client is None or runner.client.price is None:
            return ""
        return dollars(budget.spent) + (f" of {dollars(budget.limit)}" if budget.limit is not None else "")

    def on_result(result: dict[str, Any]) -> None:
        state["done"] += 1
        state["correct"] += result["correct"]
        state["tokens"] += result["tokens"]
        acc = f"{state['correct'] / state['done']:.1%}"
        progress.update(task, advance=1, acc=acc, tokens=state["tokens"], cost=spent())
        if not err.is_terminal and not as_json:
            err.print(safe(f"{result['sample']}: {result['outcome']}"), markup=False, highlight=False, soft_wrap=True)

    runner = BenchRunner(
        cfg, settings, store, run_id=run_id, on_result=on_result, plugins=plugins_for(settings), ray=ray
    )
    todo = runner.prepare()
    if resume and todo:  # the new model is served (checked when its client was made) and will answer: recorded
        record_switch(store, runner.run_id or "", cfg.model, runner.client.model if runner.client else "")
    for line in cfg.skipped[:20]:
        err.print(f"[yellow]skipped[/] {shown(line)}", highlight=False, soft_wrap=True)
    if len(cfg.skipped) > 20:
        err.print(f"[yellow]… and {len(cfg.skipped) - 20} more malformed lines[/]")
    if resume:
        repaired = runner.repaired
        if repaired["named"] or repaired["unscored"]:
            err.print(
                f"repaired run {runner.run_id}: {repaired['named']} scored samples named again from the dataset, "
                f"{repaired['unscored']} scored twice kept once",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        if not todo:
            err.print(
                f"run {runner.run_id} is finished: all {runner.total} samples are scored; nothing to run",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        else:
            err.print(
                f"resuming run {runner.run_id}: {runner.total - len(todo)} of {runner.total} samples already done",
                soft_wrap=True,
            )
    again = f"solvegraph bench --resume {(runner.run_id or '')[:12]}" + (
        f" --db {shlex.quote(opts.db)}" if opts.db else ""
    )
    if ray:
        again += f" --ray {shlex.quote(ray)}"
    err.print(f"run {runner.run_id} (if stopped: {again})", markup=False, highlight=False, soft_wrap=True)

    with progress, _ctrl_c_stops_gently(runner, again):
        task = progress.add_task(
            f"{cfg.dataset}/{cfg.strategy}",
            total=runner.total,
            completed=runner.total - len(todo),
            acc="-",
            tokens=0,
            cost=spent(),
        )
        if runner.budget.reached.is_set() and todo:
            raise SolvegraphError(
                f"this run has spent {dollars(runner.budget.spent)} of its --max-cost {dollars(runner.budget.limit)}: "
                f"{len(todo)} samples left; give a higher --max-cost to go on"
            )
        if todo:
            # What the start made lives until exit: the collector no longer scans it (~40 ms of an 800-sample
            # bench's collections), and collects the samples' garbage as usual.
            collector.started()
            runner.run(todo)
    errors = runner.errors
    store.update_run_config(runner.run_id or "", stopped="fail_on_error" if errors.stopped else None)
    if errors.errored:
        first_id, first = errors.errored[0]
        retried = f" after {runner.config.retry_on_error} retries" if runner.config.retry_on_error else ""
        err.print(
            f"{'stopped: ' if errors.stopped else ''}{len(errors.errored)} samples errored{retried} "
            f"({'reached ' if errors.stopped else 'under '}--fail-on-error: {errors.threshold()}); they stay "
            f"unscored; first: {first_id}: {first}; continue with: {again}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if errors.stopped:
            raise typer.Exit(2)
    if runner.stopping.is_set():
        left = "abandoned" if runner.abandon.is_set() else "finished"
        err.print(
            f"stopped: {state['done']} samples scored this time, those in flight {left}; continue with: {again}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(130)
    if runner.already_scored:
        err.print(
            f"{runner.already_scored} samples were scored first by another process running this run at the same "
            "time: their results here are kept unscored, as duplicates",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    run, config_row, results = _run_row(store, runner.run_id or "")
    summary = summarize(run, config_row, results, store.run_costs([run["id"]])[run["id"]])
    summary["roles"] = store.role_costs(run["id"])  # each agent's calls, tokens, cost and models
    over_budget = runner.budget.reached.is_set() and len(results) < runner.total
    if over_budget:
        summary["stopped"] = "max_cost"
    render_text(summary, err, accuracy=as_json)
    if over_budget:
        err.print(
            f"cost limit reached: {dollars(runner.budget.spent)} spent of {dollars(runner.budget.limit)}; "
            f"{runner.total - len(results)} samples left unscored; go on with: {again} --max-cost DOLLARS",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        print(json.dumps(summary))
    else:
        print(f"{accuracy_line(summary)} · run {summary['run_id']}", flush=True)
    if over_budget:
        raise typer.Exit(3)


@contextlib.contextmanager
def _ctrl_c_stops_gently(runner: Any, again: str) -> Iterator[None]:
    """Ctrl-C once: take no new sample and finish those in flight. Twice: abandon them. Three times: stop now.

    Every sample is either scored and stored, or left unscored for ``--resume`` to run again: none twice.
    """
    presses = 0

    def on_ctrl_c(signum: int, frame: Any) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            runner.stopping.set()
            err.print(
                f"stopping: no new samples; finishing those in flight (Ctrl-C again abandons them). Later: {again}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        elif presses == 2:
            runner.abandon.set()
            err.print(
                "abandoning the samples in flight at their next model call; they stay unscored for --resume",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        else:
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, on_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@bench_app.command("report")
def bench_report(
    run_ids: Annotated[list[str], typer.Argument(metavar="RUN_ID...", help="One or more runs (strategies compared).")],
    html_file: Annotated[Path | None, typer.Option("--html", help="Write a self-contained HTML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summaries as JSON.")] = False,
    db: Annotated[str | None, typer.Option("--db", help="Memory database URL.")] = None,
) -> None:
    """Accuracy with a 95% CI, outcomes, categories, tokens, cost and latency; optionally an HTML report.
    With --json, each run's summary has its samples too (the rows of `runs export --samples`)."""
    from ..bench.report import render_text, summarize
    from ..bench.samples import rows_from_results
    from ..view import render_report

    store = open_store(db)
    rows = [_run_row(store, r) for r in run_ids]
    costs = store.run_costs([run["id"] for run, _, _ in rows])
    summaries = [summarize(run, cfg, res, costs[run["id"]]) for run, cfg, res in rows]
    for summary in summaries:
        summary["roles"] = store.role_costs(summary["run_id"])  # each agent's calls, tokens, cost and models
    if html_file is not None:
        roles = {s["run_id"]: s["roles"] for s in summaries}
        try:
            html_file.write_text(render_report(rows, costs, roles), encoding="utf-8")
        except OSError as exc:
            raise SolvegraphError(f"cannot write {html_file}: {exc.strerror}") from None
        err.print(f"wrote {html_file}")
    if as_json:
        for summary, (_, _, results) in zip(summaries, rows, strict=True):
            summary["samples"] = rows_from_results(results)
        print(json.dumps(summaries))
    elif html_file is None:
        for s in summaries:
            render_text(s, out)


@bench_app.command("compare")
def bench_compare(
    run_a: Annotated[str, typer.Argument(help="First run.")],
    run_b: Annotated[str, typer.Argument(help="Second run.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Annotated[str | None, typer.Option("--db", help="Memory database URL.")] = None,
) -> None:
    """Paired comparison on the samples both runs share, with an exact McNemar test."""
    from ..bench.report import compare

    store = open_store(db)
    (_, _, a), (_, _, b) = _run_row(store, run_a), _run_row(store, run_b)
    result = compare(a, b)
    if result["shared"] == 0:
        raise SolvegraphError("the two runs share no samples")
    if as_json:
        print(json.dumps(result))
        return
    out.print(f"{result['shared']} shared samples: A {result['accuracy_a']:.1%} vs B {result['accuracy_b']:.1%}")
    out.print(
        f"both correct {result['both_correct']}, only A {result['only_a']}, only B {result['only_b']}, "
        f"neither {result['neither']}; McNemar exact p = {result['mcnemar_p']:.3g}"
    )
    sys.stdout.flush()
