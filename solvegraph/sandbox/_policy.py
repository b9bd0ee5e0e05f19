"""What a sandboxed process may have: its limits and its environment, set in one place.

Every process that runs or judges model output (kernels, solvers, Lean, Z3, unit
tests) gets its limits from a :class:`Limits` and its environment from
:func:`clean_env`, whatever backend isolates it. The environment is an allowlist,
never a copy of ours: no key, token, password or database URL can reach model code.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from ..errors import SolvegraphError


class SandboxError(SolvegraphError):
    """The sandbox could not be set up as asked (missing bubblewrap, no namespaces, ...)."""


# uid/gid the sandboxed code runs as when solvegraph runs as root ("nobody").
NOBODY = 65534

# Variables a sandboxed process gets, and nothing else.
# LEAN_PATH: where Lean finds the .olean files of the challenge and candidate modules (no secret).
ENV_ALLOWLIST = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "MPLBACKEND", "PYTHONDONTWRITEBYTECODE", "LEAN_PATH")
# The solver workers' stack (see ``Limits.stack_mb``): deep enough for SCIP on a 100,000-variable chain LP.
SOLVER_STACK_MB = 256
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass(frozen=True)
class Limits:
    """Per-session limits. ``memory_mb`` caps the whole session where a cgroup is writable,
    and every process (RLIMIT_AS) everywhere."""

    memory_mb: int = 4096
    max_processes: int = 64  # processes and threads of one session
    disk_mb: int = 512  # the session's writable folders together (tmpfs size)
    file_size_mb: int = 256  # any one file (RLIMIT_FSIZE)
    output_chars: int = 20_000  # stdout/stderr kept per call (head and tail)
    open_files: int = 1024
    # RLIMIT_AS per process. Off for programs that reserve far more address space than they
    # use (Lean's allocator and thread stacks): they rely on their own cap and the cgroup.
    address_space_limit: bool = True
    # RLIMIT_STACK in MB (None: inherited, usually 8 MB), for the solver workers, which recurse as deep
    # as the model is long: SCIP segfaults on a 100,000-variable chain LP with 8 MB. Finite, because
    # gVisor gives an unlimited one only its 8 MB default; not huge, because glibc sizes every new
    # thread's stack by it too (each reserves that much of RLIMIT_AS).
    stack_mb: int | None = None

    def rlimits(self) -> dict[str, int]:
        """The resource limits each sandboxed process starts with (name -> value)."""
        limits = {
            "RLIMIT_FSIZE": self.file_size_mb * 1024 * 1024,
            "RLIMIT_NOFILE": self.open_files,
            "RLIMIT_CORE": 0,
        }
        if self.address_space_limit:
            limits["RLIMIT_AS"] = self.memory_mb * 1024 * 1024
        if self.stack_mb is not None:
            limits["RLIMIT_STACK"] = self.stack_mb * 1024 * 1024
        return limits


def python_bin_dirs() -> list[str]:
    """The interpreter's bin folders, so ``python`` on PATH is this one."""
    dirs = [os.path.dirname(sys.executable), os.path.join(sys.base_prefix, "bin")]
    return list(dict.fromkeys(d for d in dirs if os.path.isdir(d)))


def clean_env(home: str, tmpdir: str, threads: int = 1, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed process: the allowlist, with safe values."""
    path = ":".join([*python_bin_dirs(), "/usr/local/bin", "/usr/bin", "/bin"])
    env = {
        "PATH": path,
        "HOME": home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": tmpdir,
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
        **{var: str(threads) for var in THREAD_VARS},
    }
    for key, value in (extra or {}).items():
        if key not in ENV_ALLOWLIST and key not in THREAD_VARS:
            raise ValueError(f"{key} is not an allowed sandbox variable")
        env[key] = value
    return env
