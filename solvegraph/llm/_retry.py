"""When to send a model request again, and how many may be in flight to one endpoint.

A benchmark against a shared vLLM server or a hosted API meets rate limits as a matter of
course: a 429 is not a failure but the endpoint saying "later". So 429s are counted apart
from failures: each waits what the endpoint's ``Retry-After`` (or ``retry-after-ms``) asks,
and they are retried until ``rate_limit_patience`` seconds of waiting have been spent.
Connection errors, 408, 409 and 5xx are failures: retried ``max_retries`` times with
jittered exponential backoff.

:class:`AdaptiveLimit` caps the requests one client has in flight (``max_connections``)
and adapts the cap the way TCP does (AIMD): a 429 halves it, each success adds
``1 / cap``, so a run settles just under what the endpoint accepts instead of
hammering it with requests that will all be refused.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from ._http import ApiError, ConnectionFailed, StatusError

T = TypeVar("T")


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the endpoint asked us to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or a date);
    ``headers`` with lower-case names."""
    if headers is None:
        return None
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except ValueError:
        pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, StatusError) and exc.status_code == 429


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionFailed):  # includes timeouts
        return True
    return isinstance(exc, StatusError) and (exc.status_code in (408, 409) or exc.status_code >= 500)


@dataclass
class RetryPolicy:
    max_retries: int = 3
    rate_limit_patience: float = 600.0
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, exc: BaseException, failures: int, rate_limits: int, waited: float) -> float | None:
        """Seconds to wait before sending again, or None to give up on ``exc``."""
        asked = retry_after(exc.headers) if isinstance(exc, StatusError) else None
        if _rate_limited(exc):
            wait = asked if asked is not None else self._backoff(rate_limits)
            return wait if waited + wait <= self.rate_limit_patience else None
        if not _transient(exc) or failures >= self.max_retries:
            return None
        return min(asked, 60.0) if asked is not None else self._backoff(failures)

    def _backoff(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** min(attempt, 10)) * random.uniform(0.75, 1.0)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        attempts = _Attempts(self)
        while True:
            try:
                return fn(*args, **kwargs)
            except ApiError as exc:
                time.sleep(attempts.wait_after(exc))

    async def acall(self, fn: Callable[..., Awaitable[T]], limit: AdaptiveLimit, *args: Any, **kwargs: Any) -> T:
        attempts = _Attempts(self)
        while True:
            try:
                async with limit.slot():
                    result = await fn(*args, **kwargs)
                limit.succeeded()
                return result
            except ApiError as exc:
                if _rate_limited(exc):
                    limit.rate_limited()
                # Outside the slot: a waiting request holds no connection.
                await asyncio.sleep(attempts.wait_after(exc))


@dataclass
class _Attempts:
    """One request's retries so far: failures and 429s counted apart, and the time spent waiting."""

    policy: RetryPolicy
    failures: int = 0
    rate_limits: int = 0
    waited: float = 0.0

    def wait_after(self, exc: ApiError) -> float:
        """How long to wait before sending again; raises ``exc`` (in its ``except``) when it is time to give up."""
        wait = self.policy.delay(exc, self.failures, self.rate_limits, self.waited)
        if wait is None:
            raise exc
        if _rate_limited(exc):
            self.rate_limits += 1
        else:
            self.failures += 1
        self.waited += wait
        return wait


class AdaptiveLimit:
    """At most ``cap`` requests in flight (``maximum`` to begin with); halved on a 429, grown back on success.

    Used from one event loop at a time (the benchmark runner's); its counters are not locked.
    """

    def __init__(self, maximum: int) -> None:
        self.maximum = max(1, maximum)
        self.cap = float(self.maximum)
        self.in_flight = 0
        self.lowest = self.maximum  # the smallest cap reached, for reports and tests
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._cut_at = 0.0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        while self.in_flight >= int(self.cap):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken and cancelled at once: pass the turn on
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self._wake()

    def rate_limited(self) -> None:
        # One cut per second: the 429s of one burst all answer the same overload.
        now = time.monotonic()
        if now - self._cut_at >= 1.0:
            # Half of what was really in flight: a cap far above the load would take many cuts to bite.
            self.cap = max(1.0, min(self.cap, float(self.in_flight + 1)) / 2)
            self.lowest = min(self.lowest, int(self.cap))
            self._cut_at = now

    def succeeded(self) -> None:
        self.cap = min(float(self.maximum), self.cap + 1.0 / self.cap)
        self._wake()

    def _wake(self) -> None:
        free = int(self.cap) - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
