"""The ``math`` scorer: :mod:`._mathcheck` run in sandboxed workers, each call with a time limit.

sympy's parser evaluates what it reads and the answer is model output, so the comparison never runs in
solvegraph's process: it runs in a pool of sandboxed workers (:mod:`._pool`) under the run's own
sandbox backend. A comparison that hangs or blows the memory cap ends its worker (replaced on the next
call) and the sample is scored wrong with that reason; the run goes on. Up to :data:`MAX_WORKERS`
compare at once, so ``bench -j 8`` scores eight answers at once.
"""

from __future__ import annotations

import json
from typing import Any

from ..types import Score
from ._pool import WorkerPool, close_all, pool_of

CALL = "solvegraph.bench._mathcheck:compare"
TIME_LIMIT_S = 10.0  # one comparison; the worker's own deadline adds its grace on top
MEMORY_MB = 2048
MAX_WORKERS = 16


def pool_for(sandbox_mode: str, memory_mb: int = MEMORY_MB) -> WorkerPool:
    """The math workers of a backend (``pool.run(prediction, gold, time_limit_s=...)`` compares)."""
    return pool_of(CALL, ("1", "1"), sandbox_mode, memory_mb, MAX_WORKERS)


def close_pools() -> None:
    """Stop every scoring worker (the math scorer's and the others': at exit, or now)."""
    close_all()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict) and "answer" in value:
        return _text(value["answer"])
    return json.dumps(value)


def math_score(prediction: str | None, gold: Any, options: dict[str, Any] | None = None) -> Score:
    """MATH-grade equivalence, judged in a sandboxed worker under the run's backend (``options["sandbox"]``).

    Wrong, with the reason kept, when there is no answer, when it cannot be parsed, or when the
    comparison runs past its time limit or its memory.
    """
    if prediction is None or not str(prediction).strip():
        return Score(False, {"reason": "no answer"})
    options = options or {}
    pool = pool_for(str(options.get("sandbox", "auto")))
    limit = float(options.get("math_timeout", TIME_LIMIT_S))
    kind, value = pool.run(str(prediction), _text(gold), time_limit_s=limit)
    if kind == "ok":
        detail = {k: v for k, v in value.items() if k != "correct"}
        return Score(bool(value["correct"]), detail)
    if kind == "error":  # the gold itself could not be read
        return Score(False, {"error": value})
    if kind == "timeout":
        return Score(False, {"reason": f"the comparison ran past its {limit:g} s limit; its worker was stopped"})
    if kind == "memory":
        return Score(False, {"reason": f"the comparison crashed or ran out of memory ({MEMORY_MB} MB): {value}"})
    return Score(False, {"reason": f"the comparison failed: {value}"})
