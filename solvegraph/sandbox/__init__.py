"""The execution seam: every process that runs or judges model output starts here.

``resolve_sandbox(mode)`` gives the backend (bubblewrap namespaces, or none) with
the reason it was chosen; ``Sandbox.run`` / ``Sandbox.popen`` start commands in it
with :class:`Limits` and the environment allowlist; :class:`KernelFactory` forks
fresh, isolated Jupyter kernels from a preloaded template inside it;
``scratch_dir`` makes temporary folders that a later run cleans if this one is killed.
"""

from ._backend import MODES, RunResult, Sandbox, SandboxedProcess, find_bwrap, resolve_sandbox
from ._policy import ENV_ALLOWLIST, NOBODY, Limits, SandboxError, clean_env
from ._scratch import process_dir, scratch_dir, sweep

__all__ = [
    "ENV_ALLOWLIST",
    "MODES",
    "NOBODY",
    "Limits",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "SandboxedProcess",
    "clean_env",
    "find_bwrap",
    "process_dir",
    "resolve_sandbox",
    "scratch_dir",
    "sweep",
]
