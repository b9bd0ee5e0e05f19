"""``[tools.lean]``: where the Lean toolchain is, and the limits of one check."""

from __future__ import annotations

from pydantic import Field

from ...plugins import ToolOptions


class LeanOptions(ToolOptions):
    """The lean plugin's options; ``lean_path``, ``project``, ``timeout`` and ``memory_mb`` are also set by the
    older flat settings (``--lean``/``SOLVEGRAPH_LEAN``, ``lean_project``, ``lean_timeout``, ``lean_memory_mb``)."""

    section = "lean"

    lean_path: str | None = Field(None, description="A lean executable (else SOLVEGRAPH_LEAN, else lean on PATH).")
    project: str | None = Field(
        None, description="A Lake project (for Mathlib): proofs run with `lake env lean` in it."
    )
    lake_path: str | None = Field(None, description="The lake executable for project (else lake on PATH).")
    timeout: float = Field(60.0, gt=0, description="Seconds one Lean run may take.")
    memory_mb: int = Field(4096, ge=64, description="Lean's memory limit, in MB.")
    replay: bool = Field(
        True,
        description="Replay the compiled candidate through Lean's kernel in a fresh sandbox (leanchecker, or "
        "solvegraph's driver against libleanshared.so); a failed replay rejects the proof.",
    )
