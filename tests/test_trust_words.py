"""How each trust tier reads and exits: both verified tiers exit 0 (scripts keep working), and each says
what was checked."""

from __future__ import annotations

from solvegraph.cli import TRUST_LINES, exit_code
from solvegraph.cli._console import outcome_words
from solvegraph.types import TRUST_LEVELS, trust_rank


def test_exit_codes_by_tier() -> None:
    assert [exit_code(True, t) for t in TRUST_LEVELS] == [0, 0, 3, 4]
    assert exit_code(False, "cross-verified") == 1


def test_every_tier_has_its_words() -> None:
    assert set(TRUST_LINES) == set(TRUST_LEVELS)
    assert TRUST_LINES["cross-verified"].startswith("cross-verified: ")
    assert outcome_words(True, "cross-verified") == "verified by a tool and cross-checked"
    assert outcome_words(True, "tool-verified") == "verified by a tool"
    assert [trust_rank(t) for t in (*TRUST_LEVELS, "")] == [0, 1, 2, 3, 4]
