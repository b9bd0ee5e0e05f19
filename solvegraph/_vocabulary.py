"""The record's words and the pure text helpers that go with them: statuses, strategies, trust levels,
how a cost and a credited model read, and model text made inert for a terminal.

They live apart from :mod:`solvegraph.types` (which re-exports them) because that module builds its
pydantic models when imported (~0.1 s): a command that only prints help or lists runs needs these
words, not the models.
"""

from __future__ import annotations

import re


def dollars(value: float | None) -> str:
    """A cost as people read it: under a dollar with four decimals, more with two; "—" when unknown."""
    if value is None:
        return "—"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


# How an accepted answer was checked, strongest first: cross-verified (a tool's sound check, and an independent
# route, such as exact rationals or a second solver, agreed with it), tool-verified (a tool's sound check), the
# verifier model's word, nothing.
TRUST_LEVELS = ("cross-verified", "tool-verified", "model-accepted", "unchecked")
VERIFIED = ("cross-verified", "tool-verified")


def verified(trust: str) -> bool:
    """Whether a tool checked the answer (cross-verified or tool-verified): the one test for "a tool's word",
    so a new tier above tool-verified is not lost by a check written as ``== "tool-verified"``."""
    return trust in VERIFIED


def trust_rank(trust: str) -> int:
    """Position in :data:`TRUST_LEVELS` (0 strongest); an unknown or empty trust ranks below unchecked."""
    return TRUST_LEVELS.index(trust) if trust in TRUST_LEVELS else len(TRUST_LEVELS)


# C0 controls but newline and tab, DEL, and the C1 controls (0x9b is a one-byte CSI on some terminals).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def inert(text: object) -> str:
    """Model, tool or dataset text made inert for a terminal: each control character shown as ``\\xNN``.

    Rich drops some controls but writes ESC through, so a tool output could recolour the terminal,
    retitle it or move the cursor over earlier lines; it is data, and is shown as such.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


# Between the models a trajectory is credited to, in the order they answered (a solve resumed with --switch-model).
MODEL_SWITCH = " → "


def credit(before: str, now: str) -> str:
    """The models a trajectory is credited to once ``now`` answers it too: ``before`` (itself maybe 'a → b'),
    then ``now`` unless it is the last already. Kept within the stored 200 characters: the first and the
    newest stay, the middle becomes '…'."""
    models = [m for m in before.split(MODEL_SWITCH) if m] if before else []
    if not models or models[-1] != now:
        models.append(now)
    joined = MODEL_SWITCH.join(models)
    if len(joined) > 200:
        joined = MODEL_SWITCH.join([models[0][:90], "…", models[-1][:90]])
    return joined


def last_model(credited: str) -> str:
    """The model that answered a trajectory last (see :func:`credit`)."""
    return credited.split(MODEL_SWITCH)[-1]


# What a stored trajectory's status may be: running, how it ended, or what became of it (a crashed bench's
# unscored samples are abandoned; a sample scored twice by an older resume keeps one score, the other is a duplicate).
TRAJECTORY_STATUSES = ("running", "solved", "unsolved", "refused", "error", "interrupted", "abandoned", "duplicate")
# How a benchmark runs each sample (solvegraph.bench.strategies): the model alone, its code run once, or the graph.
STRATEGIES = ("direct", "pal", "graph")


def may_teach(trust: str, reuse_model_accepted: bool = False) -> bool:
    """Whether an answer accepted this way may teach later runs (worked example, cache, made tools):
    verified ones (cross- or tool-) always, model-accepted ones only where the user opted in, unchecked ones never."""
    return verified(trust) or (trust == "model-accepted" and reuse_model_accepted)


__all__ = [
    "MODEL_SWITCH", "STRATEGIES", "TRAJECTORY_STATUSES", "TRUST_LEVELS", "VERIFIED", "credit", "dollars", "inert",
    "last_model", "may_teach", "trust_rank", "verified",
]  # fmt: skip
