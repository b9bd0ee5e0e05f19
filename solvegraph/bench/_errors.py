"""Sample errors, as Inspect AI treats them: retried when transient, counted, and a threshold that stops the run.

A sample *errors* when something other than the model's answer failed: the model endpoint (a timeout,
a refused connection, a 5xx after the client's own retries) or the tool infrastructure (the sandbox
could not start a kernel). That says nothing about the model, so such a sample is not scored: with
``--retry-on-error N`` it is run again from the start, up to N more times; if it still errors it is
left unscored, its attempts kept in the store with status ``error``, and ``--resume`` runs it again.

``--fail-on-error`` says how many errored samples a run tolerates: a count (``1``, the default, is
the first one, as a run stopped on an unreachable endpoint before) or a fraction of the run's
samples (``0.1``). Past it the run stops cleanly like a first Ctrl-C: no new sample starts, those
in flight finish and are scored, and ``--resume`` goes on. A wrong answer is never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ModelConnectionError, SolvegraphError
from ..sandbox import SandboxError


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure that running the sample again may not meet."""
    if isinstance(exc, ModelConnectionError):
        return exc.transient
    return isinstance(exc, SandboxError)


def parse_fail_on_error(text: str | None) -> float | None:
    """``--fail-on-error``: a whole count of at least 1, or a fraction in (0, 1); None keeps the default (1)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    whole = value >= 1 and value == int(value) and "." not in text
    if not (whole or 0 < value < 1):
        raise SolvegraphError(
            f"--fail-on-error must be a count of at least 1 or a fraction between 0 and 1 (e.g. 5 or 0.1), not {text!r}"
        )
    return value


@dataclass
class ErrorCount:
    """The samples of this attempt of the run that errored for good, and whether that passes the threshold."""

    fail_on_error: float | None
    total: int
    retries: int = 0  # sample attempts run again after a transient error
    errored: list[tuple[str, str]] = field(default_factory=list)  # (sample id, the error's one line)
    stopped: bool = False  # the threshold was reached: the run stops

    def add(self, sample_id: str, exc: BaseException) -> bool:
        """Count an errored sample; True when the run must stop."""
        self.errored.append((sample_id, str(exc) or type(exc).__name__))
        limit = 1.0 if self.fail_on_error is None else self.fail_on_error
        allowed = limit if limit >= 1 else limit * max(1, self.total)
        self.stopped = self.stopped or len(self.errored) >= allowed
        return self.stopped

    def threshold(self) -> str:
        limit = 1.0 if self.fail_on_error is None else self.fail_on_error
        return f"{int(limit)} errored samples" if limit >= 1 else f"{limit:g} of {self.total} samples errored"
