"""The viewer's templates (autoescaped Jinja2, shipped as package data), their filters, and shared figures."""

from __future__ import annotations

import json
import math
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

from ..types import dollars

_env = Environment(loader=PackageLoader("solvegraph.view", "templates"), autoescape=select_autoescape(default=True))
_env.filters["pct"] = lambda v: f"{100 * (v or 0):.1f}%"
_env.filters["secs"] = lambda v: f"{v or 0:.2f} s"
_env.filters["usd"] = dollars
_env.filters["when"] = lambda v: (v or "")[:19].replace("T", " ")


def _gold(value: Any) -> str:
    """The gold answer as stored (JSON, so a bench keeps its type), shown as its value."""
    if value is None:
        return ""
    try:
        decoded = json.loads(value)
    except (TypeError, ValueError):
        return str(value)
    return decoded if isinstance(decoded, str) else json.dumps(decoded)


_env.filters["gold"] = _gold

_LEXERS = {"python": "python", "lean": "lean4", "smt": "smt"}


def _code(source: Any, tool: str = "") -> Markup:
    """Code as highlighted HTML (Pygments escapes every token, so model-written code stays text)."""
    try:
        lexer = get_lexer_by_name(_LEXERS.get(tool, tool or "text"))
    except ClassNotFound:
        lexer = TextLexer()
    return Markup(highlight(str(source), lexer, HtmlFormatter(nowrap=True, noclasses=True, style="monokai")))


_env.filters["code"] = _code


def render(name: str, **context: Any) -> str:
    return _env.get_template(name).render(**context)


def histogram(values: list[float], bins: int | None = None) -> dict[str, Any]:
    """Latency bins sized to the data (about sqrt(n), 3 to 20), with the axis' ends and the tallest bar."""
    if not values:
        return {"bars": [], "lo": 0.0, "hi": 0.0, "peak": 0}
    bins = bins or max(3, min(20, round(math.sqrt(len(values)))))
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    edges = [lo + span * i / bins for i in range(bins + 1)]
    bars = [{"n": c, "from": edges[i], "to": edges[i + 1]} for i, c in enumerate(counts)]
    return {"bars": bars, "lo": lo, "hi": hi, "peak": max(counts)}
