"""Datasets: local JSONL files read into samples with stable ids (the contract is in :mod:`solvegraph.plugins`).

Data always comes from a file the user names; nothing is downloaded.
"""

from __future__ import annotations

from typing import Any

from ..plugins import Dataset, DatasetError, Loaded, RowFn, load_jsonl
from ..types import Sample

__all__ = ["Dataset", "DatasetError", "Loaded", "RowFn", "Sample", "load_jsonl", "text_field"]


def text_field(record: dict[str, Any], key: str) -> str:
    value = record[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field '{key}' must be non-empty text")
    return value
