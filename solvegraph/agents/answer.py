"""Getting code and a final answer out of free text, and normalising the answer.

Models that cannot make tool calls still write fenced code and an ``ANSWER:``
line (or ``\\boxed{}``/``####``); this is how the solver reads them.
"""

from __future__ import annotations

import re
from fractions import Fraction

from ..llm import parse_calls

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.S | re.I)
_ANSWER_LINE = re.compile(r"^\s*\**\s*(?:final\s+)?answer\s*\**\s*[:=]\s*\**\s*(.+?)\s*\**\s*$", re.I | re.M)
_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_HASHES = re.compile(r"^\s*####\s*(.+?)\s*$", re.M)
_NUMBER = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][-+]?\d+)?$")


def code_blocks(text: str) -> list[str]:
    """Fenced Python blocks; an unterminated last fence counts (small models forget to close)."""
    blocks = [b.strip("\n") for b in _FENCE.findall(text)]
    if not blocks:
        m = re.search(r"```[ \t]*(?:python|py|python3)[ \t]*\n(.*)$", text, re.S | re.I)
        if m and m.group(1).strip():
            blocks = [m.group(1)]
    return [b for b in blocks if b.strip()]


def explicit_answer(text: str) -> str | None:
    """The answer the model stated: ANSWER: line, then \\boxed{}, then ####."""
    for pattern in (_ANSWER_LINE, _BOXED, _HASHES):
        found = pattern.findall(text)
        if found:
            return str(found[-1]).strip()
    return None


def answer_from_output(output: str) -> str | None:
    """Fallback: the last non-empty line a tool printed, if it is short."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    if not lines or len(lines[-1]) > 200 or lines[-1].startswith(("Traceback", "ERROR")):
        return None
    # "objective = 1160" or "total: 42": the labelled number is the answer.
    labelled = re.fullmatch(r"[A-Za-z_][\w ]{0,40}[:=]\s*([-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?)", lines[-1])
    return labelled.group(1) if labelled else lines[-1]


def normalize(answer: str | None) -> str | None:
    """Trim decoration; write numbers canonically (1,234.50 → 1234.5; 7.0 → 7)."""
    if answer is None:
        return None
    text = answer.strip().strip("`").strip()
    text = re.sub(r"^\$+|\$+$", "", text).strip()
    text = re.sub(r"\\(?:text|mathrm)\{([^}]*)\}", r"\1", text)
    text = text.rstrip(".").strip()
    if not text:
        return None
    number = to_number(text)
    if number is not None:
        return format_number(number)
    return text


def to_number(text: str) -> float | None:
    """Parse 1,234 / -3.5 / 3/4 / 45% / $12 style numbers; None if not a number."""
    t = text.strip().replace("$", "").replace("\\$", "").strip()
    t = t.rstrip("%").strip()
    try:
        if _NUMBER.match(t) and any(ch.isdigit() for ch in t):
            value = float(t.replace(",", ""))
        elif re.fullmatch(r"[-+]?\d+\s*/\s*\d+", t):
            value = float(Fraction(t.replace(" ", "")))
        else:
            return None
    except (ValueError, ZeroDivisionError):
        return None
    return value  # "45%" scores as 45: datasets state percentages as numbers


def format_number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(round(value, 10))


def text_tool_calls(text: str) -> list[tuple[str, object]]:
    """``tool`` fenced blocks holding {"name": ..., "arguments": {...}}: tool calls for text-only models.

    Read by the client's ``fenced`` dialect (:mod:`solvegraph.llm`); an unreadable block is ``("", why)``.
    """
    parsed = parse_calls(text, "fenced")
    return [(c.name, c.arguments) for c in parsed.calls] + [("", e) for e in parsed.errors]
