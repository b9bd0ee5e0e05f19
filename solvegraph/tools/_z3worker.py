"""Z3 in a child process: a memory cap it cannot exceed and a deadline that always holds.

Z3's own ``memory_max_size`` is a soft limit that can take the whole process down
(seen here: a segfault at 16 MB). So each session gets a long-lived worker with
RLIMIT_AS set, reached over a pipe (about a millisecond per call). A worker that
dies or overruns its deadline is killed and replaced; the caller gets a result.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
from multiprocessing.connection import Connection
from typing import Any

GRACE_S = 2.0


def _serve(conn: Connection, memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from .smt import solve_tracked

    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", solve_tracked(*request)))
        except ValueError as exc:
            conn.send(("error", str(exc)))
        except MemoryError:
            conn.send(("memory", ""))
        except Exception as exc:
            conn.send(("crash", f"{type(exc).__name__}: {exc}"))


class Z3Worker:
    def __init__(self, memory_mb: int) -> None:
        self.memory_mb = memory_mb
        ctx = mp.get_context("spawn")  # never fork a threaded parent
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, memory_mb), daemon=True, name="sg-z3")
        self.proc.start()
        child.close()

    def solve(self, request: tuple[Any, ...], deadline_s: float) -> tuple[str, Any]:
        """("ok", result) | ("error", z3 text) | ("memory", "") | ("crash", text) | ("timeout", "")."""
        try:
            self.conn.send(request)
            if not self.conn.poll(deadline_s + GRACE_S):
                self.close()
                return "timeout", ""
            return self.conn.recv()  # type: ignore[no-any-return]
        except (EOFError, BrokenPipeError, ConnectionResetError):
            code = self.proc.exitcode
            self.close()
            return "memory" if code in (-11, -9, -6, 1) else "crash", f"exit code {code}"

    @property
    def alive(self) -> bool:
        return self.proc.is_alive()

    def close(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()
