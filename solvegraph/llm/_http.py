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
second that CPU is the GIL's. The synchronous :meth:`ModelClient.chat` is httpx, for its connection
pool; the endpoint's model list, asked once as a client starts (before the first request of a solve
with no ``--model``), goes through the standard library's urllib (~0.02 s to import, httpx ~0.1 s).
Each is imported where it is first used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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


class SyncHTTP:
    """Blocking requests: ``GET`` through urllib, others on one httpx connection pool opened at the first."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        self.base_url, self._api_key, self._timeout = base_url, api_key, timeout
        self._client: Any = None

    def get(self, path: str) -> Any:
        """A one-off ``GET`` (the model list): no pool to set up for it."""
        import urllib.error
        import urllib.request

        url = self.base_url + path
        if not url.startswith(("http://", "https://")):  # urllib would also open file: and ftp: URLs
            raise ConnectionFailed()
        request = urllib.request.Request(url, headers=_headers(self._api_key), method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                status, headers, data = response.status, response.headers, response.read()
        except urllib.error.HTTPError as exc:
            status, headers, data = exc.code, exc.headers, exc.read()
        except Exception as exc:
            reason = getattr(exc, "reason", exc)
            raise (TimedOut() if isinstance(reason, TimeoutError) else ConnectionFailed()) from exc
        return _decoded(status, headers.get("Content-Type", ""), data, dict(headers.items()))

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
    """Requests on one aiohttp session: it belongs to the event loop it was made on (make it there)."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        import aiohttp

        self.base_url = base_url
        self._timeout = aiohttp.ClientTimeout(sock_connect=timeout, sock_read=timeout, connect=timeout)
        # The SDK's pool: up to 1,000 connections (the client's adaptive limit is the real cap), idle ones
        # closed after 5 s; proxies and CA files from the environment, as httpx reads them.
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=5.0)
        self._session = aiohttp.ClientSession(connector=connector, headers=_headers(api_key), trust_env=True)

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        try:
            async with self._session.request(method, self.base_url + path, data=data, timeout=self._timeout) as got:
                payload = await got.read()
        except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors too
            raise TimedOut() from exc
        except Exception as exc:
            raise ConnectionFailed() from exc
        return _decoded(got.status, got.headers.get("Content-Type", ""), payload, got.headers)

    async def close(self) -> None:
        await self._session.close()


__all__ = ["ApiError", "AsyncHTTP", "ConnectionFailed", "StatusError", "SyncHTTP", "TimedOut"]
