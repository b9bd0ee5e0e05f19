"""Samples on a Ray cluster: ``solvegraph bench ... --ray ADDRESS`` (the ``solvegraph[ray]`` extra).

One actor per node (:class:`SampleWorker`) runs that node's share of the samples, many at once on
its own event loop, with its own sandboxed kernels and solver processes. A worker never writes to
the store: it returns each sample's result with the writes it would have made
(:class:`RecordingWriter`), and the driver lands them through its :class:`StoreWriter`, so the
results reach one store and ``--resume``, the limits, the progress bar and the report work as they
do locally.

A worker that dies mid-sample is restarted by Ray and its unfinished samples are sent again; since
only a returned sample is written, each sample is counted once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import sys
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ..errors import SolvegraphError
from ..memory.store import ALREADY_SCORED, Write
from ._errors import transient
from ._writer import SampleWriter, StoreWriter
from .datasets import Sample

if TYPE_CHECKING:
    from .runner import BenchRunner


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SolvegraphError("--ray needs Ray: pip install 'solvegraph[ray]'") from None
    return ray


class RecordingWriter(SampleWriter):
    """What a worker's sample would write, kept to be sent back to the driver."""

    def __init__(self) -> None:
        self.writes: list[Write] = []

    def _put(self, write: Write) -> Future[int | None]:
        self.writes.append(write)
        done: Future[int | None] = Future()
        done.set_result(0 if write.kind == "retract" else None)  # the driver retracts, and reports the count
        return done


class SampleWorker:
    """One per node: builds the run's parts once (model client, plugins, kernel pool) and runs samples."""

    def __init__(self, config: dict[str, Any], settings: Any, run_id: str, code: bool) -> None:
        from .runner import BenchConfig, BenchRunner

        self.runner = BenchRunner.on_worker(BenchConfig.from_dict(config), settings, run_id, code)

    def node(self) -> str:
        return str(_ray().get_runtime_context().get_node_id())

    async def run(self, sample: Sample) -> tuple[dict[str, Any], list[Write]]:
        recorder = RecordingWriter()
        result = await self.runner.run_sample(sample, recorder)
        return result, recorder.writes


async def run_on_ray(runner: BenchRunner, samples: list[Sample], address: str) -> list[dict[str, Any]]:
    """The driver: start one worker per alive node, hand out samples (``-j`` at a time), land what returns.

    Ray prints its own notices ("a worker died ..., the task will be retried") on standard output;
    while it runs they go to standard error, so ``--json`` output stays one JSON line.
    """
    with contextlib.redirect_stdout(sys.stderr):
        try:
            return await _drive(runner, samples, address)
        finally:
            ray = sys.modules.get("ray")
            if ray is not None and ray.is_initialized():
                ray.shutdown()


async def _drive(runner: BenchRunner, samples: list[Sample], address: str) -> list[dict[str, Any]]:
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    assert runner.run_id is not None
    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:
        # ray.init retries an unreachable head for minutes; one connection attempt says it at once.
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as exc:
            raise SolvegraphError(f"cannot join the Ray cluster at {address}: {exc.strerror or exc}") from None
    try:
        ray.init(address=address, ignore_reinit_error=True, logging_level="ERROR", log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise SolvegraphError(f"cannot join the Ray cluster at {address}: {' '.join(str(exc).split())[:200]}") from None
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    # Restarted on death (the samples it had in flight are sent again), never placed where it cannot run.
    actor = ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1, max_concurrency=max(1, runner.config.jobs))(
        SampleWorker
    )
    workers = [
        actor.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=True)).remote(
            runner.config.to_dict(), runner.settings, runner.run_id, runner.code
        )
        for n in nodes
    ]
    turn = itertools.cycle(workers)
    gate = asyncio.Semaphore(max(1, runner.config.jobs))
    writer = StoreWriter(runner.store, linger=0.0)  # a sample holds its slot until committed: no waiting to batch
    results: list[dict[str, Any]] = []
    in_flight: set[Any] = set()

    async def one(sample: Sample) -> None:
        async with gate:
            # Ctrl-C, or the run's money spent (counted here as samples return: those in flight finish).
            tries = 0
            while True:
                if runner.stopping.is_set() or runner.budget.reached.is_set():
                    return
                ref = next(turn).run.remote(sample)
                in_flight.add(ref)
                try:
                    result, writes = await ref
                    break
                except ray.exceptions.TaskCancelledError:
                    runner.abandoned += 1  # a second Ctrl-C: unscored, --resume runs it again
                    return
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None)  # e.g. the endpoint is down
                    if isinstance(cause, Exception) and transient(cause):
                        if runner._errored(sample, cause, tries):  # --retry-on-error, --fail-on-error
                            return
                        tries += 1
                        continue
                    if isinstance(cause, Exception):
                        raise cause from None
                    raise SolvegraphError(f"a sample failed on the Ray cluster: {str(exc).splitlines()[0]}") from None
                finally:
                    in_flight.discard(ref)
            runner.budget.spend(result.get("cost_usd"))
            landed = writer.replay(writes)
            if await asyncio.wrap_future(landed[-1]) == ALREADY_SCORED:  # done once its result is committed
                runner.already_scored += 1  # another process scored it first: not counted twice
                return
            retracted = [f.result() for w, f in zip(writes, landed, strict=True) if w.kind == "retract"]
            if retracted and retracted[0]:
                result["retracted_made_tools"] = retracted[0]
        results.append(result)
        if runner.on_result:
            runner.on_result(result)

    async def watch_abandon() -> None:
        while True:
            if runner.abandon.is_set():
                for ref in list(in_flight):
                    ray.cancel(ref)
            await asyncio.sleep(0.2)

    watcher = asyncio.ensure_future(watch_abandon())
    try:
        await asyncio.gather(*(one(s) for s in samples))
    finally:
        watcher.cancel()
        writer.close()
        for worker in workers:
            ray.kill(worker, no_restart=True)
    return results
