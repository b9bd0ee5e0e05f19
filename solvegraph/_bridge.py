"""Driving an async generator from synchronous code: the sync-over-async bridge.

The solve's core is asynchronous (LangGraph's ``astream``, the model awaited); the synchronous API
(``SolveRunner.solve``/``stream``, ``solvegraph.solve``) runs it through :func:`iterate`, on a private
event loop, or on a worker thread's loop when the calling thread already runs one (a notebook). It
knows nothing of solvegraph: a client is anything with an ``aclose()`` coroutine.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def iterate(stream: AsyncGenerator[T, None], client: Any = None) -> Iterator[T]:
    """Drive an async generator from synchronous code, item by item.

    It runs on a private event loop in the calling thread; in a thread that already runs a loop (a
    notebook), on a worker thread's loop. The whole generator runs inside one task, so context set
    across its yields (a tracing span) stays consistent. Ctrl-C (or the caller stopping early) cancels
    that task, which cancels the graph; the exception is then raised here. ``client``'s connections
    for that loop are closed at the end (``aclose``).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _on_private_loop(stream, client)
    return _on_worker_thread(stream, client)


async def _pump(
    stream: AsyncGenerator[T, None], put: Callable[[tuple[bool, Any]], None], more: Any, body: list[Any]
) -> None:
    """Run ``stream`` to its end inside one task, handing each item to ``put`` (then awaiting ``more``, if
    given); the end is ``(False, None)``, a failure ``(False, exc)``. Only that inner task (``body[0]``) is
    cancelled when the caller stops, so what the caller does after this returns (closing the model
    client's connections) is never cut short."""

    async def consume() -> None:
        # Closed in this task, even when cancelled: what the solve set in its context (a tracing span) is
        # unwound in the context that set it.
        async with contextlib.aclosing(stream) as items:
            async for item in items:
                put((True, item))
                if more is not None:
                    await more.wait()  # the caller takes one item at a time, as from a plain generator
                    more.clear()

    body.append(asyncio.ensure_future(consume()))
    try:
        await body[0]
        put((False, None))
    except asyncio.CancelledError:
        put((False, None))
    except BaseException as exc:  # handed to the caller, raised there
        put((False, exc))


async def _closing(client: Any) -> None:
    """Close ``client``'s connections on this loop (a tuple: each one's, the roles' clients too)."""
    for one in client if isinstance(client, tuple) else (client,):
        closer = getattr(one, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


def _on_private_loop(stream: AsyncGenerator[T, None], client: Any) -> Iterator[T]:
    loop = asyncio.new_event_loop()
    items: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
    more = asyncio.Event()
    body: list[asyncio.Future[None]] = []
    task = loop.create_task(_pump(stream, items.put_nowait, more, body))
    try:
        while True:
            ok, value = loop.run_until_complete(items.get())
            if not ok:
                if value is not None:
                    raise value
                return
            yield value
            more.set()
    except BaseException:  # Ctrl-C while waiting, or the caller stopped early: cancel the solve
        if body and not body[0].done():
            body[0].cancel()
        raise
    finally:
        with contextlib.suppress(BaseException):
            loop.run_until_complete(task)
        with contextlib.suppress(BaseException):
            loop.run_until_complete(_closing(client))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _on_worker_thread(stream: AsyncGenerator[T, None], client: Any) -> Iterator[T]:
    out: queue.Queue[tuple[bool, Any]] = queue.Queue()
    body: list[asyncio.Future[None]] = []
    started = threading.Event()
    loops: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        loops.append(asyncio.get_running_loop())
        pumping = asyncio.ensure_future(_pump(stream, out.put, None, body))
        await asyncio.sleep(0)  # the pump has made its inner task
        started.set()
        try:
            await pumping
        finally:
            await _closing(client)

    worker = threading.Thread(target=lambda: asyncio.run(main()), name="sg-solve", daemon=True)
    worker.start()
    started.wait()
    try:
        while True:
            ok, value = out.get()
            if not ok:
                if value is not None:
                    raise value
                return
            yield value
    finally:
        if body and not body[0].done():
            loops[0].call_soon_threadsafe(body[0].cancel)
        worker.join()


__all__ = ["iterate"]
