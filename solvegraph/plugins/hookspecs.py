"""The hooks a solvegraph plugin may implement.

A plugin is any module or object with functions marked ``@hookimpl`` and named
after these specs. It is found through the ``solvegraph`` entry-point group.
"""

from __future__ import annotations

import pluggy

from ._bench import Dataset, Scorer
from ._tool import Tool
from ._verifier import Verifier

PROJECT = "solvegraph"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def solvegraph_tools() -> list[Tool]:  # type: ignore[empty-body]
    """Return the tools this plugin offers to the agents."""


@hookspec
def solvegraph_prompt_fragments() -> dict[str, str]:  # type: ignore[empty-body]
    """Return extra prompt text keyed by agent ("planner", "solver", ...).

    Use it to teach the planner when your tool is the right one to reach for.
    """


@hookspec
def solvegraph_verifiers() -> list[Verifier]:  # type: ignore[empty-body]
    """Return checks the verifier agent runs on every attempt, before it asks the model.

    Use it when your tool's results can be checked independently (re-check a
    solution against the model's constraints, re-run a proof). A rejection becomes
    feedback for the refiner. Return ``{"accepted": True, ...}`` only for a sound check of
    this problem's answer: it makes the answer "tool-verified", which lets it teach later runs.
    Without an ``accepted`` key the feedback is a note (a partial check). Return None when the check
    has nothing to say.
    """


@hookspec
def solvegraph_datasets() -> list[Dataset]:  # type: ignore[empty-body]
    """Return benchmark datasets: a name, how to read one JSON record, and the scorer to use."""


@hookspec
def solvegraph_scorers() -> list[Scorer]:  # type: ignore[empty-body]
    """Return scorers: compare an answer with the gold and say why."""
