"""solvegraph: LLM agents that solve problems by calling real tools instead of guessing.

The Python API, documented in the README's "Python API" section:

- :func:`solve` solves one problem and returns its :class:`Trajectory`; :func:`asolve` is the same awaited
  on a running event loop;
- :func:`stream` and :func:`astream` yield the solve's :class:`Event`\\ s and :class:`Step`\\ s as they
  happen, then the :class:`Trajectory`;
- :func:`benchmark` runs a strategy over a dataset and returns a :class:`BenchSummary` (with a
  :class:`SampleResult` per sample);
- :func:`shutdown` stops the embedded model server and the warm kernels before the process ends.

Every failure the caller can act on is a :class:`SolvegraphError`. The functions and types are imported
on first use, so ``import solvegraph`` stays cheap.
"""

from __future__ import annotations

from ._version import __version__
from .errors import SolvegraphError

# Not typing.TYPE_CHECKING: importing typing would double the cost of ``import solvegraph``. Type checkers
# read any constant of this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._api import BenchSummary, SampleResult, asolve, astream, benchmark, shutdown, solve, stream
    from .types import Event, Step, Trajectory

# Public name -> the module that defines it, imported the first time the name is used (PEP 562).
_LAZY = {
    "solve": "._api",
    "asolve": "._api",
    "stream": "._api",
    "astream": "._api",
    "benchmark": "._api",
    "shutdown": "._api",
    "BenchSummary": "._api",
    "SampleResult": "._api",
    "Trajectory": ".types",
    "Step": ".types",
    "Event": ".types",
}

__all__ = [
    "BenchSummary",
    "Event",
    "SampleResult",
    "SolvegraphError",
    "Step",
    "Trajectory",
    "__version__",
    "asolve",
    "astream",
    "benchmark",
    "shutdown",
    "solve",
    "stream",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'solvegraph' has no attribute {name!r}")
    from importlib import import_module  # loaded with the interpreter: nothing to pay

    value = getattr(import_module(module, __name__), name)
    globals()[name] = value  # found here from now on, without this hook
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
