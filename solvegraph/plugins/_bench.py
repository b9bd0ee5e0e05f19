"""The benchmark contracts a plugin provides: datasets (how to read a file into samples) and scorers.

They sit with the other plugin contracts (:class:`Tool`, :class:`Verifier`) because the hook specs
name them; the built-in datasets and scorers in :mod:`solvegraph.bench` are plugins like any other.
A malformed line is reported as ``file:line: reason``, skipped and counted, never fatal.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SolvegraphError
from ..types import Sample, Score


class DatasetError(SolvegraphError):
    """The dataset file cannot be used at all (missing, unreadable)."""


@dataclass
class Loaded:
    samples: list[Sample]
    skipped: list[str]  # "file:line: reason"


RowFn = Callable[[dict[str, Any], int], Sample]


@dataclass
class Dataset:
    """A named dataset: how to turn one JSON record into a :class:`Sample`, and how to score it."""

    name: str
    description: str
    row: RowFn
    scorer: str
    file_hint: str = ""  # where the file usually sits, for messages only
    plugin: str = ""
    # A dataset that is not JSONL (e.g. a folder of .lean files) brings its own reader.
    reader: Callable[[Path], Loaded] | None = None
    # Raises DatasetError when the run lacks what the dataset needs (e.g. a Mathlib project).
    check_ready: Callable[[dict[str, Any]], None] | None = None

    def load(self, path: str | Path) -> Loaded:
        if self.reader is not None:
            if not Path(path).exists():
                raise DatasetError(f"dataset path not found: {path}")
            return self.reader(Path(path))
        return load_jsonl(path, self.row)

    def ready(self, options: dict[str, Any]) -> None:
        if self.check_ready is not None:
            self.check_ready(options)


def load_jsonl(path: str | Path, row: RowFn) -> Loaded:
    """Every line of a JSONL file through ``row``; a line it cannot use is skipped and said.

    A field that no line has is a mistake in the command (``--question-field body`` for a file whose
    field is ``Body``), not a thousand bad lines: it raises at once, naming the fields the file has and
    the nearest one.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}")
    samples: list[Sample] = []
    skipped: list[str] = []
    seen: set[str] = set()
    records = 0
    fields: dict[str, None] = {}  # every field any line has, in first-seen order
    missing: dict[str, int] = {}  # field → lines skipped for lacking it
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read dataset file {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("a record must be a JSON object")
            records += 1
            fields.update(dict.fromkeys(record))
            sample = row(record, number)
        except json.JSONDecodeError as exc:
            skipped.append(f"{path}:{number}: invalid JSON: {exc.msg}")
            continue
        except KeyError as exc:
            name = str(exc.args[0]) if exc.args else ""
            missing[name] = missing.get(name, 0) + 1
            skipped.append(f"{path}:{number}: missing field {exc}")
            continue
        except (ValueError, TypeError) as exc:
            skipped.append(f"{path}:{number}: {exc}")
            continue
        if sample.id in seen:
            skipped.append(f"{path}:{number}: duplicate sample id {sample.id!r}")
            continue
        seen.add(sample.id)
        samples.append(sample)
    absent = [name for name, n in missing.items() if n == records]
    if records and absent:
        raise DatasetError(_no_line_has(path, absent[0], list(fields)))
    return Loaded(samples, skipped)


def _no_line_has(path: Path, name: str, fields: list[str]) -> str:
    by_lower = {f.lower(): f for f in fields}
    near = [by_lower[m] for m in difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)]
    hint = f"; did you mean '{near[0]}'?" if near else ""
    have = ", ".join(fields[:20]) + (f" and {len(fields) - 20} more" if len(fields) > 20 else "")
    return f"no line of {path} has the field '{name}'; its fields: {have}{hint}"


@dataclass
class Scorer:
    """A named way to compare an answer with the gold.

    ``score(prediction, gold)`` returns a :class:`Score`. A scorer that needs more declares keywords:
    ``trajectory`` (the run's record, as a dict: the evidence), ``options`` (the run's tool options) and
    ``plugins`` (the :class:`PluginManager`, through which a scorer reaches tools to re-check an answer).
    """

    name: str
    description: str
    score: Callable[..., Score]
    plugin: str = ""
