"""``solvegraph runs ...`` and ``solvegraph memory ...``: reading the trajectory store."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from .._vocabulary import TRAJECTORY_STATUSES, dollars
from ..errors import SolvegraphError
from ._console import console, shown
from ._options import one_of
from ._settings import open_store

runs_app = typer.Typer(help="Stored runs and their trajectories.", no_args_is_help=True, rich_markup_mode=None)
memory_app = typer.Typer(
    help="The trajectory memory: statistics, search and made tools.", no_args_is_help=True, rich_markup_mode=None
)

out = console()
Db = Annotated[str | None, typer.Option("--db", help="Memory database URL [env SOLVEGRAPH_DB].")]
Json = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def switched_model(run_id: str, recorded: str | None, given: str | None, switch: bool) -> str | None:
    """The model a resumed run goes on with: its own, unless ``--switch-model`` names another.

    A resume that silently answered on another model would credit that model's answers to the run's;
    so a different ``--model`` is refused without the flag. With it, :func:`record_switch` writes the
    switch into the run's settings once the new model is known to be served, and each step records the
    model that answered it.
    """
    if switch and not given:
        raise SolvegraphError("--switch-model needs --model NAME: the model to go on with")
    if not given or not recorded or given == recorded:
        return recorded or given
    if not switch:
        raise SolvegraphError(
            f"run {run_id[:12]} ran on model {recorded!r}: to go on with {given!r} add --switch-model "
            "(the switch is recorded), or drop --model"
        )
    return given


def record_switch(store: Any, run_id: str, recorded: str | None, now: str) -> None:
    """Write a model switch into the run's settings (from, to, when); nothing when the model is the run's own."""
    if not recorded or not now or recorded == now:
        return
    from datetime import UTC, datetime

    switches = list(store.run_config(run_id).get("model_switches") or [])
    switches.append({"from": recorded, "to": now, "at": datetime.now(UTC).isoformat(timespec="seconds")})
    store.update_run_config(run_id, model=now, model_switches=switches)


@runs_app.command("list")
def runs_list(
    db: Db = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first.")] = 20,
    as_json: Json = False,
) -> None:
    """Recent runs: status, the start of the (first) problem, trajectory and solved counts."""
    rows = open_store(db).runs(limit)
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title="solvegraph runs")
    for col in ("id", "kind", "status", "problem", "model", "dataset", "created", "trajectories", "solved"):
        table.add_column(col, overflow="fold" if col == "problem" else "ellipsis")
    for r in rows:
        problem = " ".join((r["problem"] or "-").split())
        table.add_row(
            r["id"][:12],
            r["kind"],
            shown(r["status"]),
            shown(problem if len(problem) <= 50 else problem[:49] + "…"),
            shown(r["model"]),
            shown(r["dataset"] or "-"),
            (r["created_at"] or "")[:19],
            str(r["trajectories"]),
            str(r["solved"]),
        )
    (out if out.is_terminal else Console(width=160)).print(table)  # piped: a row per line, not folded to 80


@runs_app.command("show")
def runs_show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="Run or trajectory id (a prefix is enough).")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """The full trajectory (or every trajectory of a run), readable."""
    store = open_store(db)
    _, ids = store.resolve(ident)
    trajectories = [store.load(i) for i in ids]
    if as_json:
        print(json.dumps([t.to_dict() for t in trajectories], default=str))
        return
    for t in trajectories:
        u = t.usage
        out.print(
            Panel(
                f"{shown(t.problem)}\n\n[bold]answer[/]: {shown(str(t.answer))}   [bold]status[/]: {t.status}"
                f"{' (' + t.trust + ')' if t.trust else ''}   "
                f"[bold]tokens[/]: {u.total_tokens} ({u.calls} model calls)"
                f"{f'   [bold]cost[/]: {dollars(u.cost_usd)}' if u.cost_usd is not None else ''}"
                f"   [bold]model[/]: {shown(t.model)}",
                title=f"trajectory {t.id}",
                title_align="left",
            )
        )
        for i, step in enumerate(t.steps):
            # Model and tool text is data: escaped, so a '[/x]' in it is shown, never read as markup.
            body = []
            if step.reasoning.strip():  # collapsed: its size, not its text (--json has it whole)
                tokens = f", {step.usage.reasoning_tokens} tokens" if step.usage.reasoning_tokens else ""
                body.append(f"[dim]▸ reasoning ({len(step.reasoning)} characters{tokens}; --json shows it)[/]")
            body += [shown(step.reply.strip())] if step.reply.strip() else []
            for retry in step.reply_meta.get("retries", []):
                body.append(f"[yellow]cut off at max_tokens={shown(str(retry.get('max_tokens')))}: asked again[/]")
            for problem in step.reply_meta.get("problems", []):
                body.append(f"[red]unreadable[/] {shown(str(problem))}")
            for call, result in zip(step.tool_calls, step.tool_results, strict=False):
                args = call.get("arguments")
                arguments_text = args.get("code") if isinstance(args, dict) and "code" in args else json.dumps(args)
                body.append(f"[cyan]→ {shown(str(call.get('name')))}[/]\n{shown(str(arguments_text))}")
                status = "[green]ok[/]" if result.get("ok") else f"[red]error[/] {shown(str(result.get('error')))}"
                body.append(f"[cyan]← {status}[/]\n{shown(str(result.get('output', '')))}")
            if step.verdict:
                mark = "ACCEPT" if step.verdict.get("accepted") else "REJECT"
                how = ", ".join(str(step.verdict[k]) for k in ("source", "trust") if step.verdict.get(k))
                body.append(f"[magenta]verdict {mark}[/] ({shown(how)}): {shown(str(step.verdict.get('feedback')))}")
            timing = ", ".join(f"{k} {v:.2f}s" for k, v in step.timings.items())
            out.print(
                Panel(
                    "\n".join(body) or "(empty)",
                    title=f"{i} · {step.agent} · round {step.round}",
                    subtitle=f"{step.usage.total_tokens} tokens · {timing}",
                    title_align="left",
                ),
                highlight=False,
                markup=True,
            )


@runs_app.command("export")
def runs_export(
    ident: Annotated[str, typer.Argument(metavar="ID", help="Run or trajectory id.")],
    jsonl: Annotated[bool, typer.Option("--jsonl", help="One trajectory per line (the format).")] = True,
    samples: Annotated[
        bool,
        typer.Option(
            "--samples",
            help="One row per sample of the run instead: id, question, gold, answer, outcome, trust, model, "
            "tokens, cost, latency (a solve or chat turn: its trajectory id, no gold, its status as outcome).",
        ),
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="With --samples: jsonl or csv.")] = "jsonl",
    db: Db = None,
) -> None:
    """Write the run's trajectories as JSON Lines to stdout, one complete trajectory per line (with a
    "certificates" list when its answer is tool-verified); with --samples, one row per sample as JSON Lines
    or CSV."""
    if fmt not in ("jsonl", "csv"):
        raise SolvegraphError(f"--format {fmt!r}: jsonl or csv")
    if fmt != "jsonl" and not samples:
        raise SolvegraphError("--format csv is for --samples; the trajectories are exported as JSON Lines")
    store = open_store(db)
    run_id, ids = store.resolve(ident)
    if samples:
        from ..bench.samples import sample_rows, to_csv, to_jsonl

        if not run_id.startswith(ident):
            raise SolvegraphError(f"--samples exports a run: {ident!r} is a trajectory of run {run_id}")
        (run,) = store.runs(1, run_id=run_id)
        rows = sample_rows(store, run_id, run["kind"])
        sys.stdout.write(to_csv(rows) if fmt == "csv" else to_jsonl(rows))
        return
    for i in ids:
        record = store.load(i).to_dict()
        certificates = store.certificates(i)
        if certificates:  # a tool-verified answer's certificates (`solvegraph verify` reads this export)
            record["certificates"] = [c.to_dict() for c in certificates]
        print(json.dumps(record, default=str))


Yes = Annotated[bool, typer.Option("--yes", "-y", help="Delete without asking.")]


def _confirm_delete(what: str, yes: bool) -> None:
    """Ask on a terminal; without one, --yes is required (a script must say it means it)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise SolvegraphError(f"refusing to delete {what} without confirmation: pass --yes")
    if not typer.confirm(f"Delete {what}?", default=False, err=True):
        print("nothing deleted", file=sys.stderr)
        raise typer.Exit(1)


def _trajectories(n: int) -> str:
    return f"{n} trajector{'y' if n == 1 else 'ies'}"


def _report_deleted(counts: dict[str, int], as_json: bool) -> None:
    if as_json:
        print(json.dumps(counts))
    else:
        print(", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in counts.items()) + " deleted")


@runs_app.command("delete")
def runs_delete(
    ident: Annotated[str, typer.Argument(metavar="ID", help="Run or trajectory id (a prefix is enough).")],
    db: Db = None,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Delete a run (or one trajectory) with its steps and the tools made from it."""
    store = open_store(db)
    run_id, ids = store.resolve(ident)
    label = f"trajectory {ids[0]}" if len(ids) == 1 and not run_id.startswith(ident) else f"run {run_id}"
    _confirm_delete(f"{label} ({_trajectories(len(ids))})", yes)
    _report_deleted(store.delete_trajectories(ids), as_json)


@memory_app.command("prune")
def memory_prune(
    older_than: Annotated[
        float | None, typer.Option("--older-than", metavar="DAYS", help="Trajectories started more than DAYS ago.")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            callback=one_of(*TRAJECTORY_STATUSES),
            help=f"Trajectories with this status: {', '.join(TRAJECTORY_STATUSES)}.",
        ),
    ] = None,
    db: Db = None,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Delete old or failed trajectories (both filters apply when both are given), with their steps and tools."""
    if older_than is not None and not 0 <= older_than < float("inf"):
        raise SolvegraphError(f"--older-than must be a number of days >= 0, not {older_than:g}")
    store = open_store(db)
    ids = store.select_for_prune(older_than_days=older_than, status=status)
    if not ids:
        _report_deleted({"trajectories": 0}, as_json)
        return
    _confirm_delete(_trajectories(len(ids)), yes)
    _report_deleted(store.delete_trajectories(ids), as_json)


@memory_app.command("stats")
def memory_stats(db: Db = None, as_json: Json = False) -> None:
    """Counts of runs, problems, trajectories (and verified ones), steps and made tools."""
    stats = open_store(db).stats()
    if as_json:
        print(json.dumps(stats))
        return
    table = Table(title="solvegraph memory", show_header=False)
    for k, v in stats.items():
        table.add_row(k, str(v))
    out.print(table)


@memory_app.command("search")
def memory_search(
    query: Annotated[str, typer.Argument(help="Text to look for (full-text, BM25).")],
    db: Db = None,
    k: Annotated[int, typer.Option("-k", help="How many results.")] = 5,
    verified: Annotated[bool, typer.Option("--verified", help="Only verified trajectories.")] = False,
    as_json: Json = False,
) -> None:
    """Stored problems most similar to TEXT, with their latest answer."""
    hits = open_store(db).search(query, k=k, verified_only=verified)
    if as_json:
        print(json.dumps(hits))
        return
    table = Table(title=f"memory search: {query}")
    for col in ("trajectory", "verified", "answer", "problem"):
        table.add_column(col)
    for h in hits:
        table.add_row(
            (h["trajectory"] or "-")[:12],
            "yes" if h["verified"] else "no",
            shown(str(h["answer"])),
            shown(h["problem"][:100]),
        )
    out.print(table)


@memory_app.command("tools")
def memory_tools(db: Db = None, as_json: Json = False) -> None:
    """Tools made from verified code, with their use and success counts."""
    from ..memory.toolmaking import list_tools

    rows = list_tools(open_store(db))
    if as_json:
        print(json.dumps(rows))
        return
    table = Table(title="made tools")
    for col in ("signature", "uses", "successes", "failures", "rank", "docstring"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            shown(r["signature"]),
            str(r["uses"]),
            str(r["successes"]),
            str(r["failures"]),
            str(r["rank"]),
            shown((r["docstring"] or "").splitlines()[0]) if r["docstring"] else "",
        )
    out.print(table)
