"""The words of a problem that a full-text query may use: never raw user text in a MATCH."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]{2,}")
_STOP = frozenset(
    ("the", "and", "for", "are", "with", "that", "this", "what", "how", "many", "much", "from", "each", "has",
     "have", "its", "was", "were", "will", "which", "into", "than", "then", "them", "they", "their", "there",
     "these", "those", "per", "can", "does", "did", "not")
)  # fmt: skip


def query_terms(text: str, limit: int = 24) -> list[str]:
    """Distinct content words, for an OR full-text query."""
    seen: dict[str, None] = {}
    for w in _WORD.findall(text.lower()):
        if w not in _STOP:
            seen.setdefault(w, None)
        if len(seen) >= limit:
            break
    return list(seen)
