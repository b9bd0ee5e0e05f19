"""The one protocol every sandbox backend implements, so tools and the kernel pool never ask which.

Modelled on Inspect AI's ``SandboxEnvironment`` (run a command, describe yourself,
check yourself) and smolagents' executor seam: a tool writes its command once; the
backend decides how it is isolated. A backend an outside package provides only has
to satisfy this protocol; ``Sandbox`` (``_backend.py``) gives the shared half.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO, Any, Protocol, runtime_checkable

from ._policy import Limits


@runtime_checkable
class SandboxBackend(Protocol):
    """Run or wrap a command under this backend's isolation; describe it; check it."""

    mode: str  # its name: gvisor, bwrap, none
    reason: str  # why it was chosen here
    claims: tuple[str, ...]  # the properties it isolates, each verified by self_check()
    isolated: bool  # processes get their own filesystem view and /tmp

    def wrap(self, argv: Sequence[str], *, workdir: str, limits: Limits, **options: Any) -> list[str]:
        """The command line that runs ``argv`` isolated, with ``workdir`` as home and cwd."""
        ...

    def run(self, argv: Sequence[str], *, workdir: str, limits: Limits | None = None, timeout: float = 60.0) -> Any:
        """Run ``argv`` to completion (a :class:`RunResult`; a timeout kills the whole tree)."""
        ...

    def popen(
        self,
        argv: Sequence[str],
        *,
        workdir: str,
        limits: Limits | None = None,
        ro: Sequence[str] = (),
        stdin: int | IO[Any] | None = ...,
        stdout: int | IO[Any] | None = ...,
        stderr: int | IO[Any] | None = ...,
    ) -> Any:
        """Start a long-lived process (a :class:`SandboxedProcess`; close it to kill it)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What is isolated and how, for ``plugins list``, ``sandbox check`` and run records."""
        ...

    def self_check(self, *, kernel: bool = True) -> Any:
        """Run the isolation suite (a :class:`CheckReport`): does each claim hold here?"""
        ...
