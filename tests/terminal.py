"""The real ``solvegraph`` command on a pseudo-terminal, driven as a person at a terminal would drive it."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect

from tests.conftest import keep_var

# What a terminal interprets rather than shows: CSI and OSC sequences, and the two-byte ESC ones.
_SEQUENCE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_=>]")
CURSOR_QUERY = "\x1b[6n"  # prompt_toolkit asks where the cursor is; a terminal answers ESC [ row ; col R

UP, ENTER, CTRL_C, CTRL_D, ESC_ENTER = "\x1b[A", "\r", "\x03", "\x04", "\x1b\r"


def paste(text: str) -> str:
    """``text`` as a terminal in bracketed-paste mode sends it: between ESC [200~ and ESC [201~."""
    return f"\x1b[200~{text}\x1b[201~"


def screen_text(raw: str) -> str:
    """What the output shows as text: the escape sequences and carriage returns taken out."""
    return _SEQUENCE.sub("", raw).replace("\r", "")


def _visible(raw: str, start: int) -> tuple[str, list[int]]:
    """The screen text of ``raw[start:]``, and where in ``raw`` each of its characters is."""
    chars: list[str] = []
    where: list[int] = []
    pos = start
    for match in [*_SEQUENCE.finditer(raw, start), None]:
        end = match.start() if match else len(raw)
        for i in range(pos, end):
            if raw[i] != "\r":
                chars.append(raw[i])
                where.append(i)
        if match:
            pos = match.end()
    return "".join(chars), where


class Terminal:
    """``solvegraph ARGS`` with a pty as its controlling terminal, 120 columns wide.

    ``raw`` keeps every byte the command wrote (decoded as UTF-8), for checks on what reached the
    terminal; :meth:`expect` waits for text on the screen, escape sequences aside.
    """

    def __init__(self, args: list[str], home: Path, env: dict[str, str] | None = None) -> None:
        full = {k: v for k, v in os.environ.items() if keep_var(k)}
        for var in ("VISUAL", "EDITOR"):
            full.pop(var, None)
        full.update({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "TERM": "xterm-256color"})
        full.update(env or {})
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "solvegraph.cli", *args],
            env=full,
            dimensions=(50, 120),
            encoding="utf-8",
            codec_errors="replace",
        )
        self.raw = ""
        self._at = 0  # the output up to here was matched by an earlier expect

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the command has closed the terminal."""
        try:
            chunk = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        for _ in range((self.raw[-len(CURSOR_QUERY) + 1 :] + chunk).count(CURSOR_QUERY)):
            self.child.send("\x1b[1;1R")  # as a terminal answers it
        self.raw += chunk
        return True

    def expect(self, text: str, timeout: float = 120, prompt: bool = False) -> str:
        """Wait for ``text`` on the screen after what earlier calls matched; return the screen text before it.

        With ``prompt``, only a ``text`` drawn by a prompt that started after that: prompt_toolkit asks
        where the cursor is as each prompt starts (its keys are read from then on), and redraws an ended
        prompt's line, which must not be taken for the next one.
        """
        deadline = time.monotonic() + timeout
        while True:
            start = self._at
            if prompt:
                query = self.raw.find(CURSOR_QUERY, start)
                start = -1 if query < 0 else query + len(CURSOR_QUERY)
            if start >= 0:
                shown, where = _visible(self.raw, start)
                at = shown.find(text)
                if at >= 0:
                    before = screen_text(self.raw[self._at : where[at]])
                    self._at = where[at + len(text) - 1] + 1
                    return before
            left = deadline - time.monotonic()
            if not (left > 0 and self._read(min(left, 1.0))) and self._ended_without(text, prompt):
                raise AssertionError(f"never saw {text!r}; the screen ended with:\n{screen_text(self.raw)[-3000:]}")

    def _ended_without(self, text: str, prompt: bool) -> bool:
        self._read(0.1)
        start = self.raw.find(CURSOR_QUERY, self._at) if prompt else self._at
        return start < 0 or text not in _visible(self.raw, start)[0]

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def wait(self, timeout: float = 60) -> int:
        """The exit status, once the command has ended (its output read to the end)."""
        deadline = time.monotonic() + timeout
        while self._read(1.0):
            assert time.monotonic() < deadline, f"still running:\n{screen_text(self.raw)[-3000:]}"
        self.child.close()
        assert self.child.exitstatus is not None, f"ended by signal {self.child.signalstatus}"
        return self.child.exitstatus

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
