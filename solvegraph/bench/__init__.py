"""Benchmarks: datasets (local files, or pinned sources fetched once: :mod:`._registry`), and scorers.

Datasets and scorers are plugin hooks; a plugin's dataset may :func:`register` its pinned source too.
"""

from . import _registry as registry
from ._registry import Pinned, register
from .datasets import Dataset, DatasetError, Loaded, Sample, load_jsonl
from .scorers import Score, Scorer, exact_score, numeric_score, objective_score

__all__ = [
    "Dataset",
    "DatasetError",
    "Loaded",
    "Pinned",
    "Sample",
    "Score",
    "Scorer",
    "exact_score",
    "load_jsonl",
    "numeric_score",
    "objective_score",
    "register",
    "registry",
]
