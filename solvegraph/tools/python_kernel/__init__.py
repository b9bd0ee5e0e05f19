"""The Python interpreter tool: a real Jupyter kernel, pooled, with hard limits."""

from ._kernel import CellResult, Kernel
from ._pool import KernelPool, close_default_pool, default_pool
from .plugin import python, session_kernel

__all__ = ["CellResult", "Kernel", "KernelPool", "close_default_pool", "default_pool", "python", "session_kernel"]
