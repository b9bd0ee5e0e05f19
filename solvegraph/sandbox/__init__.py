"""The execution seam: every process that runs or judges model output starts here.

``resolve_sandbox(mode)`` gives the backend (gVisor's user-space kernel, bubblewrap
namespaces, or none) with the reason it was chosen; each is a :class:`SandboxBackend`.
``Sandbox.run`` / ``Sandbox.popen`` start commands in it with :class:`Limits` and the
environment allowlist; :class:`KernelFactory` forks fresh, isolated Jupyter kernels from
a preloaded template inside it; ``self_check()`` verifies what the backend claims
(``solvegraph sandbox check``); ``scratch_dir`` makes temporary folders that a later run
cleans if this one is killed.
"""

from ._backend import RunResult, Sandbox, SandboxedProcess
from ._bwrap import BwrapSandbox, find_bwrap
from ._gvisor import GvisorSandbox, find_runsc
from ._none import NoSandbox
from ._policy import ENV_ALLOWLIST, NOBODY, SOLVER_STACK_MB, Limits, SandboxError, clean_env
from ._protocol import SandboxBackend
from ._resolve import MODES, prefer, resolve_sandbox
from ._scratch import process_dir, scratch_dir, sweep

__all__ = [
    "ENV_ALLOWLIST",
    "MODES",
    "NOBODY",
    "SOLVER_STACK_MB",
    "BwrapSandbox",
    "GvisorSandbox",
    "Limits",
    "NoSandbox",
    "RunResult",
    "Sandbox",
    "SandboxBackend",
    "SandboxError",
    "SandboxedProcess",
    "clean_env",
    "find_bwrap",
    "find_runsc",
    "prefer",
    "process_dir",
    "resolve_sandbox",
    "scratch_dir",
    "sweep",
]
