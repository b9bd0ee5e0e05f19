"""The run's parts from its settings, shared by every command and by the Python API (``solvegraph.solve``):
the settings with tracing switched on, the plugin manager with the configured MCP servers, and the graph's
runner with its memory, checkpoints and model client."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

try:  # typer from 0.2x carries its own copy of click, whose exceptions and enums are not click's
    from typer._click import exceptions as click_errors
    from typer._click.core import ParameterSource
except ImportError:  # an older typer drives click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]
    from click.core import ParameterSource  # type: ignore[assignment]

from . import tracing
from .config import Settings, load_settings
from .plugins import PluginManager
from .tools.mcp import McpPlugin, servers_for

if TYPE_CHECKING:
    from .agents import SolveRunner

__all__ = [
    "McpOpt", "ParameterSource", "ToolOpt", "VerifierBaseUrlOpt", "VerifierModelOpt", "click_errors", "close_runner",
    "given", "one_of", "plugin_manager", "settings_for", "solve_runner",
]  # fmt: skip

McpOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mcp",
        metavar="NAME=COMMAND",
        help="Use an MCP server's tools, as NAME=COMMAND (e.g. --mcp time='mcp-server-time'); repeatable. "
        "Its tools are named NAME-TOOL. [[mcp_servers]] in solvegraph.toml configures them for good.",
        show_default=False,
    ),
]

ToolOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tool-opt",
        metavar="PLUGIN.KEY=VALUE",
        help="Set a plugin's option for this run (e.g. --tool-opt lean.lake_path=/opt/lake); repeatable. "
        "[tools.PLUGIN] in solvegraph.toml sets them for good; `solvegraph plugins list` shows each with its default.",
        show_default=False,
    ),
]

# Model roles: the verifier on its own model ([models.ROLE] in solvegraph.toml does any role, for good).
VerifierModelOpt = Annotated[
    str | None,
    typer.Option(
        "--verifier-model", help="The verifier's model [toml [models.verifier] model; default: the solver's]."
    ),
]
VerifierBaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--verifier-base-url",
        help="The verifier's OpenAI-compatible endpoint [toml [models.verifier] base_url; default: the solver's].",
    ),
]


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the user wrote the parameter ``name`` on the command line (not its default or an env var)."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def one_of(*values: str) -> Callable[[str | None], str | None]:
    """A flag's callback that accepts only ``values``: a usage error naming them (exit 2), never a silent no-op."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in values:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(values)}")
        return value

    return check


def settings_for(flags: dict[str, Any], config_file: str | Path | None = None) -> Settings:
    """Settings with ``flags`` over the environment over solvegraph.toml; with ``otel`` on, spans are sent
    (the tracer is set up once per process, however many solves ask for it)."""
    settings = load_settings(flags=flags, config_file=config_file)
    if settings.otel and not tracing.enabled():
        tracing.enable()
    return settings


def plugin_manager(settings: Settings) -> PluginManager:
    """Every installed plugin, plus the MCP servers of ``settings`` (started once per process, on first use)."""
    manager = PluginManager()
    if settings.mcp_servers:
        manager.register(McpPlugin(servers_for(settings.mcp_servers, settings.sandbox)), "mcp", source="mcp_servers")
    manager.check_options(settings.effective_tool_options())  # a bad [tools.NAME] value: one line, at the start
    return manager


def solve_runner(
    settings: Settings,
    *,
    warn: Callable[[str], None],
    run_kind: str = "solve",
    plugins: PluginManager | None = None,
) -> SolveRunner:
    """The graph's runner as ``settings`` describe it; ``warn`` is told what the sandbox does not isolate.

    The order is the errors' order: the sandbox first (``sandbox = bwrap`` on a machine without namespaces
    fails in one line), then the memory (a bad ``db`` fails before any model or kernel is started), then
    the model client (which may start the embedded server). ``plugins`` defaults to :func:`plugin_manager`.
    Close what it opened with :func:`close_runner`.
    """
    from .agents import Budget, SolveRunner
    from .llm import make_client, make_role_clients
    from .memory import Memory, Store, open_checkpointer
    from .sandbox import resolve_sandbox

    backend = resolve_sandbox(settings.sandbox)
    if backend.warning:
        warn(backend.warning)
    plugins = plugins if plugins is not None else plugin_manager(settings)
    store = Store(settings.db) if settings.memory else None
    memory = (
        Memory(store, use_cache=settings.cache, run_kind=run_kind, run_config=settings.run_record())
        if store is not None
        else None
    )
    if "python" in plugins.tools():
        # The kernel template boots (1-3 s, longer under gVisor) while the model loads and plans,
        # not at the first cell. A daemon thread: a solve that never runs code does not wait for it.
        threading.Thread(target=plugins.warm, args=(settings.session_options(), 1), daemon=True, name="sg-warm").start()
    try:
        client = make_client(settings)
        role_clients = make_role_clients(settings)  # planner/verifier/refiner on their own models
        budget = Budget(
            max_rounds=settings.max_rounds,
            max_tool_calls=settings.max_tool_calls,
            reuse_model_accepted=settings.reuse_model_accepted,
            max_tokens=settings.role_max_tokens(),
        )
        # Checkpoints live beside the store (solve --resume); without the memory there is nothing to resume from.
        checkpointer = open_checkpointer(store) if store is not None else None
    except BaseException:
        if store is not None:
            store.close()
        raise
    return SolveRunner(
        client,
        plugins,
        budget,
        session_options=settings.session_options(),
        memory=memory,
        checkpointer=checkpointer,
        role_clients=role_clients,
    )


def close_runner(runner: SolveRunner) -> None:
    """Release what :func:`solve_runner` opened: the model client's synchronous connections, the checkpoints'
    connection and the store's engine.

    The model client's async connections are per event loop and closed as each solve's loop ends; the
    process-wide parts (the embedded model server, the warm kernel pool, MCP servers) are stopped at exit.
    """
    for client in (runner.client, *runner.role_clients.values()):
        close = getattr(client, "close", None)
        if close is not None:
            close()
    connection = getattr(runner.checkpointer, "conn", None)
    if connection is not None:
        connection.close()
    if runner.memory is not None:
        runner.memory.store.close()
