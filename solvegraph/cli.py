"""The ``solvegraph`` command: solve, chat, plugins.

Exit codes of ``solve``: 0 answered and tool-verified (a tool's sound check: the Lean judge, the
optimization re-check), 3 answered and model-accepted (only the verifier model said so), 4 answered
but unchecked (mechanical checks only, or no clear verdict), 1 not solved within budget, 2 usage,
configuration or connection error. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Annotated, Any, NamedTuple

import typer
from rich.table import Table
from rich.text import Text

from . import __version__
from ._cli_bench import bench_app
from ._cli_chat import EXIT_WORDS, Approval, TurnDisplay, open_lines
from ._cli_data import data_app
from ._cli_memory import memory_app, open_store, record_switch, runs_app, switched_model
from ._cli_sandbox import sandbox_app
from ._console import EventPrinter, check_sandbox, console, outcome_words, safe, shown
from ._wiring import (
    McpOpt,
    ToolOpt,
    VerifierBaseUrlOpt,
    VerifierModelOpt,
    click_errors,
    given,
    plugin_manager,
    settings_for,
    solve_runner,
)
from .config import Settings, load_settings
from .errors import PromptRefusedError, SolvegraphError
from .plugins import ToolSession
from .tools.mcp import servers_for
from .types import Trajectory, dollars, last_model

app = typer.Typer(
    help="LLM agents that solve problems by calling real tools: a planner, solver, verifier and refiner.\n\n"
    "With no --base-url, an embedded SmolLM2-135M model runs offline; it proves the plumbing but cannot "
    "solve hard problems: point --base-url at a capable OpenAI-compatible endpoint for real work.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts are plain: "[env SOLVEGRAPH_LEAN]" and "[options]" were eaten as rich markup.
    rich_markup_mode=None,
)
plugins_app = typer.Typer(help="Inspect tool plugins.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(plugins_app, name="plugins")
app.add_typer(runs_app, name="runs")
app.add_typer(memory_app, name="memory")
app.add_typer(bench_app, name="bench")
app.add_typer(data_app, name="data")
mcp_app = typer.Typer(
    help="Serve solvegraph's checked tools to MCP clients.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(mcp_app, name="mcp")
app.add_typer(sandbox_app, name="sandbox")


err = console(stderr=True)
out = console()

Model = Annotated[str | None, typer.Option("--model", help="Model name [env SOLVEGRAPH_MODEL].", show_default=False)]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 "
        "[env SOLVEGRAPH_BASE_URL]. Unset: the embedded model.",
        show_default=False,
    ),
]
ApiKey = Annotated[str | None, typer.Option("--api-key", help="API key [env OPENAI_API_KEY].", show_default=False)]
ModelPath = Annotated[
    str | None, typer.Option("--model-path", help="GGUF file for the embedded server instead of SmolLM2.")
]
ConfigFile = Annotated[str | None, typer.Option("--config", help="Settings file (default: ./solvegraph.toml).")]
MaxRounds = Annotated[int | None, typer.Option("--max-rounds", help="Solver/verifier rounds before giving up [3].")]
MaxToolCalls = Annotated[int | None, typer.Option("--max-tool-calls", help="Tool calls per problem [8].")]
CellTimeout = Annotated[float | None, typer.Option("--cell-timeout", help="Seconds per Python cell [30].")]
LeanProject = Annotated[
    str | None,
    typer.Option("--lean-project", help="Lake project with Mathlib for the lean tool [env SOLVEGRAPH_LEAN_PROJECT]."),
]
Db = Annotated[
    str | None,
    typer.Option("--db", help="Memory database URL (sqlite:///file or postgresql://...) [env SOLVEGRAPH_DB]."),
]
NoMemory = Annotated[bool, typer.Option("--no-memory", help="Neither store this run nor use past ones.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not reuse a verified answer to the same problem.")]
SandboxOpt = Annotated[
    str | None,
    typer.Option(
        "--sandbox",
        help="How model-written code is isolated: auto (bubblewrap, else gVisor, else a warning), "
        "gvisor or bwrap (fail if it cannot), none [env SOLVEGRAPH_SANDBOX; "
        "default auto]. `solvegraph sandbox check` shows what each isolates.",
    ),
]
ReuseModelAccepted = Annotated[
    bool,
    typer.Option(
        "--reuse-model-accepted",
        help="Let answers only the verifier model accepted become worked examples, cache answers and made "
        "tools (by default only tool-verified ones do) [toml reuse_model_accepted].",
    ),
]
Otel = Annotated[
    bool,
    typer.Option(
        "--otel",
        help="Send OpenTelemetry spans (solve, node, model call, tool call) over OTLP/HTTP; also on when "
        "OTEL_EXPORTER_OTLP_ENDPOINT is set. Needs solvegraph[otel].",
    ),
]
ModelProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--model-profile",
        help="The model's profile (dialect of its tool calls, reasoning, sampling): auto (from the model's name), "
        "none, qwen, deepseek-r1, llama-3, mistral or gpt-oss [toml model_profile; default auto].",
    ),
]
LeanPath = Annotated[
    str | None, typer.Option("--lean-path", help="lean executable for the lean tool [env SOLVEGRAPH_LEAN].")
]


# The model-calling commands' flags that map one-to-one onto Settings fields.
_SETTING_FLAGS = (
    "mcp",
    "tool_opt",
    "verifier_model",
    "verifier_base_url",
    "model",
    "base_url",
    "api_key",
    "model_path",
    "max_rounds",
    "max_tool_calls",
    "cell_timeout",
    "lean_project",
    "lean_path",
    "db",
    "sandbox",
    "model_profile",
)


def _settings(params: dict[str, Any], recorded: dict[str, Any] | None = None) -> Settings:
    """Settings from a command's own parameters (its locals()), so no declared flag can be left out;
    ``recorded`` (a resumed run's own settings) stands where no flag was given."""
    flags = {k: params[k] for k in _SETTING_FLAGS}
    flags["memory"] = False if params.get("no_memory") else None
    flags["cache"] = False if params.get("no_cache") else None
    flags["reuse_model_accepted"] = True if params.get("reuse_model_accepted") else None
    flags["otel"] = True if params.get("otel") else None
    for key, value in (recorded or {}).items():
        if flags.get(key) is None:
            flags[key] = value
    return settings_for(flags, params.get("config"))


def _graph(settings: Settings, run_kind: str = "solve") -> Any:
    return solve_runner(settings, run_kind=run_kind, warn=lambda text: err.print(text, markup=False, highlight=False))


SwitchModel = Annotated[
    bool,
    typer.Option(
        "--switch-model",
        help="With --resume: go on with the --model given instead of the run's own; the switch is recorded, "
        "and each step records the model that answered it.",
    ),
]


class Resumed(NamedTuple):
    settings: Settings
    run_id: str
    trajectories: list[str]  # the run's, in the order they started
    model: str | None  # the model it ran on


def _resumed_settings(ctx: typer.Context, params: dict[str, Any], ident: str, kind: str) -> Resumed:
    """The settings a solve or chat run goes on with: those it was stored with (endpoint, model, budgets,
    sandbox), each overridden by a flag given now; a different model only with --switch-model."""
    from .config import RUN_SETTINGS

    store = open_store(params["db"], params["config"])
    try:
        run_id, matches = store.resolve(ident)
        found = store.runs(1, run_id=run_id)[0]["kind"]
        if kind == "chat" and found != "chat":
            raise SolvegraphError(f"run {run_id[:12]} is a {found} run, not a chat: chat --resume continues a chat")
        if kind == "solve" and len(matches) != 1:
            raise SolvegraphError(f"{ident!r} names a run of {len(matches)} solves: give one trajectory id")
        recorded = store.run_config(run_id)
        if not recorded:
            err.print(
                f"run {run_id[:12]} was stored without its settings (an older solvegraph): going on with today's",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        # A flag given now wins over its recorded setting (a moved endpoint: --base-url).
        kept = {k: recorded[k] for k in RUN_SETTINGS if k in recorded and not (k in params and given(ctx, k))}
        # Older runs recorded no settings, but their trajectories always name their model.
        model = recorded.get("model") or (last_model(store.load(matches[-1]).model) if matches else None) or None
        params = {**params, "model": switched_model(run_id, model, params["model"], params["switch_model"])}
    finally:
        store.close()
    return Resumed(_settings(params, kept), run_id, matches, model)


@app.command()
def solve(
    ctx: typer.Context,
    problem: Annotated[str | None, typer.Argument(help="The problem text; '-' reads it from stdin.")] = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="ID",
            help="Continue an interrupted or crashed solve from its last checkpoint (its id, or a unique prefix, "
            "as printed when it started or by 'runs list').",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole trajectory as one JSON object.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Do not show the agents' steps.")] = False,
    model: Model = None,
    mcp: McpOpt = None,
    tool_opt: ToolOpt = None,
    verifier_model: VerifierModelOpt = None,
    verifier_base_url: VerifierBaseUrlOpt = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    model_path: ModelPath = None,
    config: ConfigFile = None,
    max_rounds: MaxRounds = None,
    max_tool_calls: MaxToolCalls = None,
    cell_timeout: CellTimeout = None,
    lean_project: LeanProject = None,
    lean_path: LeanPath = None,
    sandbox: SandboxOpt = None,
    model_profile: ModelProfileOpt = None,
    db: Db = None,
    no_memory: NoMemory = False,
    no_cache: NoCache = False,
    reuse_model_accepted: ReuseModelAccepted = False,
    otel: Otel = False,
    switch_model: SwitchModel = False,
) -> None:
    """Solve one problem and print the answer.

    Exit 0 tool-verified, 3 model-accepted, 4 unchecked, 1 not solved, 2 error.
    """
    if resume is not None and problem is not None:
        raise SolvegraphError("give a problem or --resume ID, not both")
    if resume is None:
        if problem is None:
            raise SolvegraphError("missing the problem text (or --resume ID); see: solvegraph solve --help")
        if problem == "-":
            problem = sys.stdin.read()
        if not problem.strip():
            raise SolvegraphError("the problem is empty; pass the problem text")
    if switch_model and resume is None:
        raise SolvegraphError("--switch-model goes with --resume ID")
    if resume is not None and no_memory:
        raise SolvegraphError("--resume reads the memory store; drop --no-memory")
    resumed = None
    if resume is not None:
        resumed = _resumed_settings(ctx, locals(), resume, "solve")
        settings = resumed.settings
    else:
        settings = _settings(locals())
    graph = _graph(settings)
    printer = None if quiet or as_json else EventPrinter(err)
    if resumed is not None:
        full = resumed.trajectories[0]
        if not quiet:
            err.print(f"resuming {full} from its last checkpoint", markup=False, highlight=False)
        with ToolSession(options=graph.session_options) as session:
            trajectory = _interruptible(lambda: graph.resume(full, session=session, on_event=printer), full, session)
        if graph.memory is not None:  # the new model answered the rest: the switch is recorded
            record_switch(graph.memory.store, resumed.run_id, resumed.model, graph.client.model)
    else:
        trajectory = Trajectory(problem=(problem or "").strip(), model=graph.client.model)
        if not quiet and graph.checkpointer is not None:
            err.print(f"run {trajectory.id} (if stopped: solvegraph solve --resume {trajectory.id[:12]})", markup=False)
        with ToolSession(options=graph.session_options) as session:
            trajectory = _interruptible(
                lambda: graph.solve(trajectory.problem, session=session, on_event=printer, trajectory=trajectory),
                trajectory.id,
                session,
            )
    if as_json:
        out.print_json(trajectory.to_json()) if sys.stdout.isatty() else print(trajectory.to_json())
    elif trajectory.solved:
        print(safe(trajectory.answer) if trajectory.answer is not None else "")
        if not quiet:
            err.print(TRUST_LINES.get(trajectory.trust, trajectory.trust), markup=False, highlight=False)
    elif not quiet:  # stdout holds an answer only when there is one: a script never takes an error for one
        last = f"; its last attempt, not accepted: {safe(trajectory.answer)}" if trajectory.answer else ""
        err.print(f"not solved within budget (exit 1){last}", markup=False, highlight=False)
    raise typer.Exit(exit_code(trajectory.solved, trajectory.trust))


@contextlib.contextmanager
def _ctrl_c_stops_the_cell(session: ToolSession) -> Iterator[None]:
    """While this runs, Ctrl-C interrupts the running cell at once, then raises KeyboardInterrupt as usual.

    LangGraph runs a node in a worker thread and, on KeyboardInterrupt, waits for it to end: without
    this, Ctrl-C took effect only when the cell itself finished or timed out (30 s by default).
    """

    def stop(signum: int, frame: Any) -> None:
        session.interrupt()  # every plugin's solvegraph_interrupt: the python plugin stops the running cell
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (a library caller may run the CLI elsewhere)
        return
    previous = signal.signal(signal.SIGINT, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interruptible(run: Any, trajectory_id: str, session: ToolSession) -> Any:
    """Run a solve; on Ctrl-C stop the running cell, say how to continue, and exit 130."""
    try:
        with _ctrl_c_stops_the_cell(session):
            return run()
    except KeyboardInterrupt:
        err.print(
            f"interrupted; continue with: solvegraph solve --resume {trajectory_id[:12]}", markup=False, highlight=False
        )
        raise typer.Exit(130) from None


TRUST_LINES = {
    "tool-verified": "tool-verified: a tool checked this answer",
    "model-accepted": "model-accepted: only the verifier model checked this answer (exit 3)",
    "unchecked": "unchecked: no tool and no clear model verdict checked this answer (exit 4)",
}


def exit_code(solved: bool, trust: str) -> int:
    """0 tool-verified, 3 model-accepted, 4 unchecked, 1 not solved: a script can tell them apart."""
    if not solved:
        return 1
    return {"tool-verified": 0, "model-accepted": 3}.get(trust, 4)


@app.command()
def chat(
    ctx: typer.Context,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="RUN",
            help="Continue a chat run (its id or a unique prefix, as printed when it ended or by 'runs list') "
            "with its settings and earlier turns; the kernel is new, so earlier variables are gone.",
        ),
    ] = None,
    switch_model: SwitchModel = False,
    model: Model = None,
    mcp: McpOpt = None,
    tool_opt: ToolOpt = None,
    verifier_model: VerifierModelOpt = None,
    verifier_base_url: VerifierBaseUrlOpt = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    model_path: ModelPath = None,
    config: ConfigFile = None,
    max_rounds: MaxRounds = None,
    max_tool_calls: MaxToolCalls = None,
    cell_timeout: CellTimeout = None,
    lean_project: LeanProject = None,
    lean_path: LeanPath = None,
    sandbox: SandboxOpt = None,
    model_profile: ModelProfileOpt = None,
    db: Db = None,
    no_memory: NoMemory = False,
    no_cache: NoCache = False,
    reuse_model_accepted: ReuseModelAccepted = False,
    otel: Otel = False,
    approve: Annotated[
        bool,
        typer.Option(
            "--approve",
            help="Ask before each tool call, shown highlighted: approve, edit it ($VISUAL or $EDITOR on its code, "
            "or its arguments as JSON; a multi-line prompt when neither is set), or reject with a reason.",
        ),
    ] = False,
) -> None:
    """Interactive multi-turn session; each agent's step is shown live. 'exit' or Ctrl-D ends it.

    At a terminal: line editing, arrow-up history (kept per user across sessions), a pasted block of
    lines as one question, Esc-Enter or a trailing backslash for a new line, Ctrl-C to clear the line.
    A spinner shows what runs while a turn goes on. The Python kernel persists across turns, so later
    questions can use earlier variables. Ctrl-C during a turn cancels that turn only (the running cell is
    interrupted; the session goes on). From a pipe, each line is a question.
    """
    if switch_model and resume is None:
        raise SolvegraphError("--switch-model goes with --resume RUN")
    if resume is not None and no_memory:
        raise SolvegraphError("--resume reads the memory store; drop --no-memory")
    history: list[tuple[str, str | None]] = []
    if resume is not None:
        resumed = _resumed_settings(ctx, locals(), resume, "chat")
        graph = _graph(resumed.settings, run_kind="chat")
        if graph.memory is not None:  # the new turns join the same run
            graph.memory.run_id = resumed.run_id
            history = [(t.problem, t.answer) for t in map(graph.memory.store.load, resumed.trajectories)]
        err.print(
            f"continuing chat {resumed.run_id[:12]}: {len(history)} earlier turns (the kernel is new: earlier "
            "variables are gone)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        graph = _graph(_settings(locals()), run_kind="chat")
    lines = open_lines(err)
    display = TurnDisplay(err)
    approver = Approval(err, lines, display) if approve else None
    err.print(
        f"solvegraph chat · model [bold]{shown(graph.client.model)}[/] at {shown(graph.client.base_url)} · "
        f"{shown(lines.keys)}",
        highlight=False,
    )
    earlier = len(history)
    with ToolSession(options=graph.session_options) as session:
        while True:
            line = lines.question()
            if line is None:
                break
            line = line.strip()
            if not line:
                continue
            if line in EXIT_WORDS:
                break
            context = "\n".join(f"Earlier question: {q}\nEarlier answer: {a}" for q, a in history[-5:])
            trajectory = Trajectory(problem=line, model=graph.client.model)
            try:
                # The running cell stops on Ctrl-C; its variables before it stay.
                with _ctrl_c_stops_the_cell(session), display.running():
                    trajectory = graph.solve(
                        line,
                        context=context,
                        session=session,
                        on_event=display.on_event,
                        approver=approver,
                        trajectory=trajectory,
                    )
            except KeyboardInterrupt:
                if graph.checkpointer is not None:  # a cancelled turn is not for --resume: leave no checkpoint
                    graph.checkpointer.delete_thread(trajectory.id)
                err.print("turn cancelled; the session and its kernel go on", markup=False, highlight=False)
                continue
            except PromptRefusedError as exc:
                # Most often a long session outgrowing the context: this question fails, the session does not.
                err.print(f"refused: {exc}; the session goes on", markup=False, highlight=False)
                continue
            history.append((line, trajectory.answer))
            words = outcome_words(trajectory.solved, trajectory.trust)
            status = f"[green]{words}[/]" if trajectory.trust == "tool-verified" else f"[yellow]{words}[/]"
            cost = trajectory.usage.cost_usd
            priced = f" · {dollars(cost)}" if cost is not None else ""
            err.print(f"{status} · {trajectory.usage.total_tokens} tokens{priced} · {len(trajectory.steps)} steps")
            print(f"answer: {safe(trajectory.answer) if trajectory.answer is not None else '(none)'}", flush=True)
    if graph.memory is not None and graph.memory.run_id is not None:
        if resume is not None and len(history) > earlier:  # the other model answered: the switch is recorded
            record_switch(graph.memory.store, graph.memory.run_id, resumed.model, graph.client.model)
        err.print(
            f"chat {graph.memory.run_id[:12]} saved; continue it with: solvegraph chat --resume "
            f"{graph.memory.run_id[:12]}" + (f" --db {shlex.quote(db)}" if db else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@plugins_app.command("list")
def plugins_list(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    sandbox: SandboxOpt = None,
    config: Annotated[str | None, typer.Option("--config", help="A solvegraph.toml to read.")] = None,
    mcp: McpOpt = None,
    tool_opt: ToolOpt = None,
) -> None:
    """Show every plugin found, the tools it offers, any that failed to load, the MCP servers, and the sandbox."""
    from .sandbox import resolve_sandbox

    settings = load_settings(flags={"sandbox": sandbox, "mcp": mcp, "tool_opt": tool_opt}, config_file=config)
    backend = resolve_sandbox(settings.sandbox).describe()
    pm = plugin_manager(settings)
    tools = pm.tools()
    configured = pm.check_options(settings.effective_tool_options())
    servers = servers_for(settings.mcp_servers, settings.sandbox).status() if settings.mcp_servers else []
    rows: list[dict[str, Any]] = [
        {"plugin": p.name, "source": p.source, "ok": p.ok and not p.error, "tools": p.tools, "error": p.error,
         "options": _options_rows(p.options, configured.get(p.name)) if p.options is not None else []}
        for p in pm.plugins.values()
    ]  # fmt: skip
    if as_json:
        print(json.dumps({"plugins": rows, "tools": sorted(tools), "mcp_servers": servers, "sandbox": backend}))
        return
    table = Table(title="solvegraph plugins")
    for col in ("plugin", "status", "tools", "source / error"):
        table.add_column(col)
    for r in rows:
        status = "[green]loaded[/]" if r["ok"] else ("[yellow]partial[/]" if r["tools"] else "[red]failed[/]")
        # Names and errors can come from outside code (an MCP server's stderr): shown as text, never markup.
        table.add_row(Text(r["plugin"]), status, Text(", ".join(r["tools"]) or "-"), Text(r["error"] or r["source"]))
    out.print(table)
    options = Table(title=Text("tool options: [tools.PLUGIN] in solvegraph.toml, --tool-opt PLUGIN.KEY=VALUE"))
    for col in ("option", "type", "default", "this run", "description"):
        options.add_column(col)
    for r in rows:
        for o in r["options"]:
            shown = "-" if o["value"] == o["default"] else json.dumps(o["value"])
            options.add_row(*(Text(x) for x in (f"{r['plugin']}.{o['name']}", o["type"], json.dumps(o["default"]),
                                                  shown, o["description"])))  # fmt: skip
    if options.row_count:
        out.print(options)
    if servers:
        mcp_table = Table(title="MCP servers")
        for col in ("server", "transport", "status", "tools / error"):
            mcp_table.add_column(col)
        for srv in servers:
            state = "[green]running[/]" if srv["running"] else "[red]not running[/]"
            shown_tools = ", ".join(srv["tools"]) or "-"
            mcp_table.add_row(Text(srv["server"]), srv["transport"], state, Text(srv["error"] or shown_tools))
        out.print(mcp_table)
    line = f"sandbox: {backend['backend']} ({backend['reason']}); limits: {backend['limits']}"
    out.print(line, markup=False, highlight=False)
    if backend["warning"]:
        err.print(backend["warning"], markup=False, highlight=False)


def _options_rows(model: Any, values: Any) -> list[dict[str, Any]]:
    """A plugin's options for ``plugins list``: each with its type, default and this run's value."""
    from .plugins import describe_options

    rows = describe_options(model)
    for row in rows:
        value = getattr(values, row["name"], row["default"]) if values is not None else row["default"]
        row["value"] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return rows


@plugins_app.command("new")
def plugins_new(
    name: Annotated[str, typer.Argument(help="Tool name: lowercase letters, digits and '_'.")],
    directory: Annotated[str, typer.Option("--dir", help="Where to create the project folder.")] = ".",
) -> None:
    """Write a ready plugin project: pyproject with the entry point, a typed tool, tests, README."""
    from pathlib import Path

    from .plugins import PluginManager
    from .plugins._scaffold import new_plugin

    installed = PluginManager()  # the installed plugins; MCP servers' tools are prefixed with the server's name
    target = new_plugin(name, Path(directory), set(installed.tools()) | set(installed.plugins))
    err.print(f"created {target}\nnext: pip install -e {target} && solvegraph plugins list")
    print(target)


@mcp_app.command("serve")
def mcp_serve(
    tools: Annotated[
        str | None,
        typer.Option(
            "--tools",
            help="Comma-separated tools to serve (default: python,milp,cp,smt,lean,solve). "
            "Outside plugins' tools are served only when named here.",
        ),
    ] = None,
    max_concurrent: Annotated[
        int, typer.Option("--max-concurrent", min=1, help="Tool calls run at once; more wait their turn.")
    ] = 4,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="Serve streamable HTTP on HOST:PORT (e.g. 127.0.0.1:8765) instead of stdio; each MCP session "
            "gets its own kernel, ended when the session ends.",
        ),
    ] = None,
    model: Model = None,
    mcp: McpOpt = None,
    tool_opt: ToolOpt = None,
    verifier_model: VerifierModelOpt = None,
    verifier_base_url: VerifierBaseUrlOpt = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
    model_path: ModelPath = None,
    config: ConfigFile = None,
    max_rounds: MaxRounds = None,
    max_tool_calls: MaxToolCalls = None,
    cell_timeout: CellTimeout = None,
    lean_project: LeanProject = None,
    lean_path: LeanPath = None,
    sandbox: SandboxOpt = None,
    model_profile: ModelProfileOpt = None,
    db: Db = None,
    no_memory: NoMemory = False,
    no_cache: NoCache = False,
    reuse_model_accepted: ReuseModelAccepted = False,
    otel: Otel = False,
) -> None:
    """Serve over stdio (the client starts this command), or HTTP: python, milp, cp, smt, lean and solve.

    Each client gets its own sandboxed Python kernel, which keeps its variables between calls and is
    killed when the client disconnects. `solve` runs the whole graph against the configured model
    (started only when a solve is asked for) and reports each step as MCP progress. Nothing but the
    protocol is written to stdout.
    """
    from .serve import ToolServer, serve_http, serve_stdio

    settings = _settings(locals())
    check_sandbox(settings.sandbox)
    chosen = [t.strip() for t in tools.split(",") if t.strip()] if tools is not None else None
    try:
        server = ToolServer(
            plugin_manager(settings),
            tools=chosen,
            session_options=settings.session_options(),
            make_runner=lambda: _graph(settings),
            max_concurrent=max_concurrent,
        )
    except ValueError as exc:
        raise SolvegraphError(str(exc)) from None
    if http is None:
        serve_stdio(server)
        return
    host, _, port = http.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SolvegraphError(f"--http expects HOST:PORT, e.g. 127.0.0.1:8765, got {http!r}")
    err.print(f"serving MCP on http://{host}:{port}/mcp (Ctrl-C stops)", markup=False, highlight=False)
    try:
        serve_http(server, host.strip("[]"), int(port))
    except OSError as exc:
        raise SolvegraphError(str(exc)) from None


def _version(value: bool) -> None:
    if value:
        print(f"solvegraph {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")] = False,
) -> None:
    pass


def _on_sigterm(signum: int, frame: Any) -> None:
    # Turn SIGTERM into a normal exit so atexit stops the kernel pool and the embedded server.
    raise SystemExit(128 + signum)


@app.command()
def view(
    db: Annotated[str | None, typer.Option("--db", help="Memory database URL [env SOLVEGRAPH_DB].")] = None,
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free one).")] = 8321,
    no_open: Annotated[bool, typer.Option("--no-open", help="Do not open a browser.")] = False,
    config: Annotated[str | None, typer.Option("--config", help="Settings file.")] = None,
) -> None:
    """Look at runs, their samples and each trajectory in a local web viewer (127.0.0.1 only)."""
    from ._cli_memory import open_store
    from .view import serve

    url = load_settings(flags={"db": db}, config_file=config).db or ""
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        from pathlib import Path

        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise SolvegraphError(f"no memory database at {path}: run a solve or bench first, or pass --db")
    store = open_store(db, config)
    store.stats()  # a file that is not a solvegraph memory fails here, in one line, before the server starts
    with contextlib.suppress(KeyboardInterrupt):
        serve(store, port=port, open_browser=not no_open)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
    # jupyter_client says this when a kernel client is collected with its channels still open: at exit after
    # Ctrl-C, a client whose event loop was cancelled with the solve. Its kernel is stopped by the pool at
    # exit; the line only alarmed users ("warning: Could not destroy zmq context for ...").
    logging.getLogger("traitlets").addFilter(lambda record: not str(record.msg).startswith("Could not destroy zmq"))
    signal.signal(signal.SIGTERM, _on_sigterm)
    # ``bench --ray`` with no address means the cluster Ray finds itself (RAY_ADDRESS, or one started here).
    for i, arg in enumerate(sys.argv):
        if arg == "--ray" and (i + 1 == len(sys.argv) or sys.argv[i + 1].startswith("-")):
            sys.argv.insert(i + 1, "auto")
            break
    try:
        code = app(standalone_mode=False)
    except click_errors.NoArgsIsHelpError as exc:
        exc.show()  # the command's help, as click shows it
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        # One line naming the flag and what it accepts, where click would print usage, a hint and the error.
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        err.print(f"error: {exc.format_message()}{hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except click_errors.ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Abort:
        err.print("aborted", markup=False, highlight=False)
        sys.exit(1)
    except SolvegraphError as exc:
        err.print(f"[red]error:[/] {shown(exc)}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
