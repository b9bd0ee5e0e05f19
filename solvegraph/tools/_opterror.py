"""The error every optimization-model check raises, and the magnitude limit they share."""

from __future__ import annotations

# Beyond this a coefficient, right-hand side or finite bound means nothing to a solver working with
# 1e-6 tolerances (SCIP treats 1e20 as infinity and rejects 1e300 as "error in input data").
MAX_MAGNITUDE = 1e12


class ModelError(ValueError):
    """A model that cannot be built; ``str()`` starts with the JSON path."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
