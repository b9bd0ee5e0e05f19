"""The hooks a solvegraph plugin may implement.

A plugin is any module or object with functions marked ``@hookimpl`` and named
after these specs. It is found through the ``solvegraph`` entry-point group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
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
    feedback for the refiner.
    """
