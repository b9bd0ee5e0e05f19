"""A long-lived sandboxed worker that runs trusted solver functions on untrusted input.

The SCIP and CP-SAT solves and Z3 run here, not in solvegraph's own process: a
solver that segfaults, blows its memory cap or never returns kills only its worker,
and the caller gets a result saying so. Requests and replies are JSON lines over
the worker's stdin/stdout (never pickle: the reply comes from a process that read
model-written input). Only functions named on the command line may be called.

The lines are written with orjson (twenty times faster than ``json.dumps`` on a 12k-nonzero
model, the difference between a worker that costs a quick solve +35% and one that does not).
orjson writes a non-finite float as ``null``, which would silently turn an invalid
``"lb": Infinity`` into "no bound", so any line with a ``null`` in it is written again by
the standard library, which keeps ``Infinity``/``NaN`` for the validator to reject.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import select
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from ._backend import Sandbox, SandboxedProcess
from ._policy import Limits
from ._scratch import scratch_dir

GRACE_S = 2.0
PIPE_BYTES = 1 << 20  # a 12k-nonzero model is ~440 KB: one pipe's worth, not seven 64 KB round trips


def encode(value: Any) -> bytes:
    """One JSON line; exact for non-finite floats (see the module docstring)."""
    try:
        data: bytes | None = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # an int beyond 64 bits, a lone surrogate: the standard library writes those
        data = None
    if data is None or b"null" in data:  # a None, or a non-finite float orjson would have turned into one
        data = json.dumps(value, separators=(",", ":")).encode()
    return data + b"\n"


def decode(line: bytes) -> Any:
    """Parse one line written by ``encode`` (orjson rejects ``Infinity``; the stdlib reads it)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return json.loads(line)


def _widen(fd: int) -> None:
    with contextlib.suppress(OSError):  # F_SETPIPE_SZ: Linux only, capped by fs.pipe-max-size
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _serve(allowed: set[str]) -> None:
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a solver's own prints never corrupt the reply stream
    for line in iter(sys.stdin.buffer.readline, b""):
        try:
            request = decode(line)
            name = request["call"]
            if name not in allowed:
                raise PermissionError(f"{name} is not callable in this worker")
            module, _, attr = name.partition(":")
            fn = getattr(importlib.import_module(module), attr)
            reply = {"kind": "ok", "value": fn(*request.get("args", []), **request.get("kwargs", {}))}
        except ValueError as exc:
            reply = {"kind": "error", "value": str(exc)}
        except MemoryError:
            reply = {"kind": "memory", "value": ""}
        except Exception as exc:
            reply = {"kind": "crash", "value": f"{type(exc).__name__}: {exc}"}
        try:
            data = encode(reply)
        except (TypeError, ValueError, OverflowError) as exc:  # a value JSON cannot hold
            data = encode({"kind": "crash", "value": f"unencodable reply: {exc}"})
        out.write(data)
        out.flush()


_ROOT = str(Path(__file__).resolve().parent.parent.parent)
_BOOT = (
    "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    "runpy.run_module('solvegraph.sandbox._worker', run_name='__main__', alter_sys=True)"
)


class SandboxWorker:
    """The host's handle: ``call`` always returns ``(kind, value)``, kind one of
    ok | error | memory | crash | timeout."""

    def __init__(self, sandbox: Sandbox, allowed: list[str], limits: Limits) -> None:
        self.limits = limits
        self.workdir = scratch_dir("sg-worker-")
        self._lock = threading.Lock()
        # The worker imports the host's own solvegraph (the folder its package is in, which the sandbox binds),
        # not whichever one ``-I`` would find: a checkout run from PYTHONPATH next to an installed copy would
        # otherwise call functions of another version.
        argv = [sys.executable, "-I", "-c", _BOOT, _ROOT, *allowed]
        self.process: SandboxedProcess = sandbox.popen(argv, workdir=self.workdir, limits=limits)
        self.proc = self.process.proc
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                _widen(stream.fileno())

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, name: str, *args: Any, deadline_s: float, **kwargs: Any) -> tuple[str, Any]:
        with self._lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                self.proc.stdin.write(encode({"call": name, "args": args, "kwargs": kwargs}))
                self.proc.stdin.flush()
                line = self._readline(deadline_s + GRACE_S)
            except (BrokenPipeError, ConnectionResetError, OSError):
                line = b""
            if line is None:
                self.close()
                return "timeout", ""
            if not line:
                with contextlib.suppress(Exception):
                    self.proc.wait(timeout=5)
                code = self.proc.returncode
                self.close()
                # SIGSEGV, SIGKILL (cgroup OOM), SIGABRT, or Python's exit on an allocation failure
                crashed = code in (-11, -9, -6, 1, 128 + 11, 128 + 9, 128 + 6)  # bwrap reports 128+signal
                return ("memory" if crashed else "crash"), f"exit code {code}"
            try:
                reply = decode(line)
                return str(reply["kind"]), reply["value"]
            except (ValueError, KeyError, TypeError, RecursionError):  # a worker that went wrong is data too
                self.close()
                return "crash", "the worker sent an unreadable reply"

    def _readline(self, timeout: float) -> bytes | None:
        """One reply line, b'' if the worker died, None on timeout."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        data = b""
        while not data.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b""
            data += chunk
            if len(data) > 256 * 1024 * 1024:
                return b""
        return data

    def close(self) -> None:
        self.process.close()
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)


if __name__ == "__main__":
    _serve(set(sys.argv[1:]))
