"""The Python interpreter tool: a real Jupyter kernel, pooled, with hard limits.

``plugin`` is what the ``python`` entry point loads (the tool, its options, its kernel service and its
lifecycle hooks); ``_kernel`` and ``_pool`` hold one kernel process and the warm pool of them.
"""

from ._kernel import CellResult, Kernel
from ._pool import KernelPool, close_default_pool, default_pool
from .plugin import PythonOptions, python, session_kernel

__all__ = [
    "CellResult",
    "Kernel",
    "KernelPool",
    "PythonOptions",
    "close_default_pool",
    "default_pool",
    "python",
    "session_kernel",
]
