"""Pools of sandboxed workers that judge model output: one pool per (call, backend, memory).

A scorer whose check runs code on model output (sympy's parser for ``math``, the gold CPMpy model for
``dcp``) never runs it in solvegraph's process: it runs in long-lived
:class:`~solvegraph.sandbox._worker.SandboxWorker` processes (the same seam as the SCIP, CP-SAT and Z3
workers), under the run's own sandbox backend. A check that hangs or blows the memory cap ends its
worker (replaced on the next call) and the caller gets that as the result; the run goes on.

A scoring thread takes an idle worker or starts one, up to the pool's ``max_workers``, so ``bench -j 8``
scores eight answers at once. Workers are stopped at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from ..sandbox import Limits, resolve_sandbox
from ..sandbox._worker import SandboxWorker

STARTUP_S = 120.0  # a new worker's imports


class WorkerPool:
    """Idle sandboxed workers of one backend for one function (``call``), taken one per check and given
    back after it. ``warm`` are arguments of a first call made as a worker starts, with a start-up
    deadline, so no answer's time limit pays for the imports."""

    def __init__(
        self, sandbox_mode: str, call: str, warm: tuple[Any, ...], memory_mb: int, max_workers: int = 16
    ) -> None:
        self.sandbox_mode, self.call_name, self.warm = sandbox_mode, call, warm
        self.memory_mb, self.max_workers = memory_mb, max_workers
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
                sandbox = resolve_sandbox(self.sandbox_mode)
                worker = SandboxWorker(sandbox, [self.call_name], Limits(memory_mb=self.memory_mb))
                worker.call(self.call_name, *self.warm, deadline_s=STARTUP_S)
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

    def run(self, *args: Any, time_limit_s: float) -> tuple[str, Any]:
        """``(kind, value)`` from a worker: ok with the result, or error/timeout/memory/crash."""
        with self.worker() as worker:
            kind, value = worker.call(self.call_name, *args, deadline_s=time_limit_s)
            if kind == "timeout":
                worker.close()
            return kind, value

    def close(self) -> None:
        with self._lock:
            workers, self._idle, self._all = list(self._all), [], set()
        for w in workers:
            with contextlib.suppress(Exception):
                w.close()


_pools: dict[tuple[str, str, int], WorkerPool] = {}
_pools_lock = threading.Lock()


def pool_of(call: str, warm: tuple[Any, ...], sandbox_mode: str, memory_mb: int, max_workers: int = 16) -> WorkerPool:
    with _pools_lock:
        key = (call, sandbox_mode, memory_mb)
        if key not in _pools:
            _pools[key] = WorkerPool(sandbox_mode, call, warm, memory_mb, max_workers)
        return _pools[key]


@atexit.register
def close_all() -> None:
    """Stop every scoring worker (at exit, or by a caller that wants them gone now)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
