"""solvegraph: LLM agents that solve problems by calling real tools instead of guessing."""

from .errors import SolvegraphError

__version__ = "0.1.0"

__all__ = ["SolvegraphError", "__version__"]
