"""Routing at the node level, resume after kill -9 from a checkpoint, and chat --approve through a pseudo-terminal."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from solvegraph.agents import Budget, next_after_verdict, route_after_solver, route_after_verifier
from solvegraph.memory import Store, StoreError
from tests.conftest import keep_var, kernel_pids, killed_solve, run_cli, slow_solve_script
from tests.memory_backends import postgres_server
from tests.terminal import Terminal, screen_text

CODE = "```python\n{code}\n```"


def test_routes() -> None:
    budget = Budget(max_rounds=3, max_tool_calls=4)
    assert route_after_solver({"turn": 1}) == "solver", "the model called tools and turns remain"
    assert route_after_solver({"turn": 0}) == "verifier"
    assert next_after_verdict({"round": 1}, {"accepted": True}, budget) == "finish"
    assert next_after_verdict({"round": 1, "tool_calls": 1}, {"accepted": False}, budget) == "refiner"
    assert next_after_verdict({"round": 3}, {"accepted": False}, budget) == "finish", "round budget"
    assert next_after_verdict({"round": 1, "tool_calls": 4}, {"accepted": False}, budget) == "finish", "tool budget"
    assert route_after_verifier({"route": "refiner"}) == "refiner"
    assert route_after_verifier({"route": "finish"}) == route_after_verifier({}) == "finish"


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _running_trajectory(url: str) -> str | None:
    try:
        with Store(url).engine.connect() as conn:
            return conn.execute(text("SELECT id FROM trajectories WHERE status = 'running'")).scalar()
    except StoreError:
        return None  # not created yet


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_resume_after_kill_9_completes_without_a_step_twice(
    backend: str, scripted, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """SqliteSaver and PostgresSaver, each in the database the user gave."""
    db = f"sqlite:///{tmp_path}/memory.sqlite" if backend == "sqlite" else request.getfixturevalue("pg_url")
    with scripted(slow_solve_script()) as model:
        url = model.base_url
        printed = killed_solve(model, db)
        trajectory_id = _running_trajectory(db)
        assert trajectory_id, "the killed solve is still marked running in the store"
        assert trajectory_id == printed, "the id it printed names the solve to resume"
        assert [s.agent for s in Store(db).load(trajectory_id).steps] == ["planner", "solver"]

        resumed = run_cli("solve", "--resume", trajectory_id[:12], "--base-url", model.base_url, "--db", db)
        again = run_cli("solve", "--resume", trajectory_id[:12], "--base-url", url, "--db", db)
    assert resumed.returncode == 3, resumed.stderr  # answered; only the verifier model checked it
    assert resumed.stdout.strip() == "42", "the replayed kernel had `total` again"
    assert "resuming" in resumed.stderr and "resumed in a fresh kernel: the 1 python cell(s)" in resumed.stderr
    store = Store(db)
    t = store.load(trajectory_id)
    assert t.status == "solved" and t.answer == "42"
    assert [s.agent for s in t.steps] == ["planner", "solver", "runner", "solver", "solver", "verifier"]
    assert "replayed" in t.steps[2].reply and t.steps[2].tool_calls[0]["arguments"]["code"].startswith("total = 40")
    with store.engine.connect() as conn:
        seqs = list(
            conn.execute(
                text("SELECT seq FROM steps WHERE trajectory_id = :t ORDER BY seq"), {"t": trajectory_id}
            ).scalars()
        )
        left = conn.execute(
            text("SELECT COUNT(*) FROM checkpoints WHERE thread_id = :t"), {"t": trajectory_id}
        ).scalar()
    assert seqs == list(range(6)), "every step once, in order"
    assert left == 0, "a finished solve leaves no checkpoint behind"
    assert again.returncode == 2 and "no checkpoint" in again.stderr and "Traceback" not in again.stderr


def _read_until(fd: int, marker: str, seen: list[str], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while marker not in "".join(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {marker!r} in:\n{''.join(seen)[-3000:]}"
        ready, _, _ = select.select([fd], [], [], min(left, 1.0))
        if ready:
            try:
                seen.append(os.read(fd, 65536).decode(errors="replace"))
            except OSError:
                break
    text = "".join(seen)
    assert marker in text, f"the process ended without {marker!r}:\n{text[-3000:]}"
    seen.clear()
    seen.append(text[text.index(marker) + len(marker) :])
    return text


def test_chat_approve_rejects_then_edits_a_call_through_a_pty(scripted, tmp_path: Path) -> None:
    """No $EDITOR: the edit is made in a multi-line prompt holding the code (Esc-Enter ends it)."""
    script = {
        "planner": ["1. compute"],
        "solver": [CODE.format(code="print(6*7)"), "ANSWER: 42", CODE.format(code="print(6*7)"), "ANSWER: 42"],
        "refiner": ["Run it again."],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        args = ["chat", "--approve", "--base-url", model.base_url, "--db", f"sqlite:///{tmp_path / 'm.sqlite'}"]
        chat = Terminal(args, tmp_path)
        try:
            chat.expect("problem>", prompt=True)
            chat.send("What is 6*7?\r")
            shown = chat.expect("approve? [a]pprove / [e]dit / [r]eject:", prompt=True)
            assert "tool call 1/1 · python" in shown and "print(6*7)" in shown
            chat.send("r\r")
            chat.expect("reason (the refiner sees it):", prompt=True)
            chat.send("use 40+2 instead\r")
            between = chat.expect("approve? [a]pprove / [e]dit / [r]eject:", prompt=True)
            assert "the user rejected this call: use 40+2 instead" in between, "the rejection is the tool's result"
            chat.send("e\r")
            chat.expect("Esc-Enter (Alt-Enter) when done")
            chat.expect("print(6*7)", prompt=True)
            chat.send("\x7f" * len("6*7)") + "40+2)" + "\x1b\r")  # backspace over the end of the code it holds
            edited = chat.expect("answer: 42")
            assert "edited: this runs instead · python" in edited and "print(40+2)" in edited
            chat.expect("problem>", prompt=True)
            chat.send("exit\r")
            assert chat.wait() == 0
        finally:
            chat.close()
        refiner_prompt = model.calls("refiner")[0]["messages"][1]["content"]
        last_solver = model.calls("solver")[-1]["messages"]
    assert "use 40+2 instead" in refiner_prompt, "the refiner sees the reason for the rejection"
    assert any("print(40+2)" in str(m.get("content")) or "print(40+2)" in str(m) for m in last_solver)


def test_approval_shows_a_hostile_call_inert() -> None:
    """The tool name and arguments the model wrote reach the terminal with their control characters escaped."""
    import io

    from rich.console import Console

    from solvegraph.cli._chat_terminal import Approval

    class Typed:  # the user's keys: approve
        interactive, keys = True, ""

        def answer(self, prompt: str) -> str:
            return "a"

    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system="256", width=100)
    calls = [
        {"tool": "py\x1b]0;pwned\x07thon", "arguments": {"code": "print(1)\x9b2J"}},
        {"tool": "python", "arguments": {"code": "print('[red]x\x1b[2J')"}},
    ]
    decisions = Approval(console, Typed(), editor=[])(calls)  # type: ignore[arg-type]
    shown = screen.getvalue()
    assert decisions == [{"action": "approve"}, {"action": "approve"}]
    assert "\x1b]0;pwned" not in shown and "\x9b" not in shown and "\x07" not in shown and "\x1b[2J" not in shown
    text = screen_text(shown)  # the highlighting's colours aside
    assert "py\\x1b]0;pwned\\x07thon" in text and "\\x9b2J" in text and "[red]x\\x1b[2J" in text


def test_ctrl_c_in_chat_cancels_the_turn_keeps_the_kernel_and_leaves_no_checkpoint(scripted, tmp_path: Path) -> None:
    """The cell sets `total`, then sleeps past the 30 s cell timeout (which would restart the kernel and lose it)."""
    script = {
        "planner": ["1. compute"],
        "solver": [CODE.format(code="total = 40\nimport time\ntime.sleep(120)"), CODE.format(code="print(total + 2)"),
                   "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }  # fmt: skip
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with scripted(script) as model, _in_pty(["chat", "--base-url", model.base_url, "--db", db]) as (proc, master):
        seen: list[str] = []
        _read_until(master, "problem>", seen)
        before = kernel_pids()
        os.write(master, b"Set total to 40, then wait\n")
        deadline = time.monotonic() + 60
        while not kernel_pids() - before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kernel_pids() - before, "the chat's kernel started"
        time.sleep(4)  # the kernel comes up and runs the cell, which sleeps for 120 s
        proc.send_signal(signal.SIGINT)
        _read_until(master, "turn cancelled; the session and its kernel go on", seen)
        _read_until(master, "problem>", seen)
        os.write(master, b"Add 2 to total\n")
        _read_until(master, "answer: 42", seen)
        _read_until(master, "problem>", seen)
        os.write(master, b"exit\n")
        assert proc.wait(timeout=60) == 0
    store = Store(db)
    assert store.runs()[0]["statuses"] == {"interrupted": 1, "solved": 1}, "the cancelled turn is kept as such"
    _, ids = store.resolve(store.runs()[0]["id"])
    second = [r for s in store.load(ids[-1]).steps for r in s.tool_results if r["name"] == "python"]
    assert second[0]["ok"] and second[0]["output"].strip() == "42", "the interrupted cell's `total` survived"
    with store.engine.connect() as conn:
        left = conn.execute(text("SELECT COUNT(*) FROM checkpoints")).scalar()
    assert left == 0, "neither the cancelled turn nor the finished one leaves a checkpoint"


@contextlib.contextmanager
def _in_pty(args: list[str]) -> Iterator[tuple[subprocess.Popen, int]]:
    """``solvegraph ARGS`` on a pseudo-terminal, without the caller's solvegraph/OpenAI settings; killed if left."""
    env = {k: v for k, v in os.environ.items() if keep_var(k)}
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "solvegraph.cli", *args], stdin=slave, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    try:
        yield proc, master
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
