"""MCP servers, started once per process, whose tools enter through the plugin manager like any plugin's.

solvegraph is synchronous where tools run, and the MCP SDK is async: the servers live in one
background event loop (an anyio blocking portal), each held open by a task of its own, and a tool
call crosses into that loop and waits for its answer with the server's timeout. A server that fails
to start, crashes, or lists tools that are not valid is one warning line; everything else goes on.

MCP servers are trusted code, like plugins, but a stdio server still runs through the execution seam:
in solvegraph's sandbox (no network unless ``network = true``, no host files but the Python install,
the system's programs and its ``paths``, as the unprivileged user), unless ``sandbox = false``. What it
gets of an environment is only its ``env`` (on top of the sandbox's clean one), never solvegraph's own,
so a model API key is not handed to it by accident.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import mcp_types as types
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from ...config import McpServerConfig
from ...plugins import Tool, ToolResult, hookimpl
from ...sandbox import Limits, SandboxError, clean_env, resolve_sandbox, scratch_dir
from ._options import McpOptions, McpOptionsPlugin

log = logging.getLogger("solvegraph.mcp")

_NETWORK_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/ssl", "/etc/ca-certificates")


@dataclass
class _Server:
    config: McpServerConfig
    session: ClientSession | None = None
    tools: list[types.Tool] = field(default_factory=list)
    error: str = ""  # why it is not usable, for `plugins list` and the warning line
    stop: anyio.Event | None = None
    stderr: Any = None  # the server's stderr, kept to explain a failure
    home: str | None = None  # a sandboxed server's own folder, removed when it stops

    @property
    def running(self) -> bool:
        return self.session is not None and not self.error


class McpServers:
    """The configured servers of this process: started together, shared by every session, stopped at exit."""

    def __init__(
        self,
        configs: tuple[McpServerConfig, ...],
        warn: Callable[[str], None] | None = None,
        sandbox: str = "auto",
        options: McpOptions | None = None,
    ) -> None:
        self.servers = {c.name: _Server(c) for c in configs}
        self.sandbox_mode = sandbox
        self.options = options or McpOptions()
        self._warn = warn or log.warning
        self._portal: BlockingPortal | None = None
        self._portal_cm: Any = None
        self._lock = threading.Lock()
        self._started = False

    # -- lifetime ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Start every server (once); each that fails is one warning line."""
        with self._lock:
            if self._started:
                return
            self._started = True
            if not self.servers:
                return
            self._portal_cm = start_blocking_portal()
            self._portal = self._portal_cm.__enter__()
            atexit.register(self.close)
        # All start at once, then each is waited for: three servers take about as long as the slowest one.
        for server in self.servers.values():
            try:
                self._portal.start_task_soon(self._hold, server)
            except Exception as exc:
                server.error = _first_line(exc)
        for server in self.servers.values():
            if not server.error:
                try:
                    self._portal.call(self._wait_ready, server)
                except Exception as exc:
                    server.error = server.error or _first_line(exc)
            if server.error:
                self._warn(f"MCP server '{server.config.name}' is not available: {server.error}")

    async def _wait_ready(self, server: _Server) -> None:
        with anyio.move_on_after(self.options.start_timeout):
            while server.session is None and not server.error:
                await anyio.sleep(0.01)
        if server.session is None and not server.error:
            server.error = f"did not answer within {self.options.start_timeout:g} s"

    async def _hold(self, server: _Server) -> None:
        """Keep one server's connection open until close(): contexts must open and close in one task."""
        server.stop = anyio.Event()
        try:
            async with self._connect(server) as (read, write), ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                server.tools = list(listed.tools)
                server.session = session
                await server.stop.wait()
        except Exception as exc:
            server.error = _first_line(exc) + _stderr_tail(server)
        finally:
            server.session = None
            if not server.error:
                server.error = "stopped"
            if server.home is not None:
                shutil.rmtree(server.home, ignore_errors=True)

    def _connect(self, server: _Server) -> Any:
        config = server.config
        if config.url is not None:
            return _http(config, self.timeout(config))
        server.stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the server
        argv = [config.command or "", *config.args]
        env = dict(config.env)
        if config.sandbox:
            argv, env = self._sandboxed(server, argv)
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env)
        return stdio_client(params, errlog=server.stderr)

    def _sandboxed(self, server: _Server, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        """``argv`` wrapped by the sandbox, and the (empty) environment bwrap itself starts with."""
        config = server.config
        sandbox = resolve_sandbox(self.sandbox_mode)
        found = shutil.which(argv[0])
        if found is None:
            raise FileNotFoundError(f"no such command: {argv[0]}")
        home = server.home = scratch_dir(f"sg-mcp-{config.name}-")
        sandbox.prepare_dir(home)
        ro = [os.path.dirname(os.path.realpath(found)), *config.paths]
        if config.network:  # name resolution and certificates, which the sandbox otherwise hides
            ro += [
                p for p in ("/etc/resolv.conf", "/etc/hosts", "/etc/ssl", "/etc/ca-certificates") if os.path.exists(p)
            ]
        # The sandbox's clean environment, then the server's own env as configured (trusted, so not allowlisted).
        env = {**clean_env(home=home, tmpdir=sandbox.tmpdir(home)), **dict(config.env)}
        limits = Limits(memory_mb=4096, max_processes=256, address_space_limit=False)
        wrapped = sandbox.wrap([found, *argv[1:]], workdir=home, limits=limits, ro=ro, env=env, network=config.network)
        return wrapped, {}

    def close(self) -> None:
        """Stop every server and the loop they run in (at exit, Ctrl-C included). The next :meth:`start` (or
        :meth:`tools`) starts them afresh: a closed set is not a set whose servers all failed."""
        with self._lock:
            portal, self._portal = self._portal, None
            portal_cm, self._portal_cm = self._portal_cm, None
            self._started = False
        if portal is None:
            return
        atexit.unregister(self.close)
        for server in self.servers.values():
            if server.stop is not None:
                with contextlib.suppress(Exception):
                    portal.call(server.stop.set)
        with contextlib.suppress(Exception):
            portal_cm.__exit__(None, None, None)
        # Each server's state is of the connection just closed; a fresh record per config for the next start.
        self.servers = {name: _Server(server.config) for name, server in self.servers.items()}

    # -- tools ------------------------------------------------------------------------------------
    def tools(self) -> list[Tool]:
        """Each running server's tools, named ``<server>-<tool>`` (OpenAI function names allow no dot)."""
        self.start()
        out = []
        for server in self.servers.values():
            if not server.running:
                continue
            for listed in server.tools:
                out.append(self._tool(server, listed))
        return out

    def _tool(self, server: _Server, listed: types.Tool) -> Tool:
        name = f"{server.config.name}-{listed.name}"

        def call(**arguments: Any) -> ToolResult:
            return self.call(server.config.name, listed.name, arguments)

        schema = dict(listed.input_schema or {"type": "object"})
        schema.pop("title", None)
        return Tool(
            name=name,
            description=(listed.description or listed.title or listed.name).strip(),
            input_schema=schema,
            fn=call,
            timeout=None,
            enforces_timeout=True,  # the call is cancelled on the server at its timeout, not abandoned
            plugin=f"mcp:{server.config.name}",
        )

    def call(self, server_name: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        server = self.servers[server_name]
        if not server.running or self._portal is None:
            return ToolResult.failure(f"the MCP server '{server_name}' is not running: {server.error or 'stopped'}")
        try:
            return self._portal.call(self._call, server, tool, arguments)
        except Exception as exc:
            server.error = server.error or _first_line(exc) + _stderr_tail(server)
            return ToolResult.failure(f"the MCP server '{server_name}' failed: {_first_line(exc)}")

    async def _call(self, server: _Server, tool: str, arguments: dict[str, Any]) -> ToolResult:
        assert server.session is not None
        timeout = self.timeout(server.config)
        with anyio.move_on_after(timeout) as scope:
            # Leaving the scope cancels the request, and the SDK tells the server (notifications/cancelled).
            result = await server.session.call_tool(tool, arguments)
        if scope.cancelled_caught:
            return ToolResult.failure(f"timeout: {server.config.name}-{tool} did not finish within {timeout:g} s")
        return _as_result(result)

    def timeout(self, config: McpServerConfig) -> float:
        """Seconds per call on this server: its own ``timeout``, else ``[tools.mcp] call_timeout``."""
        return config.timeout if config.timeout is not None else self.options.call_timeout

    def status(self) -> list[dict[str, Any]]:
        """For ``plugins list``: each server, whether it runs, its tools or why not."""
        self.start()
        return [
            {
                "server": s.config.name,
                "transport": "http" if s.config.url else "stdio",
                "running": s.running,
                "tools": [f"{s.config.name}-{t.name}" for t in s.tools] if s.running else [],
                "error": "" if s.running else s.error,
            }
            for s in self.servers.values()
        ]


def _as_result(result: types.CallToolResult) -> ToolResult:
    """Text parts joined; other parts noted; ``isError`` as a failure whose error is the server's text."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
        elif isinstance(block, types.ImageContent | types.AudioContent):
            parts.append(f"[{block.type}: {block.mime_type}, {len(block.data) * 3 // 4} bytes, not shown]")
        else:
            parts.append(f"[{getattr(block, 'type', 'content')} not shown]")
    text = "\n".join(parts)
    data = {"structured": result.structured_content} if result.structured_content is not None else {}
    if result.is_error:
        return ToolResult.failure(text or "the MCP tool reported an error", **data)
    return ToolResult.success(text, **data)


@contextlib.asynccontextmanager
async def _http(config: McpServerConfig, timeout: float) -> Any:
    async with (
        httpx2.AsyncClient(headers=dict(config.headers), timeout=timeout) as http,
        streamable_http_client(config.url or "", http_client=http) as streams,
    ):
        yield streams[0], streams[1]


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _first_line(exc.exceptions[0])
    text = str(exc).strip()
    if isinstance(exc, SandboxError) and text:  # already one line that names the sandbox, the path and the fix
        return text.splitlines()[0]
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _stderr_tail(server: _Server) -> str:
    if server.stderr is None:
        return ""
    with contextlib.suppress(Exception):
        server.stderr.seek(0)
        lines = [line.strip() for line in server.stderr.read().splitlines() if line.strip()]
        if lines:
            return f" (its stderr: {lines[-1][:200]})"
    return ""


_PROCESS: dict[tuple[tuple[McpServerConfig, ...], str, McpOptions], McpServers] = {}
_PROCESS_LOCK = threading.Lock()


def servers_for(
    configs: tuple[McpServerConfig, ...], sandbox: str = "auto", options: McpOptions | None = None
) -> McpServers:
    """The process's servers for this configuration: started once, shared by every session and command part."""
    options = options or McpOptions()
    key = (configs, sandbox, options)
    with _PROCESS_LOCK:
        if key not in _PROCESS:
            _PROCESS[key] = McpServers(configs, sandbox=sandbox, options=options)
        return _PROCESS[key]


class McpPlugin(McpOptionsPlugin):
    """Registered on a PluginManager (``manager.register(McpPlugin(servers), "mcp")``): its tools are the
    servers', its options :class:`McpOptions`."""

    def __init__(self, servers: McpServers) -> None:
        self.servers = servers

    @hookimpl
    def solvegraph_tools(self) -> list[Tool]:
        return self.servers.tools()

    @hookimpl
    def solvegraph_close(self) -> None:
        self.servers.close()  # stop every server now rather than at exit
