"""Trajectories, and the memory that stores and reuses them (SQLite or PostgreSQL)."""

from ._memory import Memory, Preparation
from .checkpoint import open_checkpointer
from .store import Store, StoreError, content_hash, default_db_url
from .trajectory import Step, ToolCall, Trajectory, Usage, may_teach

__all__ = [
    "Memory",
    "Preparation",
    "Step",
    "Store",
    "StoreError",
    "ToolCall",
    "Trajectory",
    "Usage",
    "content_hash",
    "default_db_url",
    "may_teach",
    "open_checkpointer",
]
