"""The ``lean`` tool: Lean 4 as the verifier of a proposed proof.

``plugin`` is what the ``lean`` entry point loads; ``_check`` runs Lean in the sandbox and judges a proof;
``_replay`` re-checks a compiled module through the kernel (leanchecker, or a small C driver);
``_source`` reads Lean source (tokens, headers, the allowlist of commands); ``_options`` is ``[tools.lean]``.
"""

from ._check import (
    Diagnostic,
    LeanNotConfigured,
    LeanVerdict,
    check_proof,
    find_toolchain,
    lean_options,
    parse_messages,
    theorem_header,
    theorem_names,
)
from ._options import LeanOptions
from ._replay import Replayer, ReplayResult, find_replayer, replay_module
from .plugin import judged_statement, lean, problem_statement

__all__ = [
    "Diagnostic",
    "LeanNotConfigured",
    "LeanOptions",
    "LeanVerdict",
    "ReplayResult",
    "Replayer",
    "check_proof",
    "find_replayer",
    "find_toolchain",
    "judged_statement",
    "lean",
    "lean_options",
    "parse_messages",
    "problem_statement",
    "replay_module",
    "theorem_header",
    "theorem_names",
]
