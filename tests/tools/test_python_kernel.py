"""The python tool against a real Jupyter kernel (sandboxed by default where bubblewrap works).

Each behaviour is checked through both ways a cell runs: ``run`` (the blocking client, for callers in
a thread) and ``arun`` (the asyncio client, for the graph's nodes and the benchmark runner).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.sandbox import Limits, SandboxError, process_dir, resolve_sandbox
from solvegraph.sandbox._kernels import KernelFactory, _readline
from solvegraph.tools.python import KernelPool


class _Both:
    """The python tool, called as ``run`` or as ``arun`` on an event loop (one loop for the whole test, as a
    graph run has: the session's asyncio client stays bound to it)."""

    def __init__(self, tool, way: str) -> None:
        self.tool, self.way = tool, way
        self.loop = asyncio.new_event_loop() if way == "arun" else None

    def run(self, arguments, session=None):
        if self.loop is None:
            return self.tool.run(arguments, session)
        return self.loop.run_until_complete(self.tool.arun(arguments, session))

    def close(self) -> None:
        if self.loop is not None:
            self.loop.close()


@pytest.fixture(params=["run", "arun"])
def python_tool(request) -> Iterator[_Both]:
    both = _Both(PluginManager().tools()["python"], request.param)
    yield both
    both.close()


@pytest.fixture
def session() -> Iterator[ToolSession]:
    with ToolSession(options={"cell_timeout": 3}) as s:
        yield s


def test_state_persists_across_cells(python_tool, session) -> None:
    assert python_tool.run({"code": "x = 6 * 7"}, session).ok
    result = python_tool.run({"code": "print(x)\nx + 1"}, session)
    assert result.ok and result.output.split() == ["42", "43"]


def test_new_session_gets_a_fresh_kernel_and_empty_folder(python_tool) -> None:
    with ToolSession() as first:
        python_tool.run({"code": "secret = 1\nopen('f.txt', 'w').write('x')"}, first)
        listed = python_tool.run({"code": "import os; print(sorted(os.listdir('.')))"}, first).output.strip()
        assert "f.txt" in listed
    with ToolSession() as second:
        result = python_tool.run({"code": "secret"}, second)
        assert not result.ok and "NameError" in result.error
        assert "f.txt" not in python_tool.run({"code": "import os; print(os.listdir('.'))"}, second).output


def test_infinite_loop_times_out_and_kernel_stays_usable(python_tool, session) -> None:
    python_tool.run({"code": "kept = 'still here'"}, session)
    result = python_tool.run({"code": "while True: pass"}, session)
    assert not result.ok and result.error.startswith("timeout")
    after = python_tool.run({"code": "print(kept)"}, session)
    assert after.ok and after.output.strip() == "still here"


def test_uninterruptible_cell_restarts_the_kernel(python_tool, session) -> None:
    # SIGINT is ignored, so the interrupt cannot stop it: the kernel must be replaced.
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"
    result = python_tool.run({"code": code}, session)
    assert not result.ok and "restarted" in result.error
    assert python_tool.run({"code": "print(1 + 1)"}, session).output.strip() == "2"


def test_memory_bomb_is_a_memory_error(python_tool, session) -> None:
    result = python_tool.run({"code": "b = bytearray(50 * 10**9)"}, session)
    assert not result.ok and result.error.startswith("MemoryError")
    assert python_tool.run({"code": "print('alive')"}, session).output.strip() == "alive"


def test_huge_print_is_truncated_with_marker(python_tool, session) -> None:
    result = python_tool.run({"code": "print('y' * 2_000_000)"}, session)
    assert result.ok and result.truncated
    assert "[truncated" in result.output and len(result.output) < 30_000


def test_exception_returns_traceback(python_tool, session) -> None:
    result = python_tool.run({"code": "1/0"}, session)
    assert not result.ok and result.error == "ZeroDivisionError: division by zero"
    assert "Traceback" in result.output or "ZeroDivisionError" in result.output


def test_kernel_crash_is_reported_and_recovered(python_tool, session) -> None:
    result = python_tool.run({"code": "import os; os._exit(3)"}, session)
    assert not result.ok and "died" in result.error
    assert python_tool.run({"code": "print(3)"}, session).output.strip() == "3"


def test_pool_never_hands_out_a_used_kernel() -> None:
    pool = KernelPool(size=1)
    try:
        k1 = pool.acquire()
        k1.execute("leak = 1")
        pool.release(k1)
        assert not k1.is_alive(), "a released kernel is killed, never recycled"
        k2 = pool.acquire()
        assert k2 is not k1
        assert k2.execute("leak").error_name == "NameError"
        assert k2.kc.transport == "ipc"
        pool.release(k2)
    finally:
        pool.close()


def _threads_waiting_for_a_cell() -> list[str]:
    """Threads (other than this one) with a cell's execution on their stack: the blocking client's
    ``execute``/``_collect``, or a tool's ``run`` (the pool's kernel start-ups are not that)."""
    waiting = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue
        f = frame
        while f is not None:
            code = f.f_code
            if code.co_filename.endswith(("python/_kernel.py", "plugins/_tool.py")) and code.co_name in (
                "execute", "_collect", "run", "_run", "_invoke", "_call"
            ):  # fmt: skip
                waiting.append(f"{ident}: {code.co_name}")
                break
            f = f.f_back
    return waiting


def test_cells_awaited_on_one_loop_hold_no_thread_while_they_run() -> None:
    """Six sessions' cells run at once on one event loop through the kernel's asyncio client: while they
    sleep in their kernels, no thread waits for any of them."""
    tool = PluginManager().tools()["python"]
    sessions = [ToolSession() for _ in range(6)]
    seen: list[list[str]] = []
    try:
        for s in sessions:  # each takes its kernel first (from the pool, which may start one in a thread)
            assert tool.run({"code": "pass"}, s).ok

        async def main() -> list:
            cells = asyncio.gather(
                *(tool.arun({"code": "import time; time.sleep(1.5); print(7)"}, s) for s in sessions)
            )
            await asyncio.sleep(0.7)
            seen.append(_threads_waiting_for_a_cell())
            return await cells

        results = asyncio.run(main())
    finally:
        for s in sessions:
            s.close()
    assert [r.output.strip() for r in results] == ["7"] * 6
    assert seen[0] == [], f"threads waiting for a cell: {seen[0]}"
    with ToolSession() as s:  # the check itself sees a thread that does wait for one
        waiter = threading.Thread(target=tool.run, args=({"code": "import time; time.sleep(1.5)"}, s))
        waiter.start()
        time.sleep(0.7)
        caught = _threads_waiting_for_a_cell()
        waiter.join()
    assert caught, "a blocking run in a thread is seen waiting"


def _children() -> set[int]:
    tasks = Path(f"/proc/{os.getpid()}/task")
    return {int(pid) for task in tasks.iterdir() for pid in (task / "children").read_text().split()}


def test_a_wait_for_the_template_ends_when_cancelled() -> None:
    """A pool closed at exit cancels a template still starting (seconds under gVisor) instead of waiting for it:
    a SIGTERM'd chat took 3 s to exit. The wait returns while the process it waits on still runs."""
    proc = subprocess.Popen(["sleep", "30"], stdout=subprocess.PIPE)
    try:
        cancel = threading.Event()
        threading.Timer(0.2, cancel.set).start()
        assert _readline(proc, 60.0, cancel) == ""
        assert proc.poll() is None, "the wait ended on the cancel, not on the process's end"
    finally:
        proc.kill()
        proc.wait()


def test_a_cancelled_template_start_leaves_no_process_or_folder() -> None:
    before, folders = _children(), set(os.listdir(process_dir()))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(SandboxError, match="cancelled"):
        KernelFactory(resolve_sandbox("auto"), Limits(), preload=(), cancel=cancel)
    assert _children() <= before and set(os.listdir(process_dir())) <= folders


def test_a_closed_pool_starts_nothing_and_keeps_no_kernel() -> None:
    pool = KernelPool(size=1)
    pool.warm()  # a thread starts the template and a kernel from it
    pool.close()  # at once: the start in progress is cancelled, or its kernel shut down when it comes
    for thread in threading.enumerate():
        if thread.name == "sg-kernel-warm":
            thread.join(timeout=60)
    assert pool._idle == [] and pool._factory is None
    with pytest.raises(SandboxError, match="closed"):
        pool.acquire()
