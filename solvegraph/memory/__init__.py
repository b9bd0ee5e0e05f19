"""Trajectories, and the memory that stores and reuses them (SQLite or PostgreSQL)."""

from ._memory import Memory, Preparation
from .checkpoint import open_checkpointer
from .store import (
    MadeToolStore,
    ReuseStore,
    RunStore,
    Store,
    StoreError,
    TrajectoryLog,
    TrajectoryStore,
    content_hash,
    default_db_url,
)
from .trajectory import Step, ToolCall, Trajectory, Usage, may_teach

__all__ = [
    "MadeToolStore",
    "Memory",
    "Preparation",
    "ReuseStore",
    "RunStore",
    "Step",
    "Store",
    "StoreError",
    "ToolCall",
    "Trajectory",
    "TrajectoryLog",
    "TrajectoryStore",
    "Usage",
    "content_hash",
    "default_db_url",
    "may_teach",
    "open_checkpointer",
]
