"""solvegraph mcp serve, driven by the official MCP SDK's client over stdio, with real tools."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import keep_var, kernel_pids, run_cli
from tests.tools.test_lean import PRELUDE, STATEMENT
from tests.tools.test_milp import production

pytestmark = pytest.mark.timeout(300)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if keep_var(k)}


@asynccontextmanager
async def served(*args: str) -> AsyncIterator[ClientSession]:
    """A client session with a fresh `solvegraph mcp serve` process, as an MCP client would start it."""
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "solvegraph.cli", "mcp", "serve", *args], env=_env()
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def _run(main: Any) -> Any:
    return anyio.run(main)


def test_lists_the_checked_tools_and_runs_python_per_session(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/m.sqlite"

    async def main() -> None:
        async with served("--db", db) as first:
            listed = {t.name: t for t in (await first.list_tools()).tools}
            assert set(listed) == {"python", "milp", "cp", "smt", "lean", "solve"}
            assert listed["python"].input_schema["required"] == ["code"]
            set_x = await first.call_tool("python", {"code": "x = 41"})
            assert not set_x.is_error
            got = await first.call_tool("python", {"code": "print(x + 1)"})
            assert not got.is_error and got.content[0].text.strip() == "42", "state persists within a session"
            assert got.structured_content["ok"] is True and got.structured_content["output"].strip() == "42"
            bad = await first.call_tool("python", {"code": 3})
            assert bad.is_error and bad.structured_content["data"]["errors"][0]["field"] == "code"
        async with served("--db", db) as second:
            other = await second.call_tool("python", {"code": "print(x)"})
            assert other.is_error and "NameError" in other.structured_content["error"], "no state across sessions"

    _run(main)


def test_milp_result_carries_the_recheck_verdict(tmp_path: Path) -> None:
    async def main() -> None:
        async with served("--tools", "milp", "--db", f"sqlite:///{tmp_path}/m.sqlite") as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["milp"]
            result = await client.call_tool("milp", {"model": production()})
            data = result.structured_content["data"]
            assert not result.is_error and data["status"] == "optimal" and data["objective"] == 36
            assert [v["verifier"] for v in data["verdicts"]] == ["milp-check"] and data["verdicts"][0]["accepted"]

    _run(main)


def test_lean_checks_a_proof_and_refuses_a_false_one(lean_binary: str, tmp_path: Path) -> None:
    async def main() -> None:
        args = ("--tools", "lean", "--lean-path", lean_binary, "--db", f"sqlite:///{tmp_path}/m.sqlite")
        async with served(*args) as client:
            good = PRELUDE + "theorem refl_z : Eq2 N.z N.z := Eq2.refl N.z\n"
            ok = await client.call_tool("lean", {"proof": good, "statement": STATEMENT})
            assert not ok.is_error and ok.structured_content["data"]["accepted"] is True
            bad = PRELUDE + "theorem refl_z : Eq2 N.z N.z := sorry\n"
            refused = await client.call_tool("lean", {"proof": bad, "statement": STATEMENT})
            assert refused.is_error and refused.structured_content["data"]["accepted"] is False

    _run(main)


def test_cancelling_a_long_cell_stops_it_and_the_session_goes_on(tmp_path: Path) -> None:
    """The cell would set `flag` after 60 s; once cancelled it never does, and the next call runs at once."""

    async def main() -> None:
        args = ("--tools", "python", "--cell-timeout", "120", "--db", f"sqlite:///{tmp_path}/m.sqlite")
        async with served(*args) as client:
            await client.call_tool("python", {"code": "started = True"})
            with anyio.move_on_after(3):
                await client.call_tool(
                    "python", {"code": "import time\nfor _ in range(600): time.sleep(0.1)\nflag = 1"}
                )
                raise AssertionError("the long cell returned instead of being cancelled")
            after = await client.call_tool("python", {"code": "print(started, globals().get('flag', 'stopped'))"})
            assert not after.is_error and after.content[0].text.strip() == "True stopped"

    _run(main)


def _server_pid(marker: str) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "mcp\0serve" in line and marker in line:
                return int(entry.name)
    raise AssertionError("the server process was not found")


def test_killing_the_server_mid_call_is_an_error_and_leaves_nothing_running(tmp_path: Path) -> None:
    before = kernel_pids()
    outcome: list[str] = []

    async def main() -> None:
        async with served("--tools", "python", "--db", f"sqlite:///{tmp_path}/killed.sqlite") as client:
            await client.call_tool("python", {"code": "x = 1"})
            pid = _server_pid(str(tmp_path))

            async def kill_soon() -> None:
                await anyio.sleep(2)
                os.kill(pid, signal.SIGKILL)

            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_soon)
                try:
                    with anyio.fail_after(50):
                        await client.call_tool("python", {"code": "import time\ntime.sleep(60)"})
                    outcome.append("returned")
                except TimeoutError:
                    outcome.append("hung")
                except Exception as exc:
                    outcome.append(f"error: {type(exc).__name__}: {exc}")

    with contextlib.suppress(Exception):  # closing a client whose server died may raise as well
        _run(main)
    assert outcome and outcome[0].startswith("error"), outcome
    deadline = time.monotonic() + 20
    while kernel_pids() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not kernel_pids() - before, "the killed server's kernel processes are gone"


def test_solve_reports_each_step_as_progress(scripted, tmp_path: Path) -> None:
    script = {
        "planner": ["1. compute 6*7"],
        "solver": ["```python\nprint(6*7)\n```", "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    progress: list[tuple[float, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, message))

    async def main() -> Any:
        with scripted(script) as model:
            args = ("--base-url", model.base_url, "--db", f"sqlite:///{tmp_path}/m.sqlite", "--no-cache")
            async with served(*args) as client:
                return await client.call_tool("solve", {"problem": "What is 6*7?"}, progress_callback=on_progress)

    result = _run(main)
    data = result.structured_content["data"]
    assert not result.is_error and data["answer"] == "42" and data["solved"] is True and data["steps"] >= 4
    messages = [m for _, m in progress]
    assert "planner · round 0 · plan" in messages and "solver · round 1 · code" in messages
    assert [d for d, _ in progress] == sorted(d for d, _ in progress), "progress only goes up"


@pytest.mark.timeout(900)
def test_solve_with_the_real_embedded_model(tmp_path: Path) -> None:
    """The default model (SmolLM2 through llama.cpp) behind MCP; nothing but the protocol reaches stdout."""

    async def main() -> Any:
        args = ("--max-rounds", "1", "--db", f"sqlite:///{tmp_path}/m.sqlite", "--no-cache")
        async with served(*args) as client:
            return await client.call_tool("solve", {"problem": "What is 2 + 3?"})

    result = _run(main)
    data = result.structured_content["data"]
    assert data["status"] in ("solved", "unsolved") and data["steps"] >= 2 and data["trajectory"]


@asynccontextmanager
async def over_http(url: str) -> AsyncIterator[ClientSession]:
    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def test_http_gives_each_mcp_session_its_own_kernel_and_ends_it_with_the_session(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = [
        "mcp",
        "serve",
        "--http",
        f"127.0.0.1:{port}",
        "--tools",
        "python",
        "--db",
        f"sqlite:///{tmp_path}/m.sqlite",
    ]
    proc = subprocess.Popen([sys.executable, "-m", "solvegraph.cli", *args], env=_env(), stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        busy = run_cli("mcp", "serve", "--http", f"127.0.0.1:{port}")
        assert busy.returncode == 2 and "cannot listen on 127.0.0.1" in busy.stderr and "Traceback" not in busy.stderr

        async def main() -> list[set[int]]:
            seen = []
            async with over_http(url) as first:
                await first.call_tool("python", {"code": "x = 41"})
                async with over_http(url) as second:
                    other = await second.call_tool("python", {"code": "print(x)"})
                    assert other.is_error and "NameError" in other.structured_content["error"], "no state across"
                    seen.append(kernel_pids())
                got = await first.call_tool("python", {"code": "print(x + 1)"})
                assert got.content[0].text.strip() == "42", "state persists within one MCP session"
                with anyio.fail_after(30):  # the second session ended (DELETE): its kernel goes
                    while kernel_pids() >= seen[0]:
                        await anyio.sleep(0.2)
                seen.append(kernel_pids())
            return seen

        with_two, after_one = _run(main)
        assert len(after_one) < len(with_two)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
