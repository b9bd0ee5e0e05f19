"""Worked examples for the planner and solver: the most similar *verified* trajectories.

The problem being solved, its duplicates (same content hash) and anything from the
same dataset sample are always excluded, so memory can never leak a benchmark's
answer into its own evaluation.
"""

from __future__ import annotations

from .store import ReuseStore, TrajectoryStore, content_hash
from .toolmaking import python_code

MAX_EXAMPLE_CHARS = 1500


def similar_verified(
    store: ReuseStore, problem: str, k: int = 3, *, exclude_dataset_id: str | None = None
) -> list[dict]:
    return store.search(
        problem, k=k, verified_only=True, exclude_hash=content_hash(problem), exclude_dataset_id=exclude_dataset_id
    )


def worked_examples(store: TrajectoryStore, problem: str, k: int = 3, *, exclude_dataset_id: str | None = None) -> str:
    """Text to put before the problem: each similar solved problem, its code and its answer."""
    hits = similar_verified(store, problem, k, exclude_dataset_id=exclude_dataset_id)
    blocks = []
    for hit in hits:
        if not hit["trajectory"]:
            continue
        trajectory = store.load(hit["trajectory"])
        code = python_code(trajectory)
        example = f"Problem: {hit['problem'].strip()}\n"
        if code:
            example += f"Code that solved it:\n```python\n{code[-1].strip()}\n```\n"
        example += f"Answer: {hit['answer']}"
        blocks.append(example[:MAX_EXAMPLE_CHARS])
    if not blocks:
        return ""
    return "Worked examples of similar problems solved and verified before:\n\n" + "\n\n".join(blocks)
