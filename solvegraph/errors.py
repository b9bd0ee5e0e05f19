"""Errors that reach the user as one line and exit code 2.

Anything raised as :class:`SolvegraphError` is the user's to fix (configuration,
connection, input); the CLI prints its message and never a traceback.
"""

from __future__ import annotations


class SolvegraphError(Exception):
    """A problem the user can act on; its message is shown as-is."""

    exit_code = 2


class ConfigError(SolvegraphError):
    """Bad configuration: flags, environment or solvegraph.toml."""


class ModelConnectionError(SolvegraphError):
    """The model endpoint could not be reached or refused us.

    ``transient`` says whether asking again later may succeed (a timeout, a refused connection, a 5xx):
    ``bench --retry-on-error`` retries only those, never a refused API key or an unknown model.
    """

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient

    def __reduce__(self) -> tuple[object, ...]:  # pickled (from a Ray worker) with ``transient`` kept
        return (type(self), (str(self),), {"transient": self.transient})


class EmbeddedModelError(SolvegraphError):
    """The embedded llama.cpp server could not be started."""


class PromptRefusedError(SolvegraphError):
    """The endpoint refused this request (over the context length, a content filter): 400, 413 or 422.

    Only this problem is affected, not the endpoint: a bench records the sample as ``refused`` and
    goes on, chat goes on to the next question, and the trajectory is stored with status ``refused``,
    never as a normal unsolved one.
    """
