"""The graph compiled once per checkpointer for the life of the process, and whether it is yet.

Apart from :mod:`.graph` so that asking "compiled yet?" does not load LangGraph: the runner sends a new
solve's first model request before it does (:class:`~._context.Opening`).
"""

from __future__ import annotations

import threading
from typing import Any

_compiled: dict[int, Any] = {}
_lock = threading.Lock()


def compiled_graph(checkpointer: Any = None) -> Any:
    """The graph compiled once per checkpointer (None: no checkpoints) for the life of the process."""
    key = id(checkpointer)
    with _lock:
        if key not in _compiled:
            from .graph import build_graph

            _compiled[key] = (build_graph(checkpointer), checkpointer)  # keep the saver alive with its key
        return _compiled[key][0]


def compiled_already(checkpointer: Any = None) -> Any | None:
    """The compiled graph for ``checkpointer`` if there is one already, else None (nothing is loaded)."""
    with _lock:
        found = _compiled.get(id(checkpointer))
    return found[0] if found is not None else None
