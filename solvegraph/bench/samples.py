"""A run's samples as flat rows: ``runs export --samples``, the viewer's downloads, ``bench report --json``.

One row per sample with :data:`COLUMNS`. A benchmark sample is one scored row of ``Store.results``; a
solve or a chat turn, which has no gold and no scorer, is one trajectory of the run: its ``id`` is the
trajectory id, ``gold`` is None and ``outcome`` is the trajectory's status (solved, unsolved, error, ...).
``gold`` is the stored value decoded (a bench stores it as JSON so it keeps its type); ``cost`` is US
dollars or None where the model had no price; ``latency`` is seconds.

JSON Lines (:func:`to_jsonl`) is the exact record. CSV (:func:`to_csv`) is for spreadsheets; see there for
how a cell that a spreadsheet would run as a formula is written.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from ..types import Trajectory

COLUMNS = ("id", "question", "gold", "answer", "outcome", "trust", "model", "tokens", "cost", "latency")

# What a spreadsheet (Excel, LibreOffice, Google Sheets) reads as the start of a formula or a DDE call.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _decoded(gold: Any) -> Any:
    if gold is None:
        return None
    try:
        return json.loads(gold)
    except (TypeError, ValueError):
        return gold


def rows_from_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of a benchmark run's scored samples (``Store.results``), in the same order."""
    return [
        {
            "id": r["sample"],
            "question": r["question"],
            "gold": _decoded(r["gold"]),
            "answer": r["answer"],
            "outcome": r["outcome"],
            "trust": r.get("trust") or "",
            "model": r.get("model") or "",
            "tokens": r["tokens"],
            "cost": r["cost_usd"],
            "latency": r["latency_s"],
        }
        for r in results
    ]


def row_of_trajectory(t: Trajectory) -> dict[str, Any]:
    """The row of a solve or a chat turn: one trajectory, with no gold and its status as the outcome."""
    usage = t.usage
    return {
        "id": t.id,
        "question": t.problem,
        "gold": None,
        "answer": t.answer,
        "outcome": t.status,
        "trust": t.trust,
        "model": t.model,
        "tokens": usage.total_tokens,
        "cost": usage.cost_usd,
        "latency": t.finished_at - t.started_at if t.finished_at else None,
    }


def sample_rows(store: Any, run_id: str, kind: str) -> list[dict[str, Any]]:
    """The rows of run ``run_id`` (a full id) of ``kind``: a bench's scored samples, else its trajectories."""
    if kind == "bench":
        return rows_from_results(store.results(run_id))
    _, ids = store.resolve(run_id)
    return [row_of_trajectory(store.load(i)) for i in ids]


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    """One JSON object per line, keys in :data:`COLUMNS` order (values as they are: the exact record)."""
    return "".join(json.dumps({c: r[c] for c in COLUMNS}) + "\n" for r in rows)


def _cell(value: Any) -> str | int | float:
    """A CSV cell. Text that a spreadsheet would run as a formula gets a leading ``'`` (see :func:`to_csv`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def to_csv(rows: list[dict[str, Any]]) -> str:
    """A header of :data:`COLUMNS` and one row per sample, written by the csv module (RFC 4180 quoting:
    commas, quotes and newlines in a question or an answer are quoted and read back unchanged).

    Formula injection: every text cell here is data from outside (a dataset's question and gold, the
    model's answer, even the model's name), and a spreadsheet runs a cell that starts with ``=``, ``+``,
    ``-`` or ``@`` (or a tab or a carriage return) as a formula, e.g. ``=HYPERLINK(...)`` or a DDE call.
    Such a text cell is written with a leading apostrophe (``'=1+2``), which spreadsheets show as text;
    the OWASP advice. A plain number (``-3``, ``+1.5``, ``-2e3``) is left alone: a spreadsheet reads it as
    the number it is, and math answers are often negative. So a CSV cell that starts with ``'`` followed
    by one of those characters had the apostrophe added here; the JSON Lines export has every value
    exactly as stored. Numbers we compute (tokens, cost, latency) are written as numbers; None is empty.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_cell(r[c]) for c in COLUMNS])
    return buffer.getvalue()
