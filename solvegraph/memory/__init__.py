"""Trajectories: the in-memory record of a solve and its JSON form."""

from .trajectory import Step, ToolCall, Trajectory, Usage

__all__ = ["Step", "ToolCall", "Trajectory", "Usage"]
