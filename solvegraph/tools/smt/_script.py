"""SMT-LIB text as commands: split into s-expressions, each command checked against what the tool interprets.

Pure: the host parses the model's script with it, and the sandboxed Z3 worker rebuilds the commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"line (\d+) column (\d+)")


def sexprs(text: str) -> list[tuple[int, str]]:
    """Top-level s-expressions of SMT-LIB text with their offsets (comments, strings and |symbols| respected)."""
    out, depth, start, i, n = [], 0, -1, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == ";":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch == '"':
            end = i + 1
            while True:  # "" is an escaped quote inside an SMT-LIB string
                end = text.find('"', end)
                if end < 0 or not text.startswith('""', end):
                    break
                end += 2
            i = n if end < 0 else end + 1
            continue
        if ch == "|":
            end = text.find("|", i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append((start, text[start : i + 1]))
            elif depth < 0:
                line = text.count("\n", 0, i) + 1
                raise ValueError(f"SMT-LIB error at line {line}: unbalanced parentheses: an extra ')'")
        elif depth == 0 and not ch.isspace():
            line = text.count("\n", 0, i) + 1
            raise ValueError(f"SMT-LIB error at line {line}: text outside a command: {text[i : i + 20]!r}")
        i += 1
    if depth > 0:
        line = text.count("\n", 0, start) + 1
        raise ValueError(
            f"SMT-LIB error at line {line}: unbalanced parentheses: the expression starting there is never closed"
        )
    return out


_NAMED = re.compile(r"^\(\s*!\s*(.*)\s:named\s+([^\s()]+)\s*\)$", re.S)
_HEAD = re.compile(r"^\(\s*([^\s()]+)")
DECLARATIONS = frozenset(
    {
        "declare-const",
        "declare-fun",
        "declare-sort",
        "define-sort",
        "define-fun",
        "define-fun-rec",
        "define-funs-rec",
        "define-const",
        "declare-datatype",
        "declare-datatypes",
    }
)
IGNORED = frozenset({"set-logic", "set-info", "set-option", "get-info", "get-option"})
SUPPORTED = sorted(
    DECLARATIONS
    | IGNORED
    | {"assert", "push", "pop", "check-sat", "check-sat-assuming", "get-model", "get-value", "get-unsat-core"}
    | {"reset", "reset-assertions", "echo", "exit"}
)


@dataclass
class Command:
    """One top-level command of a script: where it starts, and the name of a structured assertion."""

    text: str
    line: int
    column: int
    label: str | None = None

    @property
    def head(self) -> str:
        m = _HEAD.match(self.text)
        return m.group(1) if m else ""

    def body(self) -> str:
        """The text after the command word, without the closing parenthesis."""
        return self.text[1:-1].strip()[len(self.head) :].strip()


def parse_script(text: str) -> list[Command]:
    """An SMT-LIB script as commands; a command the tool does not interpret is an error, never dropped."""
    commands = []
    for offset, expr in sexprs(text):
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1)
        command = Command(expr, line, column)
        if command.head not in SUPPORTED:
            raise ValueError(
                f"SMT-LIB error at line {line}: unsupported command '{command.head}' "
                f"(supported: {', '.join(SUPPORTED)})"
            )
        commands.append(command)
    return commands


def structured_script(declarations: str, assertions: list[tuple[str, str]]) -> list[Command]:
    """The structured form as commands: the declarations, each named assertion, one check-sat."""
    commands = parse_script(declarations)
    bad = [c.head for c in commands if c.head not in DECLARATIONS and c.head not in IGNORED]
    if bad:
        raise ValueError(f"SMT-LIB error: 'declarations' may only declare or define, not '{bad[0]}'")
    for name, formula in assertions:
        commands.append(Command(f"(assert {formula})", 1, 0, label=name))
    return [*commands, Command("(check-sat)", 0, 0)]
