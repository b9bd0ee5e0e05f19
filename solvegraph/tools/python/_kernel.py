"""One Jupyter kernel process and the execution of a cell in it, with hard limits.

The timeout is enforced on the process, not a thread: interrupt first (by
message), and if the kernel is not idle after a short grace, replace it with a
fresh one. The caller always gets a result and the kernel is usable afterwards.

A cell runs either through jupyter_client's blocking client (:meth:`Kernel.execute`,
for callers in a thread) or its asyncio client (:meth:`Kernel.aexecute`, for the
graph's nodes and the benchmark runner): the async one waits for the kernel on the
event loop, holding no thread while the cell runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import SolvegraphError
from ...plugins import truncate
from ...sandbox import Limits
from ...sandbox._kernels import KernelFactory, KernelProcess

if TYPE_CHECKING:  # jupyter_client (~0.1 s) is imported where a kernel is first talked to, not with the plugin
    from jupyter_client import AsyncKernelClient

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
INTERRUPT_GRACE_S = 1.5
LOG_NAME = "kernel.log"  # in the kernel's run folder: its stdout and stderr (see sandbox/_zygote.py)
LOG_LINES = 6  # of it, shown when the kernel does not start
EXIT_WAIT_S = 5.0


class _Capped:
    """Keeps the head and tail of a stream within ``cap`` characters, counting the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.head = ""
        self.tail = ""
        self.dropped = 0

    def write(self, text: str) -> None:
        room = self.cap - len(self.head)
        if room > 0:
            self.head += text[:room]
            text = text[room:]
        if text:
            self.tail += text
            keep = self.cap // 3
            if len(self.tail) > keep:
                self.dropped += len(self.tail) - keep
                self.tail = self.tail[-keep:]

    def value(self) -> str:
        if not self.dropped:
            return self.head + self.tail
        return f"{self.head}\n... [truncated {self.dropped} characters] ...\n{self.tail}"

    @property
    def truncated(self) -> bool:
        return self.dropped > 0


def _stop_on(loop: asyncio.AbstractEventLoop, client: AsyncKernelClient) -> None:
    """Close an asyncio client's sockets on the loop they are registered with, when it still runs: the
    kernel is often shut down from another thread (a finished sample's session is closed in the background)."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not loop and loop.is_running():
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing is registered any more
            loop.call_soon_threadsafe(client.stop_channels)
            return
    with contextlib.suppress(Exception):
        client.stop_channels()


async def _heard_from(client: AsyncKernelClient, timeout: float, alive: Callable[[], bool]) -> None:
    """Ask the kernel for its info until its answer arrives on iopub: then this client's subscription is live.

    jupyter_client's ``wait_for_ready`` does the same and then drains iopub until 0.2 s pass in silence,
    which would add those 0.2 s to every session's first cell.
    """
    from ...sandbox._client import ask_again_after

    deadline = time.monotonic() + timeout
    asked = {client.kernel_info()}
    while time.monotonic() < deadline:  # checked after every message too: another client's output cannot stall it
        try:
            msg = await client.get_iopub_msg(timeout=ask_again_after(len(asked)))
        except queue.Empty:
            if not alive():
                raise SolvegraphError("the Python kernel died before it answered") from None
            asked.add(client.kernel_info())  # its status went out before the subscription landed: ask again
            continue
        if msg["parent_header"].get("msg_id") in asked and msg["msg_type"] == "status":
            return
    raise SolvegraphError(f"the Python kernel did not answer within {timeout:g} s")


class _Cell:
    """What one cell is producing: its capped streams and result, fed message by message."""

    def __init__(self, cap: int) -> None:
        self.out, self.err, self.res = _Capped(cap), _Capped(cap), _Capped(cap)
        self.result = CellResult()

    def spare(self) -> _Cell:
        """The same streams with a result of its own: what the interrupt itself reports is not the cell's."""
        other = _Cell(1)
        other.out, other.err, other.res = self.out, self.err, self.res
        return other

    def take(self, msg: dict[str, Any], msg_id: str) -> bool:
        """Take one iopub message; True once the cell is idle (finished)."""
        if msg["parent_header"].get("msg_id") != msg_id:
            return False
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            (self.out if content.get("name") == "stdout" else self.err).write(content.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            self.res.write(str(content.get("data", {}).get("text/plain", "")) + "\n")
        elif kind == "error":
            self.result.error_name = content.get("ename", "Error")
            self.result.error_value = content.get("evalue", "")
            self.result.traceback = _ANSI.sub("", "\n".join(content.get("traceback", [])))
        elif kind == "status" and content.get("execution_state") == "idle":
            return True
        return False

    def done(self, started: float, cap: int) -> CellResult:
        result = self.result
        result.stdout, result.stderr, result.result = self.out.value(), self.err.value(), self.res.value()
        result.truncated = self.out.truncated or self.err.truncated or self.res.truncated
        result.traceback, cut = truncate(result.traceback, cap)
        result.truncated |= cut
        result.duration_s = time.monotonic() - started
        return result


@dataclass
class CellResult:
    stdout: str = ""
    stderr: str = ""
    result: str = ""
    error_name: str = ""
    error_value: str = ""
    traceback: str = ""
    timed_out: bool = False
    restarted: bool = False
    crashed: bool = False
    truncated: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.error_name or self.timed_out or self.crashed)

    def text(self) -> str:
        parts = [p for p in (self.stdout, self.result, self.stderr) if p]
        if self.traceback:
            parts.append(self.traceback)
        return "\n".join(p.rstrip("\n") for p in parts)


class Kernel:
    """A fresh ipykernel forked from the sandbox's template, for one session only.

    The kernel lives in its own namespaces (see :mod:`solvegraph.sandbox`); the host
    talks to it over IPC sockets in its run folder. It is never reset and reused:
    a new session gets a new kernel, so nothing one problem did can reach another.
    """

    def __init__(self, factory: KernelFactory, limits: Limits, startup_timeout: float = 60.0) -> None:
        self.factory = factory
        self.limits = limits
        self.output_cap = limits.output_chars
        self.uses = 0
        self.broken = False
        self._startup_timeout = startup_timeout
        self.proc: KernelProcess | None = None
        # One asyncio client per event loop (its sockets belong to the loop), for the kernel process it
        # was made for: a restart replaces the process and so its clients.
        self._async: dict[int, tuple[asyncio.AbstractEventLoop, AsyncKernelClient, KernelProcess]] = {}
        self._async_lock = threading.Lock()
        self._start()

    def _start(self) -> None:
        from ...sandbox._client import connect, wait_ready  # jupyter_client: when a kernel is started

        try:
            with self.factory.starting():
                self.proc = self.factory.spawn(self.limits)
                self.kc = connect(self.proc)
                wait_ready(self.kc, self._startup_timeout)
        except Exception as exc:
            why = _start_failure(self.proc, exc)  # before shutdown, which removes the kernel's log
            self.shutdown()
            raise SolvegraphError(f"could not start the Python kernel{why}") from None

    # -- execution -----------------------------------------------------------
    def execute(self, code: str, timeout: float = 30.0, output_chars: int | None = None) -> CellResult:
        """Run one cell. Never raises for anything the cell does. ``output_chars`` replaces the cap on what
        is kept of each stream, for the host's own cells (code mode's model file), never the model's."""
        self.uses += 1
        started = time.monotonic()
        cap = output_chars or self.output_cap
        cell = _Cell(cap)
        if self.broken:
            self.restart()
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False)
        finished = self._collect(msg_id, started + timeout, cell)
        if not finished:
            if self.is_alive():
                cell.result.timed_out = True
                self.interrupt()
                if not self._collect(msg_id, time.monotonic() + INTERRUPT_GRACE_S, cell.spare()):
                    self.restart()
                    cell.result.restarted = True
            else:
                cell.result.crashed = True
                self.restart()
                cell.result.restarted = True
        self._drain_shell()
        return cell.done(started, cap)

    async def aexecute(self, code: str, timeout: float = 30.0) -> CellResult:
        """:meth:`execute` on the running event loop: the same limits and results, no thread held."""
        self.uses += 1
        started = time.monotonic()
        cell = _Cell(self.output_cap)
        if self.broken:
            await asyncio.to_thread(self.restart)
        client = await self._async_client()
        msg_id = client.execute(code, store_history=False, allow_stdin=False)
        finished = await self._acollect(client, msg_id, started + timeout, cell)
        if not finished:
            if self.is_alive():
                cell.result.timed_out = True
                self.interrupt()
                if not await self._acollect(client, msg_id, time.monotonic() + INTERRUPT_GRACE_S, cell.spare()):
                    await asyncio.to_thread(self.restart)
                    cell.result.restarted = True
            else:
                cell.result.crashed = True
                await asyncio.to_thread(self.restart)
                cell.result.restarted = True
        return cell.done(started, self.output_cap)

    async def _async_client(self) -> AsyncKernelClient:
        """This loop's asyncio client for the current kernel process, connected and heard from.

        It waits for the kernel to answer once on iopub: a SUB socket that has only just connected misses
        what is published before its subscription lands, so the cell's output would be lost.
        """
        loop = asyncio.get_running_loop()
        with self._async_lock:
            for key, (other, old, proc) in list(self._async.items()):
                if other.is_closed() or proc is not self.proc:
                    del self._async[key]
                    _stop_on(other, old)
            found = self._async.get(id(loop))
        if found is not None and found[0] is loop:
            return found[1]
        assert self.proc is not None
        # The process-wide context, as for the blocking client (sandbox/_client.py: a context of its own
        # blocks the garbage collector for good if a socket of it is still open).
        import zmq.asyncio
        from jupyter_client import AsyncKernelClient

        client = AsyncKernelClient(connection_file=self.proc.connection_file, context=zmq.asyncio.Context.instance())
        client.load_connection_file()
        client.start_channels(stdin=False, hb=False)
        await _heard_from(client, self._startup_timeout, self.proc.is_alive)
        with self._async_lock:
            self._async[id(loop)] = (loop, client, self.proc)
        return client

    def interrupt(self) -> None:
        """Interrupt by message: a signal from the host cannot cross the kernel's PID namespace."""
        msg = self.kc.session.msg("interrupt_request", content={})
        self.kc.control_channel.send(msg)

    def _collect(self, msg_id: str, deadline: float, cell: _Cell) -> bool:
        """Read iopub until the cell is idle (True) or the deadline or a crash (False)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 0.25))
            except queue.Empty:
                if not self.is_alive():
                    return False
                continue
            if cell.take(msg, msg_id):
                return True

    async def _acollect(self, client: AsyncKernelClient, msg_id: str, deadline: float, cell: _Cell) -> bool:
        """:meth:`_collect` with the asyncio client."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                msg = await client.get_iopub_msg(timeout=min(remaining, 0.25))
            except queue.Empty:
                if not self.is_alive():
                    return False
                continue
            if cell.take(msg, msg_id):
                return True

    def _drain_shell(self) -> None:
        """Drop execute replies already received; iopub carries everything we read."""
        with contextlib.suppress(Exception):
            while self.kc.shell_channel.msg_ready():
                self.kc.get_shell_msg(timeout=0)

    # -- lifecycle -----------------------------------------------------------
    def restart(self) -> None:
        """Replace a dead or stuck kernel with a fresh one (its variables and files are gone)."""
        self.shutdown()
        self.broken = False
        try:
            self._start()
        except SolvegraphError:
            self.broken = True

    def is_alive(self) -> bool:
        return not self.broken and self.proc is not None and self.proc.is_alive()

    def shutdown(self) -> None:
        with self._async_lock:
            clients, self._async = [(loop, c) for loop, c, _ in self._async.values()], {}
        for loop, client in clients:
            _stop_on(loop, client)
        with contextlib.suppress(Exception):
            if getattr(self, "kc", None) is not None:
                self.kc.stop_channels()
        if self.proc is not None:
            self.proc.kill()
            self.proc = None


def _start_failure(proc: KernelProcess | None, exc: Exception) -> str:
    """Why a kernel did not start, in its own words: the last lines of its log (jupyter_client only
    says "Kernel died before replying to kernel_info")."""
    if proc is None:
        return f": {exc}"
    lines: list[str] = []
    with contextlib.suppress(OSError):
        text = (Path(proc.run_dir) / LOG_NAME).read_text(encoding="utf-8", errors="replace")
        lines = [line.rstrip() for line in text.splitlines() if line.strip()][-LOG_LINES:]
    deadline = time.monotonic() + EXIT_WAIT_S  # its exit status follows its death by a moment
    while proc.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.exit_code is not None:
        how = f"it exited with code {proc.exit_code}"
    else:  # jupyter_client saw it die (its RuntimeError) before the template sent the status, or a timeout
        how = "it died" if isinstance(exc, RuntimeError) and "died" in str(exc) else str(exc)
    if not lines:
        return f": {how}, and its {LOG_NAME} is empty"
    tail = f"; its {LOG_NAME} ends with:\n" + "\n".join(f"  {line}" for line in lines) if len(lines) > 1 else ""
    return f": {lines[-1].strip()} ({how}){tail}"


def describe(result: CellResult) -> dict[str, Any]:
    return {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "result": result.result,
        "error_name": result.error_name,
        "timed_out": result.timed_out,
        "restarted": result.restarted,
        "crashed": result.crashed,
    }
