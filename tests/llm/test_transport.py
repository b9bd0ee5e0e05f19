"""The model client's wire (solvegraph/llm/_http.py): a process's first async request to a local endpoint goes
out through urllib while aiohttp is imported, later ones on aiohttp's session; both routes send and fail alike;
with a proxy set, every request goes on the session. Against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from solvegraph.llm import _http
from solvegraph.llm._http import AsyncHTTP, ConnectionFailed, StatusError

BODY = {"model": "m", "messages": [{"role": "user", "content": "x"}]}


def _both(base_url: str, api_key: str = "k") -> tuple[list[Any], AsyncHTTP]:
    """The same request twice on one fresh client, as in a fresh process (aiohttp not loaded yet, so the first
    may take the urllib route): what each returned or raised."""
    _http._AIOHTTP_LOADED.clear()
    http = AsyncHTTP(base_url, api_key, 10.0)

    async def run() -> list[Any]:
        out: list[Any] = []
        try:
            for _ in range(2):
                try:
                    out.append(await http.request("POST", "/chat/completions", BODY))
                except (StatusError, ConnectionFailed) as exc:
                    headers = getattr(exc, "headers", {})
                    out.append((type(exc).__name__, str(exc), headers.get("retry-after")))
        finally:
            await http.close()
        return out

    return asyncio.run(run()), http


def test_the_first_request_and_the_next_send_the_same_and_get_the_same(scripted) -> None:
    with scripted(["same", "same"], api_key="k") as model:
        (first, second), http = _both(model.base_url)
        assert model.requests[0] == model.requests[1] == BODY, "the same body and key (else a 401) went out"
    assert http._session is not None, "the second request went on aiohttp's session"
    assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"] == "same"


def test_both_routes_fail_alike(scripted) -> None:
    limited = {"status": 429, "message": "slow down", "headers": {"Retry-After": "3"}}
    with scripted([{"status": 500, "message": "boom"}, {"status": 500, "message": "boom"}]) as model:
        first, second = _both(model.base_url)[0]
    assert first == second == ("StatusError", "Error code: 500 - boom", None)
    with scripted([limited, limited]) as model:
        first, second = _both(model.base_url)[0]
    assert first == second == ("StatusError", "Error code: 429 - slow down", "3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    first, second = _both(f"http://127.0.0.1:{port}/v1")[0]
    assert first == second == ("ConnectionFailed", "Connection error.", None)


def test_a_redirect_answered_to_the_first_request_is_asked_again_on_the_session(scripted) -> None:
    """urllib would not follow a POST's 307; aiohttp does, so the first request is asked again on the session."""
    with scripted([]) as model:
        moved = {"status": 307, "message": "moved", "headers": {"Location": f"{model.base_url}/chat/completions"}}
        model.script = {"default": [moved, moved, "ok", "ok"]}
        first, second = _both(model.base_url)[0]
        assert len(model.requests) == 4, "urllib's 307, the session's 307 and where it led, then the second"
    assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"] == "ok"


def test_a_truncated_error_body_fails_as_a_connection_on_both_routes() -> None:
    """A 502 whose body stops short (a proxy dropping the connection): ConnectionFailed, which is retried."""

    class Truncated(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.recv(65536)
            self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 100\r\n\r\nshort")

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Truncated) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        first, second = _both(f"http://127.0.0.1:{server.server_address[1]}/v1")[0]
        server.shutdown()
    assert first == second == ("ConnectionFailed", "Connection error.", None)


def test_the_first_request_takes_urllib_only_to_a_local_endpoint_with_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    quick = _http._quick_route
    assert quick("http://127.0.0.1:8000/v1") and quick("http://localhost:8000/v1") and quick("http://[::1]:8/v1")
    assert not quick("https://api.example.com/v1"), "a name may resolve to an IPv6 address that never answers"
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:3128")
    assert not quick("http://127.0.0.1:8000/v1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert quick("http://127.0.0.1:8000/v1")


def test_with_a_proxy_every_request_goes_through_it_on_the_session(scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted endpoint is the proxy: a host that does not resolve is answered only through it."""
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with scripted(["proxied", "proxied"]) as proxy:
        monkeypatch.setenv("http_proxy", proxy.base_url.rsplit("/v1", 1)[0])
        (first, second), http = _both("http://10.255.255.1:9/v1")
        assert http._session is not None, "the first went on the session too"
        assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"] == "proxied"
        assert len(proxy.requests) == 2
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        proxy.script = {"default": ["direct", "direct"]}
        first, second = _both(proxy.base_url)[0]
        assert first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"] == "direct"


# In a fresh interpreter: aiohttp's import is held until the first reply has come back. (Not by a finder on
# sys.meta_path: a finder runs under the interpreter's global import lock, which would hold every import.)
HELD = """
import asyncio, sys, threading
from solvegraph.llm import ModelClient, _http

gate = threading.Event()
load = _http._import_aiohttp
_http._import_aiohttp = lambda: (gate.wait(60), load())
client = ModelClient(sys.argv[1], model="m", max_retries=0)

async def main():
    first = await client.achat([{"role": "user", "content": "x"}])
    print("first", first.text, "aiohttp" in sys.modules)
    gate.set()
    second = await client.achat([{"role": "user", "content": "y"}])
    print("second", second.text, "aiohttp" in sys.modules)
    await client.aclose()

async def later():  # a new loop, a new client: aiohttp is loaded, so no urllib route
    _http._urlopen = None
    other = ModelClient(sys.argv[1], model="m", max_retries=0)
    print("later", (await other.achat([{"role": "user", "content": "z"}])).text)
    await other.aclose()

asyncio.run(main())
asyncio.run(later())
"""

# A first request cancelled while the endpoint still thinks: the loop ends without waiting for it.
CANCELLED = """
import asyncio, contextlib, sys
from solvegraph.llm import ModelClient

client = ModelClient(sys.argv[1], model="m", max_retries=0)

async def main():
    task = asyncio.ensure_future(client.achat([{"role": "user", "content": "x"}]))
    await asyncio.sleep(0.5)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.aclose()

asyncio.run(main())
print("ended")
"""


def test_the_first_request_does_not_wait_for_aiohttp(scripted, tmp_path: Path) -> None:
    with scripted(["one", "two", "three"]) as model:
        proc = subprocess.run(
            [sys.executable, "-c", HELD, model.base_url], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:3] == ["first one False", "second two True", "later three"]


def test_a_cancelled_first_request_does_not_hold_the_process(scripted, tmp_path: Path) -> None:
    """The endpoint answers after 600 s; the process ends at once (the subprocess timeout is a hang guard)."""
    with scripted(["late"], delay_s=600) as model:
        proc = subprocess.run(
            [sys.executable, "-c", CANCELLED, model.base_url], capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert proc.returncode == 0 and proc.stdout.strip() == "ended", proc.stderr[-2000:]
