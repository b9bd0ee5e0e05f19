"""One Jupyter kernel process and the execution of a cell in it, with hard limits.

The timeout is enforced on the process, not a thread: interrupt first, and if the
kernel is not idle after a short grace, restart it. The caller always gets a
result and the kernel is usable afterwards.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

from ...errors import SolvegraphError
from ...plugins import truncate

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
INTERRUPT_GRACE_S = 1.5
# Imported while the kernel warms up, off the critical path: %reset clears names but
# not sys.modules, so a session's own "import sympy" is then instant.
PRELOAD = ("numpy", "sympy")


class _SolvegraphSpecs(KernelSpecManager):  # type: ignore[misc]
    """Serves one kernel spec: our rlimit launcher in front of ipykernel."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "solvegraph.tools.python_kernel._launch", "-f", "{connection_file}"],
            display_name="solvegraph python",
            language="python",
            interrupt_mode="signal",
        )


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
    """A started ipykernel over IPC sockets, with its own runtime folder."""

    def __init__(
        self,
        memory_mb: int = 4096,
        output_cap: int = 20_000,
        startup_timeout: float = 60.0,
        preload: tuple[str, ...] = PRELOAD,
    ) -> None:
        self.memory_mb = memory_mb
        self.preload = preload
        self.output_cap = output_cap
        self.uses = 0
        self.broken = False
        self._runtime = tempfile.mkdtemp(prefix="sg-kernel-")
        self.workdir = self._runtime
        self.km = KernelManager(
            kernel_name="solvegraph",
            kernel_spec_manager=_SolvegraphSpecs(),
            transport="ipc",
            ip=os.path.join(self._runtime, "ipc"),
            connection_file=os.path.join(self._runtime, "kernel.json"),
        )
        self._startup_timeout = startup_timeout
        self._start()

    def _start(self) -> None:
        env = {
            **os.environ,
            "SOLVEGRAPH_KERNEL_MEMORY_MB": str(self.memory_mb),
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "MPLBACKEND": "Agg",
        }
        try:
            self.km.start_kernel(cwd=self._runtime, env=env)
            self.kc = self.km.blocking_client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=self._startup_timeout)
        except Exception as exc:
            self.shutdown()
            raise SolvegraphError(f"could not start the Python kernel: {exc}") from None
        if self.preload:
            imports = "\n".join(f"try:\n    import {m}\nexcept Exception:\n    pass" for m in self.preload)
            self.execute(imports, timeout=self._startup_timeout)

    # -- execution -----------------------------------------------------------
    def execute(self, code: str, timeout: float = 30.0) -> CellResult:
        """Run one cell. Never raises for anything the cell does."""
        self.uses += 1
        started = time.monotonic()
        out, err, res = _Capped(self.output_cap), _Capped(self.output_cap), _Capped(self.output_cap)
        result = CellResult()
        msg_id = self.kc.execute(code, store_history=True, allow_stdin=False)
        finished = self._collect(msg_id, started + timeout, out, err, res, result)
        if not finished:
            if self.km.is_alive():
                result.timed_out = True
                self.km.interrupt_kernel()
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

    def _collect(
        self, msg_id: str, deadline: float, out: _Capped, err: _Capped, res: _Capped, result: CellResult
    ) -> bool:
        """Read iopub until the cell is idle (True) or the deadline or a crash (False)."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                msg = self.kc.get_iopub_msg(timeout=min(remaining, 0.5))
            except queue.Empty:
                if not self.km.is_alive():
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
        while self.kc.shell_channel.msg_ready():
            self.kc.get_shell_msg(timeout=0)

    # -- lifecycle -----------------------------------------------------------
    def reset(self, workdir: str) -> None:
        """Clear the namespace and move into ``workdir``: a clean kernel for a new session."""
        code = f"__import__('solvegraph.tools.python_kernel._in_kernel', fromlist=['_']).reset({workdir!r})"
        result = self.execute(code, timeout=10)
        if not result.ok:
            self.broken = True
            raise SolvegraphError(f"could not reset the Python kernel: {result.error_value or 'timeout'}")
        self.workdir = workdir
        self.uses = 0

    def restart(self) -> None:
        try:
            self.km.restart_kernel(now=True)
            self.kc.wait_for_ready(timeout=self._startup_timeout)
        except Exception:
            self.broken = True
            return
        self._drain_shell()
        if self.workdir != self._runtime:
            self.execute(f"__import__('os').chdir({self.workdir!r})", timeout=10)

    def is_alive(self) -> bool:
        return not self.broken and self.km.is_alive()

    def shutdown(self) -> None:
        try:
            if getattr(self, "kc", None) is not None:
                self.kc.stop_channels()
            if self.km.has_kernel:
                self.km.shutdown_kernel(now=True)
        except Exception:
            pass
        shutil.rmtree(self._runtime, ignore_errors=True)


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
