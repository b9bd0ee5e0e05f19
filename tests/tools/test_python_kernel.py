"""The python tool against a real Jupyter kernel (sandboxed by default where bubblewrap works)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from solvegraph.plugins import PluginManager, ToolSession
from solvegraph.tools.python_kernel import KernelPool


@pytest.fixture(scope="module")
def python_tool():
    return PluginManager().tools()["python"]


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
    started = time.perf_counter()
    result = python_tool.run({"code": "while True: pass"}, session)
    elapsed = time.perf_counter() - started
    assert not result.ok and result.error.startswith("timeout")
    assert elapsed < 3 + 2, f"timeout took {elapsed:.1f}s"
    after = python_tool.run({"code": "print(kept)"}, session)
    assert after.ok and after.output.strip() == "still here"


def test_uninterruptible_cell_restarts_the_kernel(python_tool, session) -> None:
    # SIGINT is ignored, so the interrupt cannot stop it: the kernel must be replaced.
    code = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: time.sleep(0.1)"
    started = time.perf_counter()
    result = python_tool.run({"code": code}, session)
    assert time.perf_counter() - started < 3 + 2 + 5
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
