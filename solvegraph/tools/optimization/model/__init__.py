"""The declarative optimization model: schema, expressions, compile, check, errors.

A stand-alone modelling library: it imports nothing of solvegraph's, so it can run anywhere
the solvers do (the host, the sandboxed solver worker, the model's kernel). An import-linter
contract (pyproject.toml) keeps it free of the plugin layer and of the solvers around it.
"""

from ._check import check_solution, evaluate, holds, objective_value
from ._errors import MAX_MAGNITUDE, ModelError, without_cyclic_gc
from ._expressions import Expander, expand, is_indexed
from ._schema import (
    Affine,
    Constraint,
    General,
    Literal,
    OptModel,
    Var,
    affine_bounds,
    likely_missing_bounds,
    parse_model,
)

__all__ = [
    "MAX_MAGNITUDE",
    "Affine",
    "Constraint",
    "Expander",
    "General",
    "Literal",
    "ModelError",
    "OptModel",
    "Var",
    "affine_bounds",
    "check_solution",
    "evaluate",
    "expand",
    "holds",
    "is_indexed",
    "likely_missing_bounds",
    "objective_value",
    "parse_model",
    "without_cyclic_gc",
]
