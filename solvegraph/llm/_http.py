"""The wire under the model client: JSON over HTTP to an OpenAI-compatible endpoint, and its failures.

The client used to go through the OpenAI SDK, which builds about a thousand pydantic classes for its
types at import (~0.4 s of every solve's and bench's start) and of which it used only the raw ``post``.
What it relied on is here instead, and nothing more: the bearer key, JSON in and out, and the SDK's
failures as three kinds the retry policy and the client's one-line messages tell apart (a status the
endpoint answered, a connection that failed, and one that timed out), with the SDK's wording, so the
messages users see did not change.

The asynchronous side (every graph node's and bench sample's request) is aiohttp: measured against a
local endpoint at 32 in flight, 0.6 ms of CPU per request where httpx's ``AsyncClient`` took 2.7 ms
(its pool rescans all its connections on every request), and at a benchmark's hundreds of calls per
second that CPU is the GIL's (a client's first request excepted, which does not wait for aiohttp's
import: see :class:`AsyncHTTP`). The synchronous :meth:`ModelClient.chat` is httpx, for its connection
pool; the endpoint's model list, asked once as a client starts (before the first request of a solve
with no ``--model``), goes through the standard library's urllib (~0.02 s to import, httpx ~0.1 s).
Each is imported where it is first used.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .._version import __version__

# An endpoint that sends anything else is read as text (the reply then has no choices, and says so).
_JSON = "json"


class ApiError(Exception):
    """A model request that failed; ``str()`` is the SDK's wording of it."""


class StatusError(ApiError):
    """The endpoint answered with an error status. ``headers`` have lower-case names (``retry-after``)."""

    def __init__(self, status_code: int, text: str, headers: Mapping[str, str]) -> None:
        self.status_code = status_code
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body: Any = text
        message = f"Error code: {status_code}"
        try:
            self.body = json.loads(text)
        except ValueError:
            pass
        else:  # only the designated message field goes into the text, as the SDK words it
            error = self.body.get("error", self.body) if isinstance(self.body, dict) else None
            said = error.get("message") if isinstance(error, dict) else None
            if isinstance(said, str) and said:
                message += f" - {said}"
        super().__init__(message)


class ConnectionFailed(ApiError):
    """No answer: the connection could not be made, or broke. The cause is chained (``__cause__``)."""

    def __init__(self, message: str = "Connection error.") -> None:
        super().__init__(message)


class TimedOut(ConnectionFailed):
    def __init__(self) -> None:
        super().__init__("Request timed out.")


def _headers(api_key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": f"solvegraph/{__version__}",
    }


def _decoded(status: int, content_type: str, data: bytes, headers: Mapping[str, str]) -> Any:
    """The answer as JSON, or as text when it is not JSON; an error status raises :class:`StatusError`."""
    text = data.decode("utf-8", errors="replace")
    if status >= 400:
        raise StatusError(status, text.strip(), headers)
    if not content_type.split(";")[0].strip().endswith(_JSON):
        return text
    try:
        return json.loads(data)
    except ValueError:
        return text  # "JSON" that is not: no choices in it, read as an empty reply


class Redirected(ApiError):
    """The endpoint answered a redirect that urllib was told not to follow (see :class:`AsyncHTTP`)."""


def _urlopen(
    url: str, api_key: str, timeout: float, method: str = "GET", data: bytes | None = None, *, follow: bool = True
) -> Any:
    """One request through the standard library's urllib (proxies from the environment, as the others).

    With ``follow=False`` a redirect raises :class:`Redirected` instead of being followed (urllib would
    follow a POST's 301-303 as a GET without its body, and not follow its 307 or 308 at all).
    """
    import urllib.error
    import urllib.request

    class Unfollowed(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None  # urllib raises the redirect's HTTPError

    if not url.startswith(("http://", "https://")):  # urllib would also open file: and ftp: URLs
        raise ConnectionFailed()
    request = urllib.request.Request(url, data=data, headers=_headers(api_key), method=method)
    # An opener of its own: ``urlopen``'s global one keeps the proxies the environment had at its first use.
    opener = urllib.request.build_opener(*([] if follow else [Unfollowed]))
    try:
        try:
            with opener.open(request, timeout=timeout) as response:
                status, headers, payload = response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            if not follow and 300 <= exc.code < 400:
                raise Redirected(f"redirected ({exc.code})") from exc
            with exc:  # its body is read like any other: a broken one fails as the connection did
                status, headers, payload = exc.code, exc.headers, exc.read()
    except Redirected:
        raise
    except Exception as exc:
        reason = getattr(exc, "reason", exc)
        raise (TimedOut() if isinstance(reason, TimeoutError) else ConnectionFailed()) from exc
    return _decoded(status, headers.get("Content-Type", ""), payload, dict(headers.items()))


class SyncHTTP:
    """Blocking requests: ``GET`` through urllib, others on one httpx connection pool opened at the first."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self.base_url, self._api_key, self._timeout = base_url, api_key, timeout
        self._client: Any = None

    def get(self, path: str) -> Any:
        """A one-off ``GET`` (the model list): no pool to set up for it."""
        return _urlopen(self.base_url + path, self._api_key, self._timeout)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import httpx

        if self._client is None:
            self._client = httpx.Client(
                headers=_headers(self._api_key), timeout=httpx.Timeout(self._timeout), follow_redirects=True
            )
        content = json.dumps(body).encode() if body is not None else None
        try:
            response = self._client.request(method, self.base_url + path, content=content)
        except httpx.TimeoutException as exc:
            raise TimedOut() from exc
        except Exception as exc:  # a bad URL, a refused or broken connection: the SDK's "Connection error."
            raise ConnectionFailed() from exc
        return _decoded(response.status_code, response.headers.get("content-type", ""), response.content,
                        response.headers)  # fmt: skip

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class AsyncHTTP:
    """Requests on one aiohttp session, which belongs to the event loop it was made on (make it there).

    A process's first request does not wait for aiohttp (~0.1 s to import, 0.04 s of it the two SSL
    contexts it builds then) when its endpoint is on this machine or named by its IP address, and no proxy
    is set for it (:func:`_quick_route`): it goes out at once through urllib on a thread of its own while
    aiohttp is imported on another, so a solve's planner is thinking while the process loads. Every later
    request, and any sent while aiohttp still loads, goes on the session. Both routes send the same
    request (the headers, the JSON body) and fail the same three ways; a redirect answered to the first is
    asked again on the session, so it is answered as every later request's is. Cancelled, the first
    request's thread waits for its reply and drops it (the session's would close its connection).
    """

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self.base_url, self._api_key, self._timeout = base_url, api_key, timeout
        self._session: Any = None
        self._loading: asyncio.Future[None] | None = None

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        if self._session is None:
            if not _AIOHTTP_LOADED.is_set():
                loop = asyncio.get_running_loop()
                if self._loading is None:
                    # Not a daemon: a process that ends while a daemon thread imports can crash in the
                    # interpreter's teardown (a bench of one sample segfaulted 3 times in 30); it waits.
                    self._loading = _on_own_thread(loop, _import_aiohttp, daemon=False)
                    self._loading.add_done_callback(_retrieved)
                    if _quick_route(self.base_url):
                        url, ask = self.base_url + path, functools.partial(_urlopen, follow=False)
                        with contextlib.suppress(Redirected):
                            return await _on_own_thread(loop, ask, url, self._api_key, self._timeout, method, data)
                await asyncio.shield(self._loading)
            if self._session is None:
                self._open()
        return await self._request(method, path, data)

    def _open(self) -> None:
        import aiohttp
        import aiohttp.helpers
        import yarl

        self._client_timeout = aiohttp.ClientTimeout(
            sock_connect=self._timeout, sock_read=self._timeout, connect=self._timeout
        )
        # The SDK's pool: up to 1,000 connections (the client's adaptive limit is the real cap), idle ones
        # closed after 5 s. The proxy from the environment (HTTP(S)_PROXY, NO_PROXY), as httpx and urllib
        # read it, is looked up once: every request goes to the same endpoint, and aiohttp's ``trust_env``
        # would look it up, and read ~/.netrc, on a thread for every request (two thread hops a request, at
        # a benchmark's hundreds a second). ~/.netrc is not read for the endpoint: its key is the bearer
        # header (with trust_env, a ~/.netrc entry for the endpoint's host failed every request).
        self._proxy: Any = None
        self._proxy_auth: Any = None
        with contextlib.suppress(LookupError, ValueError):
            self._proxy, self._proxy_auth = aiohttp.helpers.get_env_proxy_for_url(yarl.URL(self.base_url))
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=5.0)
        self._session = aiohttp.ClientSession(connector=connector, headers=_headers(self._api_key))

    async def _request(self, method: str, path: str, data: bytes | None) -> Any:
        try:
            async with self._session.request(
                method, self.base_url + path, data=data, timeout=self._client_timeout, proxy=self._proxy,
                proxy_auth=self._proxy_auth,
            ) as got:  # fmt: skip
                payload = await got.read()
        except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors too
            raise TimedOut() from exc
        except Exception as exc:
            raise ConnectionFailed() from exc
        return _decoded(got.status, got.headers.get("Content-Type", ""), payload, got.headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


_AIOHTTP_LOADED = threading.Event()  # in this process: every later client's first request goes on its session


def _import_aiohttp() -> None:
    import aiohttp  # noqa: F401

    _AIOHTTP_LOADED.set()


def preload_transport() -> None:
    """Import aiohttp on a thread now: for a caller that first waits for its user (``chat``), so that even
    its first request goes on the session."""
    if not _AIOHTTP_LOADED.is_set():
        threading.Thread(target=_import_aiohttp, name="sg-preload").start()  # not a daemon: see request()


def _retrieved(future: asyncio.Future[Any]) -> None:
    """aiohttp's import failed: the requests waiting for it raise the error; nobody waiting is no warning."""
    if not future.cancelled():
        future.exception()


def _quick_route(url: str) -> bool:
    """Whether a first request to ``url`` may go through urllib: an endpoint named ``localhost`` or by its IP
    address (one address to connect to, where urllib has no fallback from an IPv6 address that does not
    answer to the next), with no proxy set for it (urllib and aiohttp do not read proxies alike)."""
    import ipaddress
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return False
    proxies = urllib.request.getproxies()
    return not proxies.get(parts.scheme) or bool(urllib.request.proxy_bypass(host))


def _on_own_thread(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any, daemon: bool = True
) -> asyncio.Future[Any]:
    """``fn(*args)`` on a thread of its own (by default a daemon), its outcome a future of ``loop``.

    Not the loop's default executor: ``asyncio.run`` waits for that executor's threads as it ends, so a
    first request still waiting on the endpoint when the solve ends (interrupted, failed) would hold the
    process for up to the request's timeout. A daemon thread is waited for by nobody; its late outcome is
    dropped.
    """
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            outcome: tuple[Any, BaseException | None] = (fn(*args), None)
        except BaseException as exc:
            outcome = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=run, name="sg-first-request", daemon=daemon).start()
    return future


__all__ = ["ApiError", "AsyncHTTP", "ConnectionFailed", "StatusError", "SyncHTTP", "TimedOut", "preload_transport"]
