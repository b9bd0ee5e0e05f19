"""A small warm pool of kernels, so a new solving session never waits for a boot.

Booting ipykernel costs about 0.9 s of CPU here; a benchmark that boots one per
problem is CPU-bound on boots alone. The pool keeps ``size`` kernels started,
hands each session a clean one (fresh, or recycled with its namespace and working
directory reset) and retires a kernel after ``max_uses`` sessions or any breakage.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading

from ._kernel import Kernel


class KernelPool:
    def __init__(self, size: int = 1, memory_mb: int = 4096, max_uses: int = 20, output_cap: int = 20_000) -> None:
        self.size = size
        self.memory_mb = memory_mb
        self.max_uses = max_uses
        self.output_cap = output_cap
        self._idle: list[Kernel] = []
        self._sessions: dict[int, int] = {}  # id(kernel) -> sessions served
        self._lock = threading.Lock()
        self._starting = 0
        self._in_use = 0
        self._closed = False
        self._workdirs: dict[int, str] = {}

    def _new_kernel(self) -> Kernel:
        return Kernel(memory_mb=self.memory_mb, output_cap=self.output_cap)

    def warm(self) -> None:
        """Start kernels in the background until ``size`` exist (idle, starting or in use)."""
        with self._lock:
            missing = self.size - len(self._idle) - self._starting - self._in_use
            if self._closed or missing <= 0:
                return
            self._starting += missing
        for _ in range(missing):
            threading.Thread(target=self._start_one, daemon=True, name="sg-kernel-warm").start()

    def _start_one(self) -> None:
        try:
            kernel = self._new_kernel()
        except Exception:
            with self._lock:
                self._starting -= 1
            return
        with self._lock:
            self._starting -= 1
            if self._closed:
                kernel.shutdown()
                return
            self._idle.append(kernel)

    def acquire(self) -> Kernel:
        """A clean kernel in a fresh temporary working directory."""
        with self._lock:
            kernel = self._idle.pop() if self._idle else None
            self._in_use += 1
        if kernel is not None and not kernel.is_alive():
            kernel.shutdown()
            kernel = None
        try:
            if kernel is None:
                kernel = self._new_kernel()
            workdir = tempfile.mkdtemp(prefix="sg-session-")
            kernel.reset(workdir)
        except BaseException:
            with self._lock:
                self._in_use -= 1
            raise
        with self._lock:
            self._workdirs[id(kernel)] = workdir
        return kernel

    def release(self, kernel: Kernel) -> None:
        """Return a kernel after a session: recycle it clean, or retire it."""
        with self._lock:
            self._in_use -= 1
            workdir = self._workdirs.pop(id(kernel), None)
            served = self._sessions.get(id(kernel), 0) + 1
            self._sessions[id(kernel)] = served
            keep = not self._closed and len(self._idle) < self.size and served < self.max_uses
        if keep and kernel.is_alive():
            try:
                kernel.reset(kernel._runtime)  # leave the session folder before it is removed
            except Exception:
                keep = False
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        if keep and kernel.is_alive():
            with self._lock:
                self._idle.append(kernel)
            return
        with self._lock:
            self._sessions.pop(id(kernel), None)
        kernel.shutdown()
        self.warm()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for kernel in idle:
            kernel.shutdown()


_default: KernelPool | None = None
_default_lock = threading.Lock()


def default_pool(memory_mb: int = 4096, size: int = 1) -> KernelPool:
    """The process-wide pool, created on first use and closed at exit."""
    global _default
    with _default_lock:
        if _default is None or _default._closed or _default.memory_mb != memory_mb:
            if _default is not None:
                _default.close()
            _default = KernelPool(size=size, memory_mb=memory_mb)
            _default.warm()
            atexit.register(_default.close)
        elif size > _default.size:
            _default.size = size
        return _default


def close_default_pool() -> None:
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
            _default = None
