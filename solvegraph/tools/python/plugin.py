"""The ``python`` tool: a real Jupyter kernel per solving session.

Registered through the ``solvegraph`` entry point like any outside plugin. It declares its options
(``[tools.python]``), offers its kernel to other plugins' tools as a :class:`CodeKernel`, starts kernels
ahead for the bench (``solvegraph_warm``), stops a running cell on Ctrl-C (``solvegraph_interrupt``) and
closes its warm pools (``solvegraph_close``).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from ...plugins import CodeKernel, ToolOptions, ToolResult, ToolSession, hookimpl, tool
from ._kernel import CellResult, Kernel, describe
from ._pool import close_default_pool, default_pool

PROMPT_HINT = (
    "python: runs Python 3 in a persistent Jupyter kernel (variables survive between calls in one problem). "
    "numpy and sympy are installed. Print what you want to see."
)
# The session resource that holds this session's kernel.
KERNEL = "python_kernel"


class PythonOptions(ToolOptions):
    """``[tools.python]``: the limits of each session's kernel."""

    section = "python"

    cell_timeout: float = Field(30.0, gt=0, description="Seconds one cell may run before it is interrupted.")
    memory_mb: int = Field(
        4096, ge=64, description="Memory limit of each kernel, in MB (the kernel_memory_mb setting sets it too)."
    )


def session_kernel(session: ToolSession) -> Kernel:
    """The kernel that belongs to this session, taken from the warm pool on first use."""
    options = session.tool_options(PythonOptions)
    pool = default_pool(memory_mb=options.memory_mb, sandbox=session.sandbox)
    return session.resource(KERNEL, pool.acquire, pool.release)


@dataclass
class _SessionKernel:
    """The :class:`CodeKernel` this plugin offers: the session's kernel and its configured cell limit."""

    session: ToolSession

    @property
    def cell_timeout(self) -> float:
        return self.session.tool_options(PythonOptions).cell_timeout

    def execute(self, code: str, timeout: float, output_chars: int | None = None) -> CellResult:
        return session_kernel(self.session).execute(code, timeout=timeout, output_chars=output_chars)


@tool(name="python", timeout=None, enforces_timeout=True, prompt_hint=PROMPT_HINT, timeout_option="cell_timeout")
def python(code: str, session: ToolSession) -> ToolResult:
    """Run Python code in a persistent Jupyter kernel and return what it prints.

    Args:
        code: Python source to execute as one cell; the value of a final expression is shown too.
    """
    timeout = session.tool_options(PythonOptions).cell_timeout
    return _result(session_kernel(session).execute(code, timeout=timeout), timeout)


@python.asynchronous
async def python_async(code: str, session: ToolSession) -> ToolResult:
    """The same cell through the kernel's asyncio client: the event loop waits for it, no thread does."""
    timeout = session.tool_options(PythonOptions).cell_timeout
    kernel = session.existing(KERNEL)
    if kernel is None:  # the first cell of the session: taking a kernel from the pool may wait for one to start
        kernel = await asyncio.to_thread(session_kernel, session)
    return _result(await kernel.aexecute(code, timeout=timeout), timeout)


def _result(cell: CellResult, timeout: float) -> ToolResult:
    data = describe(cell)
    if cell.timed_out:
        lost = " (the kernel was restarted; variables were lost)" if cell.restarted else ""
        return ToolResult(
            False, cell.text(), f"timeout: the cell ran longer than {timeout:g} s{lost}", data, cell.truncated
        )
    if cell.crashed:
        return ToolResult(
            False,
            cell.text(),
            "the kernel died (crash, killed, or out of memory) and was replaced by a fresh one; variables were lost",
            data,
            cell.truncated,
        )
    if cell.error_name:
        return ToolResult(False, cell.text(), f"{cell.error_name}: {cell.error_value}", data, cell.truncated)
    return ToolResult(True, cell.text(), "", data, cell.truncated)


@hookimpl
def solvegraph_tools() -> list:
    return [python]


@hookimpl
def solvegraph_options() -> type[ToolOptions]:
    return PythonOptions


@hookimpl
def solvegraph_services() -> dict[type, Any]:
    # The solvers' code mode runs its model-building code in this kernel, reached by its interface.
    return {CodeKernel: _SessionKernel}


@hookimpl
def solvegraph_warm(session: ToolSession, concurrency: int) -> None:
    # One fresh kernel ready per concurrent session, forked ahead from the template (never reused across problems).
    options = session.tool_options(PythonOptions)
    default_pool(memory_mb=options.memory_mb, size=concurrency, sandbox=session.sandbox).warm()


@hookimpl
def solvegraph_interrupt(session: ToolSession) -> None:
    kernel = session.existing(KERNEL)
    if kernel is not None:
        with contextlib.suppress(Exception):  # a kernel already gone has nothing to stop
            kernel.interrupt()


@hookimpl
def solvegraph_close() -> None:
    close_default_pool()
