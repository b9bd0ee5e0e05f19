"""Naming what a solver's model holds when it is read back into the declarative format.

Pure helpers shared by the readers that run in the solver worker and in the model's kernel.
"""

from __future__ import annotations


def unchecked_summary(unchecked: dict[str, list[str]]) -> list[str]:
    """Read-back constraint kinds the re-check cannot evaluate, as "2 nonlinear constraints (a, b)"."""
    return [
        f"{len(names)} {kind} constraint{'s' if len(names) > 1 else ''} ({', '.join(names[:5])})"
        for kind, names in sorted(unchecked.items())
    ]


def unique_name(name: str, seen: dict[str, int]) -> str:
    """SCIP and CP-SAT allow repeated constraint names; the declarative model does not: number repeats."""
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name}#{seen[name]}"


def relative_gap(objective: float, bound: float) -> float:
    """How far the solver's dual bound is from an objective value, relative to the objective (at least 1)."""
    return abs(objective - bound) / max(1.0, abs(objective))
