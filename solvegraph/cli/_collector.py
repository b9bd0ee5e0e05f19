"""Python's cyclic garbage collector, paused while a command starts, and skipped at its exit.

Starting, a command imports what it uses (SQLAlchemy, pydantic, aiohttp, the tools) and builds its
settings: objects that live until exit. Before its first model request a cold ``solve`` ran ~220
collections (~50 ms, one full pass ~16 ms of it) over them. So :func:`pause` (first thing in ``main``)
stops the collector, and the command calls :func:`started` once its start is over (``runner_for``: the
runner is assembled; ``bench``: its samples are about to run): what exists then is frozen, never scanned
again, and collection goes on as usual. A command that never calls it gets the collector back after
``bound_s`` all the same. The cost: garbage in cycles made during the start is kept until exit.

At exit, :func:`pause` has the interpreter's teardown free what is left without the collector's final
passes (0.10-0.15 s of a bench's or a solve's exit). What is not in a reference cycle is freed as before;
objects in cycles are left to the process's end, their ``__del__`` not run (Python never promises it at
exit). The freeze runs after every exit handler registered since the command began (the kernels', the
embedded server's), and before those registered at import (logging's flush, which needs no collector).
"""

from __future__ import annotations

import atexit
import gc
import threading

_lock = threading.Lock()
_paused = False


def pause(bound_s: float = 2.0) -> None:
    """Stop the collector until :func:`started` (or ``bound_s`` seconds); freeze everything at exit."""
    global _paused
    atexit.register(gc.freeze)  # exit handlers run last-registered first: after those the command adds
    with _lock:
        gc.disable()
        _paused = True
    timer = threading.Timer(bound_s, started)
    timer.daemon = True
    timer.start()


def started() -> None:
    """The command's start is over: freeze what it made and collect as usual again (once; no-op if not paused)."""
    global _paused
    with _lock:
        if not _paused:
            return
        _paused = False
        gc.freeze()
        gc.enable()
