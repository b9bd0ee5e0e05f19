"""The record of one solve, re-exported from :mod:`solvegraph.types` where the contracts live."""

from __future__ import annotations

from ..types import Step, ToolCall, Trajectory, Usage, may_teach

__all__ = ["Step", "ToolCall", "Trajectory", "Usage", "may_teach"]
