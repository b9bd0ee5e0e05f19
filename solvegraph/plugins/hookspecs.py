"""The hooks a solvegraph plugin may implement.

A plugin is any module or object with functions marked ``@hookimpl`` and named
after these specs. It is found through the ``solvegraph`` entry-point group.
"""

from __future__ import annotations

from typing import Any

import pluggy

from ._bench import Dataset, Scorer
from ._options import ToolOptions
from ._tool import Tool, ToolSession
from ._verifier import CertificateChecker, Verifier

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
    feedback for the refiner. ``Verifier(..., answer=True)`` has the check called as
    ``check(problem, results, answer)`` with the attempt's final answer (str or None), for a check that
    certifies what the answer says (``milp``/``cp``: an infeasible result and the answer "infeasible").
    Return ``{"accepted": True, ...}`` only for a sound check of
    this problem's answer, and with it ``"certificate"``: a :class:`~solvegraph.types.Certificate` (or its
    dict) of a ``kind`` a plugin registered a checker for (:func:`solvegraph_certificate_checkers`). Only
    then is the answer "tool-verified", which lets it teach later runs; an accepting check without a valid
    certificate is a note, and the answer's trust is what the verifier model gives it. Add
    ``"cross_verified": ["route", ...]`` to that reply, naming the independent routes (another solver,
    exact arithmetic) that agreed with the check, and the answer is "cross-verified", the tier above.
    Without an ``accepted`` key the feedback is a note (a partial check). Return None when the check
    has nothing to say.
    """


@hookspec
def solvegraph_certificate_checkers() -> list[CertificateChecker]:  # type: ignore[empty-body]
    """Return the checkers that re-check this plugin's certificates, one per certificate ``kind``.

    A verifier that accepts an answer (``{"accepted": True}``) hands back the evidence as
    ``"certificate"`` (a :class:`~solvegraph.types.Certificate` or its dict); ``solvegraph verify`` re-checks
    it with the checker of its kind, in a fresh sandboxed process.
    """


@hookspec
def solvegraph_datasets() -> list[Dataset]:  # type: ignore[empty-body]
    """Return benchmark datasets: a name, how to read one JSON record, and the scorer to use."""


@hookspec
def solvegraph_scorers() -> list[Scorer]:  # type: ignore[empty-body]
    """Return scorers: compare an answer with the gold and say why."""


@hookspec
def solvegraph_options() -> type[ToolOptions]:  # type: ignore[empty-body]
    """Return this plugin's options model: a :class:`ToolOptions` subclass whose ``section`` is the plugin's name.

    Its values come from ``[tools.NAME]`` in solvegraph.toml, ``SOLVEGRAPH_TOOL_NAME__KEY`` and
    ``--tool-opt NAME.key=value``; a tool reads them with ``session.tool_options(Model)``. ``plugins list``
    shows each option with its default.
    """


@hookspec
def solvegraph_services() -> dict[type, Any]:  # type: ignore[empty-body]
    """Return the services this plugin offers other plugins' tools: ``{Interface: factory(session)}``.

    The interface is a typed protocol from ``solvegraph.plugins`` (e.g. :class:`CodeKernel`); a tool gets the
    session's instance with ``session.service(Interface)``.
    """


@hookspec
def solvegraph_warm(session: ToolSession, concurrency: int) -> None:
    """Get ready for ``concurrency`` sessions at once with ``session``'s options (start kernels ahead).

    Called by the bench before its samples run; must return at once (warm up in the background).
    """


@hookspec
def solvegraph_interrupt(session: ToolSession) -> None:
    """Stop what this plugin is running for ``session`` now (Ctrl-C, an MCP cancellation); keep it usable."""


@hookspec
def solvegraph_close() -> None:
    """Free what this plugin keeps for the whole process (warm pools, servers); a later use starts them again."""
