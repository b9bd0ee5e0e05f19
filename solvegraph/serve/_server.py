"""An MCP server over solvegraph's tools: a sandboxed kernel per client, solvers with their re-checks, Lean, solve.

Built on the official ``mcp`` SDK's low-level ``Server``: solvegraph's tools already carry JSON
schemas and validate their own arguments, so they are listed and called as they are, through the
same :meth:`Tool.run` the agents use (timeouts, output caps, structured errors).

Lifetime: one :class:`ToolSession` per client. Over stdio the client starts one server process per
connection, so the process's session is the client's own. Over streamable HTTP (``--http``) each MCP
session (its ``Mcp-Session-Id``) gets its own, ended when the client ends the session (HTTP DELETE)
or leaves it idle; a client without a session (the stateless protocol) gets a fresh one per call. In
every case a kernel keeps variables between one client's calls, no other client sees them, and it is
killed when its client goes.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
import mcp_types as types
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from .._version import __version__
from ..agents import SolveRequest
from ..plugins import PluginManager, Tool, ToolResult, ToolSession
from ..types import Event, Trajectory

# Served unless --tools says otherwise: the built-in tools whose answers are checked, and the whole graph.
DEFAULT_TOOLS = ("python", "milp", "cp", "smt", "lean", "solve")
# An HTTP client that leaves without ending its session loses its kernel after this long (the SDK's own
# session idle timeout is set to the same).
IDLE_TIMEOUT_S = 30 * 60.0

SOLVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "problem": {"type": "string", "description": "The problem, in words."},
    },
    "required": ["problem"],
    "additionalProperties": False,
}
SOLVE_DESCRIPTION = (
    "Solve a problem with solvegraph's planner, solver, verifier and refiner, calling its checked tools; "
    "returns the answer, whether it was solved, and how the answer was checked (trust: cross-verified, "
    "tool-verified, model-accepted or unchecked; cross-verified is a tool's check that an independent route agreed "
    "with)."
)


class _Stopped(Exception):
    """The client cancelled a solve: raised from its event callback to end the run at the next step."""


class ToolServer:
    """What one MCP client sees: the chosen tools, one tool session, and at most ``max_concurrent`` calls at once."""

    def __init__(
        self,
        plugins: PluginManager,
        *,
        tools: list[str] | None = None,
        session_options: dict[str, Any] | None = None,
        make_runner: Callable[[], Any] | None = None,
        max_concurrent: int = 4,
    ) -> None:
        available = plugins.tools()
        wanted = list(tools) if tools is not None else [t for t in DEFAULT_TOOLS if t in available or t == "solve"]
        unknown = [n for n in wanted if n not in available and n != "solve"]
        if unknown:
            known = ", ".join(sorted([*available, "solve"]))
            raise ValueError(f"no tool named {', '.join(unknown)} (installed: {known})")
        if "solve" in wanted and make_runner is None:
            wanted.remove("solve")
        self.tools: dict[str, Tool] = {n: available[n] for n in wanted if n != "solve"}
        self.serves_solve = "solve" in wanted
        self.verifiers = plugins.verifiers()
        self._locks: dict[tuple[int, str], threading.Lock] = {}
        self.session = ToolSession(options=session_options)  # stdio's only client
        self.http = False  # set by serve_http: then sessions come from Mcp-Session-Id
        self._sessions: dict[str, tuple[ToolSession, float]] = {}
        self._sessions_lock = threading.Lock()
        self._make_runner = make_runner
        self._runner: Any = None
        self._runner_lock = threading.Lock()
        self._limiter = anyio.CapacityLimiter(max(1, max_concurrent))
        self.server: Server[Any] = Server(
            "solvegraph",
            version=__version__,
            instructions=(
                "Checked tools: python runs in a sandboxed kernel that keeps its variables for this session; "
                "milp/cp re-check the solver's answer; lean checks a proof strictly; solve runs the whole agent graph."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
        )

    # -- MCP handlers ---------------------------------------------------------------------------
    async def _list_tools(self, ctx: Any, params: Any) -> types.ListToolsResult:
        listed = [
            types.Tool(name=t.name, description=t.description, input_schema=t.input_schema) for t in self.tools.values()
        ]
        if self.serves_solve:
            listed.append(types.Tool(name="solve", description=SOLVE_DESCRIPTION, input_schema=SOLVE_SCHEMA))
        return types.ListToolsResult(tools=listed)

    async def _call_tool(self, ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        if params.name == "solve" and self.serves_solve:
            return await self._solve(ctx, arguments)
        tool = self.tools.get(params.name)
        if tool is None:
            return _as_mcp(ToolResult.failure(f"unknown tool '{params.name}'; this server offers {self._names()}"))
        session, per_call = self._session_for(ctx)
        finished = threading.Event()
        with self._sessions_lock:
            lock = self._locks.setdefault((id(session), tool.name), threading.Lock())

        def run() -> ToolResult:
            # One call of a tool at a time per session: two threads reading one kernel's replies would each
            # take the other's output.
            with lock:
                try:
                    return tool.run(arguments, session)
                finally:
                    finished.set()
                    if per_call:
                        self._forget(session)

        try:
            result = await anyio.to_thread.run_sync(run, limiter=self._limiter, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            # The client cancelled: stop the cell instead of letting it run to its timeout, and answer the
            # cancellation only once the call has ended, so the next call finds the kernel idle.
            _interrupt(session)
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(finished.wait, 30.0)
            raise
        verdicts = await anyio.to_thread.run_sync(self._verdicts, tool.name, arguments, result, limiter=self._limiter)
        if verdicts:
            result.data = {**result.data, "verdicts": verdicts}
            rejected = [v for v in verdicts if v["accepted"] is False]
            if rejected and result.ok:  # a solver's answer its re-check refutes is not a successful call
                result.ok = False
                result.error = "; ".join(f"{v['verifier']} rejected the result: {v['feedback']}" for v in rejected)
        return _as_mcp(result)

    def _verdicts(self, name: str, arguments: dict[str, Any], result: ToolResult) -> list[dict[str, Any]]:
        """The plugin verifiers' judgement of this one call (the milp/cp re-check, the lean judge), as data."""
        call = [{"name": name, "arguments": arguments, "result": result.to_dict()}]
        out: list[dict[str, Any]] = []
        for verifier in self.verifiers:
            try:
                said = verifier.check("", call)
            except Exception as exc:  # a broken check is noted and skipped, as in the verifier agent
                out.append(
                    {"verifier": verifier.name, "accepted": None, "feedback": f"the check failed, skipped: {exc}"}
                )
                continue
            if said is not None:
                accepted = said.get("accepted")
                out.append(
                    {
                        "verifier": verifier.name,
                        # True verifies, False rejects, absent is a note only: as the verifier agent reads it.
                        "accepted": None if accepted is None else bool(accepted),
                        "feedback": str(said.get("feedback", "")),
                    }
                )
        return out

    async def _solve(self, ctx: Any, arguments: dict[str, Any]) -> types.CallToolResult:
        problem = arguments.get("problem")
        if not isinstance(problem, str) or not problem.strip():
            return _as_mcp(ToolResult.failure("invalid arguments: problem: a non-empty string is required"))
        stopped = threading.Event()
        steps = 0

        def on_event(event: Event) -> None:
            nonlocal steps
            if stopped.is_set():
                raise _Stopped
            steps += 1
            message = f"{event.agent} · round {event.round} · {event.kind}"
            with contextlib.suppress(Exception):  # a client that went away must not fail the solve
                anyio.from_thread.run(ctx.session.report_progress, float(steps), None, message)

        def run() -> Trajectory:
            with ToolSession(options=self.session.options) as session:  # each solve its own kernel
                return self.runner().solve(SolveRequest(problem=problem.strip(), session=session), on_event=on_event)

        try:
            trajectory = await anyio.to_thread.run_sync(run, limiter=self._limiter, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            stopped.set()
            raise
        except _Stopped:
            return _as_mcp(ToolResult.failure("cancelled"))
        except Exception as exc:  # the model endpoint, the store: one line for the client, never a traceback
            return _as_mcp(ToolResult.failure(f"{type(exc).__name__}: {exc}"))
        data = {
            "answer": trajectory.answer,
            "solved": trajectory.solved,
            "trust": trajectory.trust,
            "status": trajectory.status,
            "steps": len(trajectory.steps),
            "trajectory": trajectory.id,
        }
        text = f"answer: {trajectory.answer}\nsolved: {trajectory.solved} ({trajectory.trust or 'unchecked'})"
        return _as_mcp(ToolResult(trajectory.answer is not None, text, "" if trajectory.answer else "no answer", data))

    # -- helpers --------------------------------------------------------------------------------
    def runner(self) -> Any:
        """The solve runner, made on the first solve: the model (perhaps the embedded one) starts only if needed."""
        with self._runner_lock:
            if self._runner is None:
                assert self._make_runner is not None
                self._runner = self._make_runner()
            return self._runner

    def _names(self) -> str:
        return ", ".join([*self.tools, *(["solve"] if self.serves_solve else [])])

    def _session_for(self, ctx: Any) -> tuple[ToolSession, bool]:
        """The calling client's tool session, and whether it is for this call only."""
        if not self.http:
            return self.session, False
        headers = getattr(getattr(ctx, "request", None), "headers", None)
        sid = headers.get("mcp-session-id") if headers is not None else None
        if not sid:
            return ToolSession(options=self.session.options), True  # no session to keep state in
        now = time.monotonic()
        idle: list[ToolSession] = []
        with self._sessions_lock:
            for other, (_, used) in list(self._sessions.items()):
                if other != sid and now - used > IDLE_TIMEOUT_S:  # a client that left without saying so
                    idle.append(self._sessions.pop(other)[0])
            session = self._sessions[sid][0] if sid in self._sessions else ToolSession(options=self.session.options)
            self._sessions[sid] = (session, now)
        for gone in idle:
            self._forget(gone)
        return session, False

    def _forget(self, session: ToolSession) -> None:
        with self._sessions_lock:
            for key in [k for k in self._locks if k[0] == id(session)]:
                del self._locks[key]
        session.close()

    def end_session(self, sid: str) -> None:
        """The client ended its MCP session: its kernel and solver processes are killed."""
        with self._sessions_lock:
            ended = self._sessions.pop(sid, None)
        if ended is not None:
            self._forget(ended[0])

    def close(self) -> None:
        """End every client's session: their kernels and solver processes are killed."""
        with self._sessions_lock:
            sessions, self._sessions = [s for s, _ in self._sessions.values()], {}
        for session in [self.session, *sessions]:
            session.close()

    async def run_stdio(self) -> None:
        try:
            async with stdio_server() as (read, write):
                await self.server.run(read, write, self.server.create_initialization_options())
        finally:
            self.close()


def _interrupt(session: ToolSession) -> None:
    session.interrupt()  # every plugin's solvegraph_interrupt: the python plugin stops the running cell


def _as_mcp(result: ToolResult) -> types.CallToolResult:
    """A ToolResult as MCP sees it: the rendered text, the whole result as structured content, isError."""
    structured = {
        "ok": result.ok,
        "output": result.output,
        "error": result.error,
        "data": result.data,
        "truncated": result.truncated,
        "duration_s": round(result.duration_s, 4),
    }
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=result.render())],
        structured_content=_jsonable(structured),
        is_error=not result.ok,
    )


def _jsonable(value: Any) -> Any:
    """Tool data can hold floats like inf or objects JSON has no word for; MCP needs plain JSON."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    return json.loads(json.dumps(clean(value), default=str))


def serve_stdio(server: ToolServer) -> None:
    """Serve one client over stdin/stdout until it disconnects."""
    anyio.run(server.run_stdio)


class _EndSessions:
    """ASGI wrapper: when a client ends its MCP session (HTTP DELETE with its Mcp-Session-Id), end its kernel."""

    def __init__(self, app: Any, server: ToolServer) -> None:
        self.app, self.server = app, server

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope.get("type") == "http" and scope.get("method") == "DELETE":
            sid = dict(scope.get("headers") or []).get(b"mcp-session-id")
            if sid:
                await anyio.to_thread.run_sync(self.server.end_session, sid.decode("latin-1"))


def serve_http(server: ToolServer, host: str, port: int) -> None:
    """Serve many clients over streamable HTTP on ``host:port`` until stopped; each MCP session its own kernel."""
    with socket.socket() as probe:  # a clear line for a busy port, before uvicorn logs a traceback-like error
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    server.http = True
    app = server.server.streamable_http_app(host=host, session_idle_timeout=IDLE_TIMEOUT_S)
    config = uvicorn.Config(_EndSessions(app, server), host=host, port=port, log_level="warning", lifespan="on")
    try:
        uvicorn.Server(config).run()
    finally:
        server.close()
