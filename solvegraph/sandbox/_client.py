"""A Jupyter client for one of our kernels, that asks the kernel's process whether it lives.

jupyter_client's heartbeat calls a kernel dead after one second without a pong. A
kernel that is merely slow to start (several starting at once under gVisor, where
every system call is a ptrace stop, or a loaded machine) was then reported as
"died before replying". The template tells us when a kernel really exits
(:meth:`KernelProcess.is_alive`), so the heartbeat channel is not started at all.
"""

from __future__ import annotations

from jupyter_client import BlockingKernelClient

from ._kernels import KernelProcess


class KernelClient(BlockingKernelClient):
    """Connected to ``process``'s kernel; start it with :func:`connect`."""

    process: KernelProcess | None = None

    async def _async_is_alive(self) -> bool:  # what jupyter_client's wait_for_ready asks
        return self.process is None or self.process.is_alive()

    def is_alive(self) -> bool:
        return self.process is None or self.process.is_alive()


def connect(process: KernelProcess, *, stdin: bool = True) -> KernelClient:
    """A started client for ``process`` (no heartbeat: liveness is the process's own)."""
    client = KernelClient(connection_file=process.connection_file)
    client.process = process
    client.load_connection_file()
    client.start_channels(stdin=stdin, hb=False)
    return client
