"""solvegraph chat at a terminal: the real command on a pseudo-terminal, the scripted model over real HTTP,
a real kernel. History across sessions, pasted and hand-typed multi-line questions, Ctrl-C and Ctrl-D at the
prompt, --approve's highlighted code and its edit in $EDITOR, and hostile model text kept inert."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.terminal import CTRL_C, CTRL_D, ENTER, ESC_ENTER, UP, Terminal, paste, screen_text

CODE = "```python\n{}\n```"
Start = Callable[..., Terminal]


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Start]:
    """Factory: ``terminal("chat", ...)`` on its own pty, with HOME and the data folder in tmp_path."""
    opened: list[Terminal] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Terminal:
        opened.append(Terminal(list(args), tmp_path, env))
        return opened[-1]

    yield start
    for t in opened:
        t.close()


def _questions(model: Any) -> list[str]:
    """The problem each turn's planner was given (before the earlier turns it is shown after a blank line)."""
    return [call["messages"][1]["content"].split("\n\n")[0] for call in model.calls("planner")]


def _what_ran(body: dict[str, Any]) -> str:
    """A solver reply answering with the last number the code printed (so the answer shows what ran)."""
    output = str(body["messages"][-1].get("content")).split("Its output:")[-1].split("\n\nIf this answers")[0]
    return f"ANSWER: {re.findall(r'-?[0-9]+', output)[-1]}"


def test_arrow_up_recalls_a_question_from_an_earlier_session(scripted, terminal: Start, tmp_path: Path) -> None:
    script = {
        "planner": ["1. compute"],
        "solver": [CODE.format("print(6*7)"), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        first = terminal("chat", "--no-memory", "--base-url", model.base_url)
        first.expect("problem>", prompt=True)
        first.send("What is 6*7?" + ENTER)
        first.expect("answer: 42")
        first.expect("problem>", prompt=True)
        first.send(CTRL_D)
        assert first.wait() == 0, screen_text(first.raw)[-2000:]
    history = tmp_path / "data" / "solvegraph" / "chat_history"
    assert "What is 6*7?" in history.read_text()
    assert stat.S_IMODE(history.stat().st_mode) == 0o600, "the questions may be private: only the user reads them"
    with scripted(script) as model:
        second = terminal("chat", "--no-memory", "--base-url", model.base_url)
        second.expect("problem>", prompt=True)
        second.send(UP + ENTER)
        second.expect("answer: 42")
        second.expect("problem>", prompt=True)
        second.send("exit" + ENTER)
        assert second.wait() == 0
    assert _questions(model) == ["What is 6*7?"], "arrow-up brought back the first session's question"


def test_ctrl_c_clears_the_line_and_multi_line_questions_are_one_turn(scripted, terminal: Start) -> None:
    script = {
        "planner": ["1. compute"],
        # The first cell lasts long enough for the spinner to be drawn while it runs.
        "solver": [CODE.format("import time\ntotal = 40\ntime.sleep(3)\nprint(total)"), "ANSWER: 40",
                   CODE.format("print(total + 2)"), _what_ran, "ANSWER: 7"],
        "verifier": ["VERDICT: ACCEPT"],
    }  # fmt: skip
    with scripted(script) as model:
        chat = terminal("chat", "--no-memory", "--base-url", model.base_url)
        chat.expect("problem>", prompt=True)
        chat.send("Set total to 40" + ENTER)
        shown = chat.expect("answer: 40")
        assert "running python · " in shown and "Ctrl-C cancels the turn" in shown, "the spinner said what ran"
        chat.expect("problem>", prompt=True)
        chat.send("a line to throw away")
        chat.send(CTRL_C)  # at an idle prompt: the line is cleared, the session and its kernel go on
        chat.expect("problem>", prompt=True)
        chat.send(paste("Add 2 to total\nand print it") + ENTER)
        chat.expect("answer: 42")  # the kernel still has `total`
        chat.expect("problem>", prompt=True)
        chat.send("three" + ESC_ENTER + "typed\\" + ENTER + "lines" + ENTER)  # Esc-Enter and a trailing backslash
        chat.expect("answer: 7")
        chat.expect("problem>", prompt=True)
        chat.send(CTRL_D)
        assert chat.wait() == 0
    assert _questions(model) == ["Set total to 40", "Add 2 to total\nand print it", "three\ntyped\nlines"], (
        "each paste and each hand-typed block is one question; the cleared line is none"
    )
    assert "turn cancelled" not in screen_text(chat.raw)


def test_approve_shows_the_code_highlighted_and_edits_it_in_the_editor(
    scripted, terminal: Start, tmp_path: Path
) -> None:
    editor = tmp_path / "editor.sh"  # a user's $EDITOR: changes the file it is given, in place
    editor.write_text("#!/bin/sh\nsed -i 's/6[*]7/6*7 + 1000/' \"$1\"\n")
    editor.chmod(0o755)
    script = {
        "planner": ["1. compute"],
        "solver": [CODE.format("print(6*7)"), _what_ran, CODE.format("print(1)")],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        chat = terminal("chat", "--approve", "--no-memory", "--base-url", model.base_url, env={"EDITOR": str(editor)})
        chat.expect("problem>", prompt=True)
        asked = len(chat.raw)
        chat.send("What is 6*7?" + ENTER)
        chat.expect("approve? [a]pprove / [e]dit / [r]eject:", prompt=True)
        turn = chat.raw[asked:]
        panel = turn[turn.index("tool call 1/1 · python") : turn.index("approve?")]
        chat.send("e" + ENTER)
        shown = chat.expect("answer: 1042")
        last_solver = "\n".join(str(m.get("content")) for m in model.calls("solver")[-1]["messages"])
        chat.expect("problem>", prompt=True)
        chat.send("And print 1" + ENTER)
        chat.expect("approve? [a]pprove / [e]dit / [r]eject:", prompt=True)
        chat.send(CTRL_C)  # at the approval prompt: this turn is cancelled, the session goes on
        chat.expect("turn cancelled; the session and its kernel go on")
        chat.expect("problem>", prompt=True)
        chat.send("exit" + ENTER)
        assert chat.wait() == 0
    colours = set(re.findall(r"\x1b\[[0-9;]*?38;5;([0-9]+)", panel))  # 256-colour foregrounds
    assert "print(6*7)" in screen_text(panel) and len(colours) >= 2, f"highlighted in colours: {panel!r}"
    assert "edited: this runs instead · python" in shown and "print(6*7 + 1000)" in shown
    assert "the user changed this call's arguments" in last_solver, "the model is told what ran instead"


def test_hostile_model_text_reaches_the_terminal_inert(scripted, terminal: Start) -> None:
    """Markup, an OSC that retitles the window and a one-byte C1 CSI: in the code, its output and the answer."""
    hostile = "[red]x[/red] \x1b]0;pwned\x07 \x9b2J"
    script = {
        "planner": ["1. compute"],
        "solver": [CODE.format(f"print('{hostile}')"), f"ANSWER: {hostile}"],  # the raw characters, in the code too
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        chat = terminal("chat", "--approve", "--no-memory", "--base-url", model.base_url)
        chat.expect("problem>", prompt=True)
        chat.send("Say something" + ENTER)
        chat.expect("approve? [a]pprove / [e]dit / [r]eject:", prompt=True)
        chat.send("a" + ENTER)
        chat.expect("answer: ")
        chat.expect("problem>", prompt=True)
        chat.send(CTRL_D)
        assert chat.wait() == 0
    assert "pwned\x07" not in chat.raw and "\x1b]0;pwned" not in chat.raw and "\x9b" not in chat.raw
    shown = screen_text(chat.raw)
    inert = "[red]x[/red] \\x1b]0;pwned\\x07 \\x9b2J"
    assert shown.count(inert) >= 3, "shown as text in the approval, the tool output and the answer"
    assert f"answer: {inert}" in shown


def test_piped_chat_with_approve_reads_plain_lines(scripted) -> None:
    """Not a terminal: each line is a question or an answer to --approve, as a script writes them."""
    script = {
        "planner": ["1. compute"],
        "solver": [CODE.format("print(6*7)"), _what_ran],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        proc = run_cli(
            "chat", "--approve", "--no-memory", "--base-url", model.base_url,
            input='What is 6*7?\ne\n{"code": "print(6*7 + 1)"}\n',
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["answer: 43"], proc.stderr
    assert "approve? [a]pprove / [e]dit / [r]eject:" in proc.stderr and "\x1b" not in proc.stderr


def test_editing_a_call_without_code_edits_its_arguments_as_json(tmp_path: Path) -> None:
    """The user's editor gets the arguments as JSON; text that is not JSON is refused and offered again."""
    import io

    from rich.console import Console

    from solvegraph.cli._chat_terminal import Approval

    seen = tmp_path / "seen"
    editor = tmp_path / "editor.sh"  # first saves broken JSON, then (shown that text again) fixes the bound
    editor.write_text(
        "#!/bin/sh\n"
        f'cat "$1" >> {seen}\n'
        f'if [ ! -e {tmp_path}/once ]; then touch {tmp_path}/once; echo "{{broken" > "$1"; exit 0; fi\n'
        'printf \'{"model": {"rhs": 5}}\\n\' > "$1"\n'
    )
    editor.chmod(0o755)

    class Keys:  # what the user types at the approval prompts: edit, then edit again
        interactive, keys = True, ""

        def __init__(self) -> None:
            self.typed = ["e", "e"]

        def answer(self, prompt: str) -> str:
            return self.typed.pop(0)

    console = Console(file=io.StringIO(), width=100)
    call = {"tool": "milp", "arguments": {"model": {"rhs": 3}}}
    decisions = Approval(console, Keys(), editor=[str(editor)])([call])  # type: ignore[arg-type]
    assert decisions == [{"action": "edit", "arguments": {"model": {"rhs": 5}}}]
    assert "not JSON" in console.file.getvalue()  # type: ignore[attr-defined]
    given = seen.read_text()
    assert given.startswith('{\n  "model": {\n    "rhs": 3\n  }\n}\n') and given.endswith("{broken\n")


_WAIT_FOR_A_QUESTION = """
import signal, sys, threading, time
from rich.console import Console
from solvegraph.cli._chat_terminal import PipedLines

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
lines = PipedLines(Console(stderr=True))
print(repr(lines.question()), flush=True)  # the first line, read before the signal

def hit() -> None:
    time.sleep(0.5)  # the main thread is waiting for the second question by then
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)  # taken by this thread, not the main one

threading.Thread(target=hit).start()
print(repr(lines.question()), flush=True)
"""


def test_a_piped_chat_waiting_for_a_question_ends_on_a_signal_another_thread_takes() -> None:
    """A SIGTERM taken by a helper thread (the kernel's launcher, say) ends the wait; before, the main thread
    slept in read(2) with the handler pending, and the chat never exited (CI, stop 38)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _WAIT_FOR_A_QUESTION], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("first\n")
        proc.stdin.flush()  # stdin stays open: no end of input ends the wait
        assert proc.stdout.readline() == "'first'\n"
        assert proc.wait(timeout=60) == 143
        assert proc.stdout.read() == "", "the second question was never read"
    finally:
        if proc.poll() is None:
            proc.kill()


def test_piped_lines_lose_their_line_ends_and_the_last_needs_none() -> None:
    """Line ends (\\n, \\r\\n) are dropped, a last line without one is still a question, then the input ends."""
    script = (
        "from rich.console import Console\n"
        "from solvegraph.cli._chat_terminal import PipedLines\n"
        "lines = PipedLines(Console(stderr=True))\n"
        "print([lines.question() for _ in range(5)])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], input="one\r\ntwo\n\nthrée", capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['one', 'two', '', 'thrée', None]"
