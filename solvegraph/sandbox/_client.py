"""A Jupyter client for one of our kernels, that asks the kernel's process whether it lives.

jupyter_client's heartbeat calls a kernel dead after one second without a pong. A
kernel that is merely slow to start (several starting at once under gVisor, where
every system call is a ptrace stop, or a loaded machine) was then reported as
"died before replying". The template tells us when a kernel really exits
(:meth:`KernelProcess.is_alive`), so the heartbeat channel is not started at all.
"""

from __future__ import annotations

import queue
import time

import zmq
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
    """A started client for ``process`` (no heartbeat: liveness is the process's own).

    On the process-wide zmq context, never one of its own: a client's own context is terminated
    when it is garbage-collected, and ``term()`` blocks for good while any of its sockets is open
    (a test run hung there, inside an unrelated ``ast.parse``).
    """
    client = KernelClient(connection_file=process.connection_file, context=zmq.Context.instance())
    client.process = process
    client.load_connection_file()
    client.start_channels(stdin=stdin, hb=False)
    return client


# How long to wait on iopub before asking a kernel for its info again: short at first (a status
# published before the subscription landed is lost, and asking again is how to get another), then
# longer, so that a kernel slow to start (gVisor) is not flooded with requests it must answer in turn.
_ASK_AGAIN_S = (0.05, 0.1, 0.2, 0.4)


def ask_again_after(asked: int) -> float:
    return _ASK_AGAIN_S[min(asked, len(_ASK_AGAIN_S)) - 1]


def wait_ready(client: KernelClient, timeout: float) -> None:
    """Ask the kernel for its info until its status for that request arrives on iopub, so this client's
    subscription is live; fail as soon as the kernel's process has died.

    jupyter_client's ``wait_for_ready`` does the same and then drains iopub until 0.2 s pass in
    silence, which would add those 0.2 s to every kernel's start. The kernel_info replies left on
    the shell channel are the caller's to drop.
    """
    deadline = time.monotonic() + timeout
    asked = {client.kernel_info()}
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=ask_again_after(len(asked)))
        except queue.Empty:
            if not client.is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info") from None
            asked.add(client.kernel_info())
            continue
        if msg["parent_header"].get("msg_id") in asked and msg["msg_type"] == "status":
            return
    raise RuntimeError(f"the Python kernel did not answer within {timeout:g} s")
