"""One Jupyter kernel process and the execution of a cell in it, with hard limits.

The timeout is enforced on the process, not a thread: interrupt first (by
message), and if the kernel is not idle after a short grace, replace it with a
fresh one. The caller always gets a result and the kernel is usable afterwards.
"""

from __future__ import annotations

import contextlib
import queue
import re
import time
from dataclasses import dataclass
from typing import Any

from jupyter_client import BlockingKernelClient

from ...errors import SolvegraphError
from ...plugins import truncate
from ...sandbox import Limits
from ...sandbox._kernels import KernelFactory, KernelProcess

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
INTERRUPT_GRACE_S = 1.5


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
        self._start()

    def _start(self) -> None:
        try:
            self.proc = self.factory.spawn(self.limits)
            self.kc = BlockingKernelClient(connection_file=self.proc.connection_file)
            self.kc.load_connection_file()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=self._startup_timeout)
        except Exception as exc:
            self.shutdown()
            raise SolvegraphError(f"could not start the Python kernel: {exc}") from None

    # -- execution -----------------------------------------------------------
    def execute(self, code: str, timeout: float = 30.0) -> CellResult:
        """Run one cell. Never raises for anything the cell does."""
        self.uses += 1
        started = time.monotonic()
        out, err, res = _Capped(self.output_cap), _Capped(self.output_cap), _Capped(self.output_cap)
        result = CellResult()
        if self.broken:
            self.restart()
        msg_id = self.kc.execute(code, store_history=False, allow_stdin=False)
        finished = self._collect(msg_id, started + timeout, out, err, res, result)
        if not finished:
            if self.is_alive():
                result.timed_out = True
                self.interrupt()
                if not self._collect(msg_id, time.monotonic() + INTERRUPT_GRACE_S, out, err, res, CellResult()):
                    self.restart()
                    result.restarted = True
            else:
                result.crashed = True
                self.restart()
                result.restarted = True
        self._drain_shell()
        result.stdout, result.stderr, result.result = out.value(), err.value(), res.value()
        result.truncated = out.truncated or err.truncated or res.truncated
        result.traceback, cut = truncate(result.traceback, self.output_cap)
        result.truncated |= cut
        result.duration_s = time.monotonic() - started
        return result

    def interrupt(self) -> None:
        """Interrupt by message: a signal from the host cannot cross the kernel's PID namespace."""
        msg = self.kc.session.msg("interrupt_request", content={})
        self.kc.control_channel.send(msg)

    def _collect(
        self, msg_id: str, deadline: float, out: _Capped, err: _Capped, res: _Capped, result: CellResult
    ) -> bool:
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
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                (out if content.get("name") == "stdout" else err).write(content.get("text", ""))
            elif kind in ("execute_result", "display_data"):
                res.write(str(content.get("data", {}).get("text/plain", "")) + "\n")
            elif kind == "error":
                result.error_name = content.get("ename", "Error")
                result.error_value = content.get("evalue", "")
                result.traceback = _ANSI.sub("", "\n".join(content.get("traceback", [])))
            elif kind == "status" and content.get("execution_state") == "idle":
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
        with contextlib.suppress(Exception):
            if getattr(self, "kc", None) is not None:
                self.kc.stop_channels()
        if self.proc is not None:
            self.proc.kill()
            self.proc = None


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
