"""The ``none`` backend: the same environment allowlist and resource limits, and no isolation.

An explicit choice (``--sandbox none``), or what ``auto`` falls back to with a warning
that says what is not isolated; never a silent one.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._backend import Sandbox


@dataclass
class NoSandbox(Sandbox):
    """Commands run directly, as solvegraph's own user, with rlimits and a clean environment."""
