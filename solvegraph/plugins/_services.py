"""The typed services one plugin offers the tools of another, so that no tool imports another.

A plugin offers a service by returning ``{Interface: factory}`` from ``solvegraph_services()``; a tool asks
its session for it with ``session.service(Interface)`` and gets an object of that interface, per session.
The interfaces live here, in the layer every plugin may import.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class CellRun(Protocol):
    """What one cell run in a :class:`CodeKernel` reports."""

    stdout: str
    error_name: str
    error_value: str
    timed_out: bool

    @property
    def ok(self) -> bool: ...

    def text(self) -> str: ...


class CodeKernel(Protocol):
    """A Python kernel of this session that another tool may run code in (the ``python`` plugin offers it;
    the ``milp`` and ``cp`` tools' code mode run the model's solver code there, then read the model back).
    """

    @property
    def cell_timeout(self) -> float:
        """The python plugin's configured cell time limit, in seconds."""
        ...

    def execute(self, code: str, timeout: float, output_chars: int | None = None) -> CellRun:
        """Run one cell; ``output_chars`` (None: the kernel's own cap) is how much of each stream is kept,
        raised by code mode for the model file its cell prints."""
        ...


# The names services had before they were typed (``session.service("python.kernel")``), still answered.
SERVICE_NAMES: dict[str, type] = {"python.kernel": CodeKernel}
