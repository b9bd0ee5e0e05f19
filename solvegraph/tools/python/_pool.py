"""Fresh kernels prepared ahead, so a session never waits for one and never gets a used one.

Each kernel serves exactly one session and is killed after it (with every process
it started). The pool keeps ``size`` unused kernels forked from the sandbox's
preloaded template (a few milliseconds of fork plus ipykernel's own set-up, instead
of a 0.9 s boot), refilled in the background as sessions take them.
"""

from __future__ import annotations

import atexit
import contextlib
import threading

from ...sandbox import Limits, Sandbox, SandboxError, resolve_sandbox
from ...sandbox._kernels import KernelFactory
from ._kernel import Kernel


class KernelPool:
    def __init__(self, size: int = 1, limits: Limits | None = None, sandbox: Sandbox | None = None) -> None:
        self.size = size
        self.limits = limits or Limits()
        self.sandbox = sandbox or resolve_sandbox("auto")
        self._idle: list[Kernel] = []
        self._lock = threading.Lock()
        self._starting = 0
        self._closed = False
        self._factory: KernelFactory | None = None
        self._factory_lock = threading.Lock()
        self._cancel = threading.Event()  # set by close: a template still starting stops (see KernelFactory)

    @property
    def memory_mb(self) -> int:
        return self.limits.memory_mb

    def factory(self) -> KernelFactory:
        with self._factory_lock:
            if self._closed:
                raise SandboxError("the kernel pool is closed")
            if self._factory is None or not self._factory.alive():
                if self._factory is not None:
                    self._factory.close()
                self._factory = KernelFactory(self.sandbox, self.limits, cancel=self._cancel)
            return self._factory

    def _new_kernel(self) -> Kernel:
        return Kernel(self.factory(), self.limits)

    def warm(self) -> None:
        """Start kernels in the background until ``size`` unused ones exist or are starting."""
        with self._lock:
            missing = self.size - len(self._idle) - self._starting
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
            if not self._closed:
                self._idle.append(kernel)
                return
        kernel.shutdown()

    def acquire(self) -> Kernel:
        """A kernel no session has used."""
        kernel = None
        with self._lock:
            while self._idle and kernel is None:
                candidate = self._idle.pop(0)
                if candidate.is_alive():
                    kernel = candidate
                else:
                    candidate.shutdown()
        if kernel is None:
            kernel = self._new_kernel()
        self.warm()
        return kernel

    def release(self, kernel: Kernel) -> None:
        """End a session: its kernel, its processes and its files are gone."""
        kernel.shutdown()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        self._cancel.set()  # a template starting on the warm-up thread stops now, not when it is ready
        for kernel in idle:
            kernel.shutdown()
        with self._factory_lock:
            if self._factory is not None:
                with contextlib.suppress(Exception):
                    self._factory.close()
                self._factory = None


_pools: dict[tuple[str, Limits], KernelPool] = {}
_default_lock = threading.Lock()


def default_pool(memory_mb: int = 4096, size: int = 1, sandbox: str = "auto") -> KernelPool:
    """The process-wide pool for these limits and sandbox mode, created on first use and closed at exit."""
    limits = Limits(memory_mb=memory_mb)
    backend = resolve_sandbox(sandbox)
    key = (backend.mode, limits)
    with _default_lock:
        pool = _pools.get(key)
        if pool is None or pool._closed:
            pool = KernelPool(size=size, limits=limits, sandbox=backend)
            _pools[key] = pool
            atexit.register(pool.close)
        elif size > pool.size:
            pool.size = size
    pool.warm()
    return pool


def close_default_pool() -> None:
    with _default_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
