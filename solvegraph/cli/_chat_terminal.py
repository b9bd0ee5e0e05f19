"""``solvegraph chat`` at a terminal: the question prompt, a turn's live status, and ``--approve``'s questions.

At a terminal the prompt is prompt_toolkit's: line editing, arrow-up history kept per user in a file
(:func:`solvegraph.config.chat_history_path`), a bracketed paste taken as one question however many lines
it has, Esc-Enter (Alt-Enter) or a trailing backslash for a new line typed by hand, Ctrl-C to clear the
line, Ctrl-D or ``exit`` to end the session. When stdin is not a terminal (a script, a pipe) each line
read is a question (see :class:`PipedLines`). While a turn runs and stderr is a terminal, a spinner
under the agents' steps says what runs and for how long.

Model and tool text is data: it reaches the terminal through ``safe``/``shown`` or as rich ``Text`` and
``Syntax`` (Pygments tokens, never markup), with its control characters written as ``\\xNN``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.spinner import Spinner
from rich.syntax import Syntax
from rich.text import Text

from ..config import chat_history_path, editor_command
from ..types import Event
from ._console import EventPrinter, safe, shown

EXIT_WORDS = frozenset({"exit", "quit", ":q"})
PROMPT = "problem> "
# A tool whose arguments hold its code: which argument, the Pygments lexer (SMT-LIB is read as the s-expressions
# it is: Pygments has no SMT lexer), and the file suffix an editor sees.
CODE_ARGUMENTS = {
    "python": ("code", "python", ".py"),
    "milp": ("code", "python", ".py"),  # pyscipopt code, when not a JSON model
    "cp": ("code", "python", ".py"),  # OR-Tools CP-SAT code, when not a JSON model
    "lean": ("proof", "lean4", ".lean"),
    "smt": ("smtlib", "scheme", ".smt2"),
}


class Lines(Protocol):
    """Where chat reads from: the user's questions, and the answers --approve asks for in a turn."""

    interactive: bool
    keys: str  # the keys, as the banner names them

    def question(self) -> str | None:
        """The next question; None when the session ends (Ctrl-D, end of input)."""

    def answer(self, prompt: str) -> str:
        """One line asked for during a turn; KeyboardInterrupt (Ctrl-C, end of input) cancels the turn."""

    def edit(self, text: str) -> str | None:
        """``text`` edited in a multi-line prompt; None when the edit is abandoned or cannot be made here."""


class PipedLines:
    """stdin is not a terminal: each line is a question (as before), read so a signal ends the wait.

    CPython runs a Python signal handler only when the main thread next runs bytecode. A signal that came
    as the main thread was about to enter ``input()``'s ``read(2)``, or that another thread took (the kernel's
    launcher, the transport's import), left the handler pending while the main thread slept in the read: a
    SIGTERM sent as chat started left it waiting for a question for ever. So the main thread waits in
    ``select(2)`` on stdin and on a wakeup pipe: the C signal handler writes to that pipe from whichever
    thread it runs on, even before the wait begins, and the main thread wakes to run the handler (SIGTERM's
    exit, Ctrl-C's KeyboardInterrupt). The bytes are read from stdin's own buffer, a line at a time, so a
    Ctrl-C that cancels an ``--approve`` turn leaves the lines after it to be read, as ``input()`` did.
    """

    interactive = False
    keys = "'exit' or end of input to quit"

    def __init__(self, console: Console) -> None:
        self.console = console
        self._stream: io.BufferedReader | None = None
        with contextlib.suppress(AttributeError, OSError, ValueError):  # else stdin has no descriptor
            stream = sys.stdin.buffer
            if isinstance(stream, io.BufferedReader) and stream.fileno() >= 0:
                self._stream = stream
        self._partial = b""  # the start of a line longer than the stream's buffer
        self._buffered = False  # bytes wait in the stream's buffer: peek() returns them without reading
        self._wake: tuple[int, int] | None = None  # the wakeup pipe, kept for the session (two descriptors)

    def question(self) -> str | None:
        try:
            return self._line()
        except EOFError:
            return None

    def answer(self, prompt: str) -> str:
        self.console.print(prompt, end="", markup=False, highlight=False)
        try:
            return self._line()
        except EOFError:
            raise KeyboardInterrupt from None  # the input ended in the middle of a turn: cancel it

    def edit(self, text: str) -> str | None:
        return None

    def _line(self) -> str:
        """The next line without its line end (``\\n`` or ``\\r\\n``); EOFError at the end of input."""
        stream = self._stream
        if stream is None:
            return input()
        while True:
            if not self._buffered and not self._readable(stream.fileno()):
                continue  # woken by a signal whose handler did not raise
            # Until known otherwise, say bytes are buffered: if a handler raises below, the next peek reads
            # (as input() would) rather than wait in select for more input while a line sits in the buffer.
            self._buffered = True
            chunk = stream.peek(1 << 16)  # the buffer, or one read into it: held there until read below
            if not chunk:
                self._buffered = False
                if not self._partial:
                    raise EOFError
                line, self._partial = self._partial, b""  # a last line without a line end
                return self._decode(line)
            end = chunk.find(b"\n")
            size = end + 1 if end >= 0 else len(chunk)
            taken = stream.read(size)  # from the buffer: exactly ``size`` bytes, no read(2)
            self._buffered = len(chunk) > size
            if end < 0:
                self._partial += taken
                continue
            line, self._partial = self._partial + taken[:-1], b""
            return self._decode(line)

    @staticmethod
    def _decode(line: bytes) -> str:
        encoding = getattr(sys.stdin, "encoding", None) or "utf-8"
        return line.removesuffix(b"\r").decode(encoding, errors="replace")

    def _readable(self, fd: int) -> bool:
        """Wait until ``fd`` can be read (True), or a signal arrives (False): its handler runs as this returns."""
        if threading.current_thread() is not threading.main_thread():
            return True  # signal handlers run on the main thread only: a plain blocking read is all there is
        if self._wake is None:
            self._wake = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        wake_read, wake_write = self._wake
        _drain(wake_read)  # earlier signals' bytes: their handlers have run
        earlier = -1
        try:
            earlier = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
            if earlier not in (-1, wake_write):  # an event loop on this thread watches signals through its
                return True  # own pipe: it keeps it (finally), and this waits in read(2) as input() did
            ready, _, _ = select.select([fd, wake_read], [], [])  # a signal's byte wakes this
            return fd in ready
        finally:
            if earlier in (-1, wake_write):
                signal.set_wakeup_fd(-1)
            else:
                signal.set_wakeup_fd(earlier)
                with contextlib.suppress(OSError):  # a signal that came while ours was set: the loop's, too
                    if taken := _drain(wake_read):
                        os.write(earlier, taken)


def _drain(fd: int) -> bytes:
    """What a non-blocking pipe holds, read out."""
    taken = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(fd, 512):
            taken += chunk
    return taken


class TerminalLines:
    """prompt_toolkit's prompt, drawn on the terminal even when stdout is redirected to a file."""

    interactive = True
    keys = "Esc-Enter or a trailing \\ for a new line · Ctrl-C clears the line · 'exit' or Ctrl-D to quit"

    def __init__(self, console: Console, history_file: Path | None) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.output import create_output

        self.console = console
        self._output = create_output(always_prefer_tty=True)
        self._questions: PromptSession[str] = PromptSession(
            history=_history(history_file, console),
            key_bindings=_question_keys(),
            prompt_continuation=_continuation,
            output=self._output,
        )
        self._answers: PromptSession[str] = PromptSession(output=self._output)  # not in the questions' history

    def question(self) -> str | None:
        while True:
            try:
                return self._questions.prompt([("bold", PROMPT)])
            except KeyboardInterrupt:
                continue  # Ctrl-C clears the line: the session and its kernel go on
            except EOFError:
                return None

    def answer(self, prompt: str) -> str:
        # Asked from inside a turn, where the solve's event loop runs: the prompt runs on a thread of its own.
        try:
            return self._answers.prompt(prompt, in_thread=True)
        except EOFError:
            raise KeyboardInterrupt from None

    def edit(self, text: str) -> str | None:
        from prompt_toolkit import PromptSession

        self.console.print(
            "editing below: Enter is a new line, Esc-Enter (Alt-Enter) when done, Ctrl-C keeps the call as it was",
            style="dim",
            highlight=False,
        )
        editor: PromptSession[str] = PromptSession(multiline=True, output=self._output)
        try:
            return editor.prompt("", default=text, in_thread=True, prompt_continuation="")
        except (KeyboardInterrupt, EOFError):
            return None


def open_lines(console: Console) -> Lines:
    """The terminal prompt when stdin is a terminal, else plain lines from stdin."""
    if sys.stdin.isatty():
        return TerminalLines(console, chat_history_path())
    return PipedLines(console)


def _history(path: Path | None, console: Console) -> Any:
    """The questions of earlier sessions, kept in a file only the user can read (they may be private)."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    if path is None:
        return InMemoryHistory()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    except OSError as exc:
        console.print(f"questions are not kept for later sessions: {path}: {exc.strerror}", markup=False)
        return InMemoryHistory()
    return FileHistory(str(path))


def _question_keys() -> Any:
    """Enter asks, but after a trailing backslash it starts a new line (the backslash dropped), as Esc-Enter does."""
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    keys = KeyBindings()

    @keys.add("escape", "enter")
    def _new_line(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @keys.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if buffer.document.is_cursor_at_the_end and buffer.text.endswith("\\"):
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
        else:
            buffer.validate_and_handle()

    return keys


def _continuation(width: int, line_number: int, wrap_count: int) -> str:
    return "." * (width - 1) + " "


def _seconds(elapsed: float) -> str:
    whole = int(elapsed)
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


class TurnDisplay:
    """One turn on the terminal: each agent's step as :class:`EventPrinter` shows it, and below them a
    spinner saying what runs now (a model writing, a tool running) and for how long.

    Hooked on the graph's events: after the plan the solver writes; a ``code`` event starts a tool, its
    ``tool_output`` ends it; an ``answer`` goes to the verifier; a rejecting verdict to the refiner. On a
    console that is not a terminal only the steps are printed.
    """

    def __init__(self, console: Console, printer: EventPrinter | None = None) -> None:
        self.console = console
        self.printer = printer or EventPrinter(console)
        self._spinner = Spinner("dots", style="cyan")
        self._live: Live | None = None
        self._doing = ""
        self._started = self._since = time.monotonic()

    def _now_doing(self, doing: str) -> None:
        self._doing, self._since = doing, time.monotonic()

    def __rich__(self) -> RenderableType:
        now = time.monotonic()
        line = Text(f"{self._doing} · {_seconds(now - self._since)}")
        line.append(f" (turn {_seconds(now - self._started)}) · Ctrl-C cancels the turn", style="dim")
        self._spinner.update(text=line)
        return self._spinner

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        self._started = time.monotonic()
        self._now_doing("planner is writing")
        if not self.console.is_terminal:
            yield
            return
        live = Live(self, console=self.console, transient=True, refresh_per_second=8, redirect_stdout=False)
        with live:
            self._live = live
            try:
                yield
            finally:
                self._live = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The spinner is taken off the screen while the user is asked something."""
        live = self._live
        if live is None:
            yield
            return
        live.stop()
        try:
            yield
        finally:
            live.start()

    def on_event(self, event: Event) -> None:
        self.printer(event)
        d = event.data
        if event.kind in ("plan", "tool_output", "guidance"):
            self._now_doing("solver is writing")
        elif event.kind == "code":
            self._now_doing(f"running {safe(d.get('tool'))}")
        elif event.kind == "answer" and event.agent == "solver":
            self._now_doing("verifier is checking")
        elif event.kind == "verdict":
            self._now_doing("finishing" if d.get("accepted") else "refiner is writing")
        elif event.kind in ("gave_up", "answer"):
            self._now_doing("finishing")


class Approval:
    """chat --approve: each tool call shown highlighted, then approved, edited or rejected with a reason.

    Editing opens the user's editor (``$VISUAL``/``$EDITOR``) on the call's code, or on its arguments as
    JSON for a tool without code; with no editor set, a multi-line prompt holds the same text. From a pipe
    the new arguments are one line of JSON, as before.
    """

    def __init__(
        self, console: Console, lines: Lines, display: TurnDisplay | None = None, editor: list[str] | None = None
    ) -> None:
        self.console = console
        self.lines = lines
        self.display = display
        self.editor = editor if editor is not None else editor_command()

    def __call__(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.display.paused() if self.display is not None else contextlib.nullcontext():
            return [self._decide(call, i, len(calls)) for i, call in enumerate(calls, 1)]

    def _decide(self, call: dict[str, Any], number: int, count: int) -> dict[str, Any]:
        tool, arguments = str(call.get("tool")), call.get("arguments")
        self.show(tool, arguments, f"tool call {number}/{count}")
        draft: str | None = None  # a failed edit's text, offered again on the next edit
        while True:
            choice = self.lines.answer("approve? [a]pprove / [e]dit / [r]eject: ").strip().lower()
            if choice in ("a", "approve", "y", "yes", ""):
                return {"action": "approve"}
            if choice in ("r", "reject", "n", "no"):
                reason = self.lines.answer("reason (the refiner sees it): ").strip()
                return {"action": "reject", "reason": reason or "rejected by the user"}
            if choice not in ("e", "edit"):
                continue
            edited, draft = self._edit(tool, arguments, draft)
            if edited is not None:
                self.show(tool, edited, "edited: this runs instead")
                return {"action": "edit", "arguments": edited}

    def show(self, tool: str, arguments: Any, title: str) -> None:
        """The call's code highlighted as its language, other arguments as JSON; control characters as \\xNN."""
        key, lexer, _ = CODE_ARGUMENTS.get(tool, ("", "json", ""))
        parts: list[RenderableType] = []
        if isinstance(arguments, dict) and isinstance(arguments.get(key), str):
            parts.append(_syntax(arguments[key], lexer))
            rest = {k: v for k, v in arguments.items() if k != key}
            if rest:
                parts.append(Text(safe(_json(rest, indent=None)), style="dim"))
        else:
            parts.append(_syntax(_json(arguments), "json"))
        self.console.print(Panel(Group(*parts), title=f"{title} · {shown(tool)}", title_align="left"))

    def _edit(self, tool: str, arguments: Any, draft: str | None) -> tuple[Any, str | None]:
        """The edited arguments (None if unchanged or not valid), and the text to offer on the next try."""
        if not self.lines.interactive:
            raw = self.lines.answer("new arguments as one JSON object: ")
            return self._parsed(raw), None
        key, _, suffix = CODE_ARGUMENTS.get(tool, ("", "", ".json"))
        code = isinstance(arguments, dict) and isinstance(arguments.get(key), str)
        before = arguments[key] if code else _json(arguments)
        text = self._in_editor(draft or before, suffix) if self.editor else self.lines.edit(draft or before)
        if text is None:
            return None, draft
        if self.editor and text.endswith("\n") and not before.endswith("\n"):
            text = text[:-1]  # editors end the file with a newline
        if text == before:
            self.console.print("unchanged; the call is as it was", highlight=False)
            return None, None
        if code:
            return {**arguments, key: text}, None
        edited = self._parsed(text)
        return edited, (None if edited is not None else text)

    def _parsed(self, text: str) -> dict[str, Any] | None:
        try:
            edited = json.loads(text)
        except json.JSONDecodeError as exc:
            self.console.print(f"not JSON ({exc.msg}, line {exc.lineno}); try again", markup=False, highlight=False)
            return None
        if not isinstance(edited, dict):
            self.console.print("the arguments must be a JSON object; try again", markup=False, highlight=False)
            return None
        return edited

    def _in_editor(self, text: str, suffix: str) -> str | None:
        assert self.editor is not None
        fd, name = tempfile.mkstemp(prefix="solvegraph-call-", suffix=suffix)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text if text.endswith("\n") else text + "\n")
            try:
                status = subprocess.run([*self.editor, name], check=False).returncode
            except OSError as exc:
                self.console.print(f"cannot run the editor {self.editor[0]}: {exc.strerror}", markup=False)
                return None
            if status != 0:
                self.console.print(f"the editor exited with status {status}; the call is as it was", markup=False)
                return None
            return Path(name).read_text(encoding="utf-8")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)


def _json(value: Any, indent: int | None = 2) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False, default=str)


def _syntax(code: str, lexer: str) -> Syntax:
    """Code highlighted by Pygments' lexer for it (plain text for one Pygments does not know)."""
    return Syntax(safe(code), lexer, theme="monokai", background_color="default", word_wrap=True)
