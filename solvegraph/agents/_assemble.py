"""The run's parts from its settings, built by one piece of code for every caller: the commands, the
Python API (``solvegraph.solve``), the bench (and its Ray workers) and the MCP server.

:func:`resolve` turns flags (a command's, or the API's keyword arguments), the environment and
solvegraph.toml into :class:`~solvegraph.config.Settings`; :func:`plugins_for` loads the plugins with
the configured MCP servers; :func:`assemble` builds the graph's runner (model clients, memory,
checkpoints) and :func:`close_runner` releases what it opened. Nothing heavy is imported at module
level: ``plugins list`` and ``--help`` load none of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings
    from ..plugins import PluginManager
    from ._run import SolveRunner

__all__ = ["assemble", "close_runner", "plugins_for", "resolve"]


def resolve(
    flags: Mapping[str, Any] | None = None,
    config_file: str | Path | None = None,
    *,
    env: dict[str, str] | None = None,
    trace: bool = True,
) -> Settings:
    """Settings with ``flags`` over the environment over solvegraph.toml. With ``otel`` on and ``trace``
    (a command that runs solves), spans are sent: the tracer is set up once per process, however many
    solves ask for it; a command that only reads the store passes ``trace=False``."""
    from .. import tracing
    from ..config import load_settings

    settings = load_settings(flags=dict(flags or {}), config_file=config_file, env=env)
    if trace and settings.otel and not tracing.enabled():
        tracing.enable()
    return settings


def plugins_for(settings: Settings) -> PluginManager:
    """Every installed plugin, plus the MCP servers of ``settings`` (started once per process, on first use).
    A bad ``[tools.NAME]`` value fails here, in one line, before anything runs."""
    from ..plugins import PluginManager

    manager = PluginManager()
    sections = settings.effective_tool_options()
    if settings.mcp_servers:
        from ..plugins import build_options
        from ..tools.mcp import McpOptions, McpPlugin, servers_for  # the MCP SDK only when a server is configured

        options = build_options(McpOptions, sections.get("mcp", {}))
        servers = servers_for(settings.mcp_servers, settings.sandbox, options)
        manager.register(McpPlugin(servers), "mcp", source="mcp_servers")
    elif "mcp" in sections:  # [tools.mcp] with no server yet: its values are still checked
        from ..tools.mcp import McpOptionsPlugin

        manager.register(McpOptionsPlugin(), "mcp", source="mcp_servers")
    manager.check_options(sections)
    return manager


def assemble(
    settings: Settings,
    *,
    warn: Callable[[str], None],
    run_kind: str = "solve",
    plugins: PluginManager | None = None,
) -> SolveRunner:
    """The graph's runner as ``settings`` describe it; ``warn`` is told what the sandbox does not isolate.

    The order is the errors' order: the sandbox first (``sandbox = bwrap`` on a machine without namespaces
    fails in one line), then the memory (a bad ``db`` fails before any model or kernel is started), then
    the model client (which may start the embedded server). ``plugins`` defaults to :func:`plugins_for`.
    Close what it opened with :func:`close_runner`.
    """
    from ..llm import make_client, make_role_clients
    from ..sandbox import resolve_sandbox
    from ._context import Budget
    from ._run import SolveRunner

    backend = resolve_sandbox(settings.sandbox)
    if backend.warning:
        warn(backend.warning)
    plugins = plugins if plugins is not None else plugins_for(settings)
    store, memory, open_checkpoints = None, None, None
    if settings.memory:  # the store's SQLAlchemy models (~0.25 s) only for a run that has a memory
        from ..memory import Memory, Store, open_checkpointer

        store = Store(settings.db)
        memory = Memory(store, use_cache=settings.cache, run_kind=run_kind, run_config=settings.run_record())
        # Checkpoints live beside the store (solve --resume); without the memory there is nothing to resume
        # from. Opened where the graph is first compiled (LangGraph's saver loads LangGraph), after the
        # first model request is sent.
        open_checkpoints = functools.partial(open_checkpointer, store)
    try:
        client = make_client(settings)
        role_clients = make_role_clients(settings)  # planner/verifier/refiner on their own models
        budget = Budget(
            max_rounds=settings.max_rounds,
            max_tool_calls=settings.max_tool_calls,
            reuse_model_accepted=settings.reuse_model_accepted,
            max_tokens=settings.role_max_tokens(),
        )
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
        role_clients=role_clients,
        open_checkpoints=open_checkpoints,
        warm=True,  # the kernel template boots once the first solve's model request is out
    )


def close_runner(runner: SolveRunner) -> None:
    """Release what :func:`assemble` opened: the model client's synchronous connections, the checkpoints'
    connection and the store's engine.

    The model client's async connections are per event loop and closed as each solve's loop ends; the
    process-wide parts (the embedded model server, the warm kernel pool, MCP servers) are stopped at exit.
    """
    for client in (runner.client, *runner.role_clients.values()):
        close = getattr(client, "close", None)
        if close is not None:
            close()
    connection = getattr(runner.opened_checkpointer(), "conn", None)
    if connection is not None:
        connection.close()
    if runner.memory is not None:
        runner.memory.store.close()
