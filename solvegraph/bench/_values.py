"""The ``values`` scorer: several named numbers in one answer, each against its gold.

OptiBench (ReSocratic's original) asks for several quantities per problem (the optimum, and often the
decision variables: "Number of Trucks for GoodsX", "Total Profit", ...), and a problem is right only
when every one of them is. The gold is ``{label: number}``. The answer may give them as

- one JSON object ``{"label": value, ...}`` (what the question asks for);
- ``label: value`` (or ``label = value``) pairs, one a line or separated by ``;``;
- only the numbers, in the order the question listed the labels (a JSON list, or comma-separated),
  when there are exactly as many.

Labels are matched without regard to case, spacing and punctuation. A value is close when it is within
1e-4 of the gold (ReSocratic's own check, on answers rounded to 5 decimals) or within 1e-6 relative (a
large number written with fewer decimals). A label with no value, or a value that is not a number, is
wrong; the detail names each label with its gold, its value and whether it matched.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..types import Score

ABS_TOL = 1e-4
REL_TOL = 1e-6

_PAIR = re.compile(r"^\s*[-*•]?\s*(.+?)\s*[:=]\s*(.+?)\s*$")


def label_key(label: str) -> str:
    """A label as matched: lower case, letters and digits only, single spaces."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", label.lower()).split())


def _number(value: Any) -> float | None:
    from .scorers import _number as number  # commas, $, %, fractions and trailing units stripped

    if isinstance(value, str):
        value = value.strip().rstrip(".,;")
    return number(value)


def read_values(prediction: str, labels: list[str]) -> dict[str, Any]:
    """``{label key: the value given}`` for the labels the answer names (see the module docstring)."""
    text = prediction.strip()
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            found = json.loads(text[start : end + 1])
        except ValueError:
            found = None
        if isinstance(found, dict):
            return {label_key(str(k)): v for k, v in found.items()}
    pairs: dict[str, Any] = {}
    for line in re.split(r"[\n;]", text):
        match = _PAIR.match(line)
        if match:
            pairs[label_key(match.group(1))] = match.group(2)
    if pairs:
        return pairs
    items: Any = None
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
    if not isinstance(items, list):
        items = [part for part in re.split(r"\s*,\s+|,(?![0-9]{3}\b)", text) if part]
    if len(items) == len(labels):
        return {label_key(label): item for label, item in zip(labels, items, strict=True)}
    return {}


def close(got: float, want: float) -> bool:
    return abs(got - want) <= ABS_TOL or abs(got - want) <= REL_TOL * abs(want)


def values_score(prediction: str | None, gold: Any) -> Score:
    """Right when every gold label has a value within tolerance (see the module docstring)."""
    if not isinstance(gold, dict) or not gold:
        return Score(False, {"error": f"gold {gold!r} is not a set of named numbers"})
    labels = list(gold)
    given = read_values(prediction or "", labels)
    if not given:
        return Score(False, {"reason": "no values: the answer names none of the asked quantities"})
    checks, right = [], 0
    for label in labels:
        want = _number(gold[label])
        if want is None:
            return Score(False, {"error": f"gold {gold[label]!r} of {label!r} is not a number"})
        raw = given.get(label_key(label))
        got = _number(raw) if raw is not None else None
        ok = got is not None and close(got, want)
        right += ok
        checks.append({"label": label, "gold": want, "answer": raw if got is None else got, "ok": ok})
    detail: dict[str, Any] = {"matched": f"{right}/{len(labels)}", "values": checks}
    if right < len(labels):
        wrong = [c["label"] for c in checks if not c["ok"]]
        detail["reason"] = f"{len(wrong)} of {len(labels)} values missing or wrong: {', '.join(wrong)}"
    return Score(right == len(labels), detail)
