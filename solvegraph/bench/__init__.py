"""Benchmarks: datasets from local files, and scorers. Both are plugin hooks."""

from .datasets import Dataset, DatasetError, Loaded, Sample, load_jsonl
from .scorers import Score, Scorer, exact_score, numeric_score, objective_score

__all__ = [
    "Dataset",
    "DatasetError",
    "Loaded",
    "Sample",
    "Score",
    "Scorer",
    "exact_score",
    "load_jsonl",
    "numeric_score",
    "objective_score",
]
