"""A benchmark's store writes, off the hot path: queued by the samples, landed in batches by one thread.

A sample in flight never waits on the database for its steps: :meth:`StoreWriter.step` only queues.
One writer thread takes everything queued within ``linger`` seconds of the first write it sees (up to
``max_batch``) and lands it in one transaction, in queue order. The wait gathers bigger batches: a
transaction's fixed cost is most of the writer's CPU (a direct bench of 800 samples at ``-j 32`` took
230-410 transactions and 0.7-0.95 s of the writer's CPU without it, about 50 and 0.28 s with 25 ms),
and the writer's CPU is taken from the samples' event loop (the GIL).

A sample's result (``finish``) is queued after its steps and returns a future that completes once the
result is committed; the runner counts the sample done only then.

So ``--resume`` keeps its promise: a sample has an outcome in the store only if it and all its steps
are committed; if the process dies with writes still queued, those samples have no outcome and are
run again, once.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future
from typing import Any

from ..memory import Step, Trajectory, TrajectoryLog
from ..memory.store import Write, finish_values

_STOP = object()


class SampleWriter:
    r"""Where a running sample's writes go, as :class:`Write`\ s: the store's writer thread
    (:class:`StoreWriter`), or a Ray worker's recording. Subclasses say what ``_put`` does with one."""

    def begin(self, trajectory: Trajectory, run_id: str, sample_id: str | None, gold: str | None) -> None:
        self._put(Write("begin", (trajectory, run_id, sample_id, gold)))

    def step(self, trajectory_id: str, seq: int, step: Step) -> None:
        self._put(Write("step", (trajectory_id, seq, step)))

    def retract(self, problem: str, answer: str) -> Future[int | None]:
        """Its future holds how many made tools the retraction removed."""
        return self._put(Write("retract", (problem, answer)))

    def finish(self, trajectory: Trajectory, **result: Any) -> Future[int | None]:
        # The values are taken now, from the trajectory as the sample left it; its certificates land in the
        # same batch (a batch is one transaction, and it lands finishes before certificates).
        if trajectory.certificates:
            self._put(Write("certificates", (list(trajectory.certificates),)))
        return self._put(Write("finish", (trajectory.id, finish_values(trajectory, **result))))

    def _put(self, write: Write) -> Future[int | None]:
        raise NotImplementedError


class StoreWriter(SampleWriter):
    LINGER = 0.025  # seconds; 0 where a sample holds its -j slot until committed (-j 1, Ray)

    def __init__(self, store: TrajectoryLog, *, max_batch: int = 512, linger: float = LINGER) -> None:
        self.store, self.max_batch, self.linger = store, max_batch, linger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._drain, name="sg-store-writer", daemon=True)
        self._thread.start()
        self.batches = 0  # how many transactions it took, for benchmarks

    def replay(self, writes: list[Write]) -> list[Future[int | None]]:
        """Queue writes a Ray worker made for one sample, in their order; one future each."""
        return [self._put(w) for w in writes]

    def close(self) -> None:
        """Land everything queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _put(self, write: Write) -> Future[int | None]:
        done: Future[int | None] = Future()
        self._queue.put((write, done))
        return done

    def _drain(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            until = time.monotonic() + self.linger
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            try:
                results = self.store.write_batch([w for w, _ in batch])
            except BaseException as exc:  # a StoreError: every waiting sample hears it
                for _, done in batch:
                    done.set_exception(exc)
            else:
                self.batches += 1
                for (_, done), result in zip(batch, results, strict=True):
                    done.set_result(result)
            if stop:
                return
