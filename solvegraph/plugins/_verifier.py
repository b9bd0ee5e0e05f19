"""Plugin-contributed checks that the verifier agent runs on each attempt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A check gets the problem text and the attempt's tool calls, each
# {"name", "arguments", "result": ToolResult.to_dict()}, and returns None when it
# has nothing to say, or {"accepted": bool, "feedback": str}. A verifier registered with ``answer=True``
# is called with a third argument too: the attempt's final answer (a str, or None when none was read).
CheckFn = Callable[..., "dict[str, Any] | None"]


@dataclass
class Verifier:
    """A plugin's check of each attempt (see ``CheckFn`` above).

    ``answer=True`` asks for the attempt's answer as a third argument, ``check(problem, results, answer)``:
    a check that certifies what the answer says, not only what a tool returned, needs it (an infeasible
    solver result certifies the answer "infeasible", never a number). Off by default, so a two-argument
    check keeps working; built-in verifiers get nothing an outside plugin cannot ask for.
    """

    name: str
    check: CheckFn
    plugin: str = ""
    answer: bool = False


@dataclass
class CertificateChecker:
    """Re-checks certificates of one ``kind`` (see :class:`~solvegraph.types.Certificate`).

    ``target`` is ``"module:function"``: ``solvegraph verify`` calls it as ``function(certificate, options)`` in
    a fresh sandboxed worker process, with the certificate as a dict and the verifying user's options for
    the plugin (its :class:`~solvegraph.plugins.ToolOptions` dumped to a dict, e.g. which ``lean`` to use;
    ``{}`` when it has none), so it must import nothing it does not need there (no plugin layer, no
    settings). It returns one dict per check, ``{"check": name, "outcome": "passed" | "failed" |
    "not checked", "detail": str}``: any ``failed`` refutes the certificate, and it is verified only when
    at least one check passed and none failed. A malformed artifact it cannot read is a ``ValueError``
    naming the field.

    ``sandboxed=False`` is for a checker that runs nothing of the certificate in its own process and starts a
    fresh sandboxed process for every tool run it makes (the Lean checker: each ``lean`` run and the kernel
    replay is its own sandbox, with the toolchain bound read-only, which a worker's sandbox cannot offer). It
    is then called in the verifying process, with ``options["sandbox"]`` naming the backend to use, and
    ``options["time_limit"]`` its budget, which it must keep to itself.
    """

    kind: str
    target: str
    plugin: str = ""
    sandboxed: bool = True
