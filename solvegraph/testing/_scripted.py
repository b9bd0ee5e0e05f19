"""A scripted OpenAI-compatible HTTP server on loopback, for tests and benchmarks only.

It answers chat completions from a script so graph logic can be tested
deterministically, while requests still go through the real ``openai`` client,
real HTTP and real response parsing. It is never offered to users as a model.

A script maps an agent ("planner", "solver", "verifier", "refiner"; found from the
system prompt's first line) to a list of replies, consumed in order; the last one
repeats. A reply is a string, a dict with ``content`` and/or ``tool_calls``
(``[{"name": ..., "arguments": {...}}]``) and optionally ``usage`` (fields laid over the word
counts, e.g. ``prompt_tokens_details``), a dict with ``status`` to answer an HTTP
error (with ``headers``, e.g. ``Retry-After``), or a callable taking the request body and returning any of these.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = str | dict[str, Any] | Callable[[dict[str, Any]], Any]
_AGENT = re.compile(r"You are the solvegraph (\w+)")


def agent_of(body: dict[str, Any]) -> str:
    for message in body.get("messages", []):
        if message.get("role") == "system":
            m = _AGENT.search(str(message.get("content", "")))
            if m:
                return m.group(1)
    return "default"


class ScriptedModel:
    """Start with ``with ScriptedModel(script) as model:`` and use ``model.base_url``."""

    def __init__(
        self,
        script: dict[str, list[Reply]] | list[Reply] | None = None,
        *,
        delay_s: float = 0.0,
        api_key: str | None = None,
        model: str = "scripted",
    ) -> None:
        if isinstance(script, list) or script is None:
            script = {"default": list(script or ["ANSWER: 0"])}
        self.script = {k: list(v) for k, v in script.items()}
        self.delay_s = delay_s
        self.api_key = api_key
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._cursor: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "ScriptedModel is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def calls(self, agent: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if agent is None or agent_of(r) == agent]

    def next_reply(self, body: dict[str, Any]) -> Any:
        agent = agent_of(body)
        with self._lock:
            self.requests.append(body)
            key = agent if agent in self.script else "default"
            replies = self.script.get(key) or ["ANSWER: 0"]
            i = self._cursor.get(key, 0)
            self._cursor[key] = i + 1
            reply = replies[min(i, len(replies) - 1)]
        return reply(body) if callable(reply) else reply

    def start(self) -> ScriptedModel:
        model = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, a keep-alive client's delayed ACK
            # stalls each response ~40 ms, which would swamp any latency measured against this stub.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorized(self) -> bool:
                if model.api_key and self.headers.get("Authorization") != f"Bearer {model.api_key}":
                    self._send(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                    return False
                return True

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {"id": model.model, "object": "model", "created": 0, "owned_by": "solvegraph-tests"}
                            ],
                        },
                    )
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self._authorized():
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found"}})
                    return
                if model.delay_s:
                    time.sleep(model.delay_s)
                reply = model.next_reply(body)
                if isinstance(reply, dict) and "status" in reply:
                    self._send(
                        int(reply["status"]),
                        {"error": {"message": reply.get("message", "scripted error")}},
                        reply.get("headers"),
                    )
                    return
                self._send(200, completion(body, reply, model.model))

        ThreadingHTTPServer.request_queue_size = 128  # many concurrent benchmark workers connect at once
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True, name="scripted-model").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ScriptedModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def completion(body: dict[str, Any], reply: Any, model: str) -> dict[str, Any]:
    """An OpenAI chat.completion object for ``reply``."""
    content: str | None
    if isinstance(reply, str):
        content, calls, usage = reply, [], {}
    else:
        content, calls, usage = reply.get("content"), reply.get("tool_calls", []), reply.get("usage", {})
    tool_calls = [
        {
            "id": c.get("id", f"call_{uuid.uuid4().hex[:8]}"),
            "type": "function",
            "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
        }
        for c in calls
    ]
    prompt_words = sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_calls else "stop"}],
        "usage": {
            "prompt_tokens": prompt_words,
            "completion_tokens": len((content or "").split()) + 5 * len(tool_calls),
            "total_tokens": prompt_words + len((content or "").split()) + 5 * len(tool_calls),
            **usage,
        },
    }


def main() -> None:
    """Serve one fixed reply after a fixed delay, in its own process (benchmarks' stub endpoint)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="A stub OpenAI-compatible endpoint for benchmarks and tests.")
    parser.add_argument("--reply", action="append", required=True, help="reply text; repeat for a sequence")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    model = ScriptedModel({"default": list(args.reply)}, delay_s=args.delay).start()
    print(model.base_url, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    model.stop()


if __name__ == "__main__":
    main()
