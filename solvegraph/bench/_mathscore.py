"""The ``math`` scorer: :mod:`._mathcheck` run in sandboxed workers, each call with a time limit.

sympy's parser evaluates what it reads and the answer is model output, so the comparison never runs in
solvegraph's process: it runs in long-lived :class:`~solvegraph.sandbox._worker.SandboxWorker`
processes (the same seam as the SCIP, CP-SAT and Z3 workers), under the run's own sandbox backend.
A comparison that hangs or blows the memory cap ends its worker (replaced on the next call) and the
sample is scored wrong with that reason; the run goes on.

Workers are pooled per backend: a scoring thread takes an idle worker or starts one, up to
:data:`MAX_WORKERS`, so ``bench -j 8`` scores eight answers at once. They are stopped at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from ..sandbox import Limits, resolve_sandbox
from ..sandbox._worker import SandboxWorker
from ..types import Score

CALL = "solvegraph.bench._mathcheck:compare"
TIME_LIMIT_S = 10.0  # one comparison; the worker's own deadline adds its grace on top
STARTUP_S = 120.0  # a new worker's imports
MEMORY_MB = 2048
MAX_WORKERS = 16


class WorkerPool:
    """Idle sandboxed workers of one backend, taken one per comparison and given back after it."""

    def __init__(self, sandbox_mode: str, memory_mb: int = MEMORY_MB, max_workers: int = MAX_WORKERS) -> None:
        self.sandbox_mode, self.memory_mb, self.max_workers = sandbox_mode, memory_mb, max_workers
        self._idle: list[SandboxWorker] = []
        self._all: set[SandboxWorker] = set()
        self._starting = 0
        self._lock = threading.Condition()

    @contextlib.contextmanager
    def worker(self) -> Iterator[SandboxWorker]:
        with self._lock:
            while not self._idle and len(self._all) + self._starting >= self.max_workers:
                self._lock.wait()
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self._starting += 1  # its place is held while it starts, outside the lock
        if worker is None:
            try:
                worker = SandboxWorker(resolve_sandbox(self.sandbox_mode), [CALL], Limits(memory_mb=self.memory_mb))
                # The first call imports sympy and math-verify (seconds, more with -j 8 on few cores): it is
                # made here with a start-up deadline, so no answer's time limit pays for it.
                worker.call(CALL, "1", "1", deadline_s=STARTUP_S)
            finally:
                with self._lock:
                    self._starting -= 1
                    if worker is not None:
                        self._all.add(worker)
                    self._lock.notify()
        try:
            yield worker
        finally:
            with self._lock:
                if worker.alive:
                    self._idle.append(worker)
                else:
                    self._all.discard(worker)
                self._lock.notify()

    def compare(self, prediction: str, gold: str, time_limit_s: float = TIME_LIMIT_S) -> tuple[str, Any]:
        """``(kind, value)`` from the worker: ok with the comparison, or error/timeout/memory/crash."""
        with self.worker() as worker:
            kind, value = worker.call(CALL, prediction, gold, deadline_s=time_limit_s)
            if kind == "timeout":
                worker.close()
            return kind, value

    def close(self) -> None:
        with self._lock:
            workers, self._idle, self._all = list(self._all), [], set()
        for w in workers:
            with contextlib.suppress(Exception):
                w.close()


_pools: dict[tuple[str, int], WorkerPool] = {}
_pools_lock = threading.Lock()


def pool_for(sandbox_mode: str, memory_mb: int = MEMORY_MB) -> WorkerPool:
    with _pools_lock:
        key = (sandbox_mode, memory_mb)
        if key not in _pools:
            _pools[key] = WorkerPool(sandbox_mode, memory_mb)
        return _pools[key]


@atexit.register
def close_pools() -> None:
    """Stop every math worker (at exit, or by a caller that wants them gone now)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


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
    kind, value = pool.compare(str(prediction), _text(gold), limit)
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
