"""The ``python`` tool: a real Jupyter kernel per solving session.

Registered through the ``solvegraph`` entry point like any outside plugin.
"""

from __future__ import annotations

import asyncio

from ...plugins import ToolResult, ToolSession, hookimpl, tool
from ._kernel import CellResult, Kernel, describe
from ._pool import default_pool

PROMPT_HINT = (
    "python: runs Python 3 in a persistent Jupyter kernel (variables survive between calls in one problem). "
    "numpy and sympy are installed. Print what you want to see."
)


def session_kernel(session: ToolSession) -> Kernel:
    """The kernel that belongs to this session, taken from the warm pool on first use."""
    pool = default_pool(
        memory_mb=int(session.options.get("kernel_memory_mb", 4096)),
        sandbox=str(session.options.get("sandbox", "auto")),
    )
    return session.resource("python_kernel", pool.acquire, pool.release)


# The solvers' code mode runs its model-building code in this kernel, reached by name through the session.
ToolSession.provide("python.kernel", session_kernel)


@tool(name="python", timeout=None, enforces_timeout=True, prompt_hint=PROMPT_HINT, timeout_option="cell_timeout")
def python(code: str, session: ToolSession) -> ToolResult:
    """Run Python code in a persistent Jupyter kernel and return what it prints.

    Args:
        code: Python source to execute as one cell; the value of a final expression is shown too.
    """
    timeout = float(session.options.get("cell_timeout", 30.0))
    return _result(session_kernel(session).execute(code, timeout=timeout), timeout)


@python.asynchronous
async def python_async(code: str, session: ToolSession) -> ToolResult:
    """The same cell through the kernel's asyncio client: the event loop waits for it, no thread does."""
    timeout = float(session.options.get("cell_timeout", 30.0))
    kernel = session.existing("python_kernel")
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
