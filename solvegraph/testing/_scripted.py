"""A scripted OpenAI-compatible HTTP server on loopback, for tests and benchmarks only.

It answers chat completions from a script so graph logic can be tested
deterministically, while requests still go through the real model client,
real HTTP and real response parsing. It is never offered to users as a model.

A script maps an agent ("planner", "solver", "verifier", "refiner"; found from the
system prompt's first line) to a list of replies, consumed in order; the last one
repeats. A reply is a string, a dict with ``content`` and/or ``tool_calls``
(``[{"name": ..., "arguments": {...}}]``) and optionally ``usage`` (fields laid over the word
counts, e.g. ``prompt_tokens_details``), ``reasoning_content`` or ``reasoning`` (a reasoning
parser's field, as vLLM and the DeepSeek API return it) and ``finish_reason``; a dict with ``status``
to answer an HTTP error (with ``headers``, e.g. ``Retry-After``), or a callable taking the request
body and returning any of these.

Tokens are words. With ``prefix_cache=True`` the endpoint simulates a prefix cache (vLLM's automatic
prefix caching, llama.cpp's prompt cache, OpenAI's prompt caching): each prompt (the tool schemas first, as
a chat template renders them, then each message's role and words) is matched against every earlier one,
and the longest common prefix is reported as ``usage.prompt_tokens_details.cached_tokens``; the tool
schemas' words then count as prompt tokens too. ``model.prefix_cache`` keeps the totals. With
``honour_max_tokens=True`` a reply longer than the request's ``max_tokens``
is cut there (reasoning first, then content), without its tool calls, and ends with
``finish_reason: "length"``, as a real server cuts a reply off. A request with ``n`` > 1 is answered with
``n`` choices, each the agent's next reply, the prompt counted once (as vLLM and OpenAI do); with
``supports_n=False`` the endpoint ignores ``n`` and answers one choice, as llama.cpp's server does.
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
        honour_max_tokens: bool = False,
        prefix_cache: bool = False,
        supports_n: bool = True,
    ) -> None:
        self.supports_n = supports_n
        if isinstance(script, list) or script is None:
            script = {"default": list(script or ["ANSWER: 0"])}
        self.script = {k: list(v) for k, v in script.items()}
        self.delay_s = delay_s
        self.api_key = api_key
        self.model = model
        self.honour_max_tokens = honour_max_tokens
        self.prefix_cache = PrefixCache() if prefix_cache else None
        self.requests: list[dict[str, Any]] = []  # one per reply served (a request with n > 1: n of them)
        self.http_requests = 0  # chat completion requests received
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
                with model._lock:
                    model.http_requests += 1
                n = body.get("n") if model.supports_n and isinstance(body.get("n"), int) else 1
                replies = [model.next_reply(body) for _ in range(max(1, n))]
                reply = next((r for r in replies if isinstance(r, dict) and "status" in r), replies[0])
                if isinstance(reply, dict) and "status" in reply:
                    self._send(
                        int(reply["status"]),
                        {"error": {"message": reply.get("message", "scripted error")}},
                        reply.get("headers"),
                    )
                    return
                answer = completion(body, reply, model.model, model.honour_max_tokens)
                for i, more in enumerate(replies[1:], 1):  # n choices: the prompt once, each completion counted
                    other = completion(body, more, model.model, model.honour_max_tokens)
                    answer["choices"].append({**other["choices"][0], "index": i})
                    for key in ("completion_tokens", "total_tokens"):
                        answer["usage"][key] += other["usage"]["completion_tokens"]
                if model.prefix_cache is not None:
                    model.prefix_cache.report(body, answer["usage"])
                self._send(200, answer)

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


def completion(body: dict[str, Any], reply: Any, model: str, honour_max_tokens: bool = False) -> dict[str, Any]:
    """An OpenAI chat.completion object for ``reply``."""
    content: str | None
    thought: dict[str, str] = {}
    finish = ""
    if isinstance(reply, str):
        content, calls, usage = reply, [], {}
    else:
        content, calls, usage = reply.get("content"), reply.get("tool_calls", []), reply.get("usage", {})
        thought = {k: reply[k] for k in ("reasoning_content", "reasoning") if isinstance(reply.get(k), str)}
        finish = str(reply.get("finish_reason") or "")
    limit = body.get("max_tokens") if honour_max_tokens else None
    if isinstance(limit, int) and _words(content) + sum(_words(v) for v in thought.values()) > limit:
        left = limit
        for key, value in thought.items():
            thought[key], left = _cut(value, left)
        content, _ = _cut(content or "", left)
        calls, finish = [], "length"
    tool_calls = [
        {
            "id": c.get("id", f"call_{uuid.uuid4().hex[:8]}"),
            "type": "function",
            "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
        }
        for c in calls
    ]
    prompt_words = sum(len(str(m.get("content") or "").split()) for m in body.get("messages", []))
    message: dict[str, Any] = {"role": "assistant", "content": content, **thought}
    if tool_calls:
        message["tool_calls"] = tool_calls
    reasoning_words = sum(_words(v) for v in thought.values())
    completion_words = _words(content) + reasoning_words + 5 * len(tool_calls)
    counted: dict[str, Any] = {
        "prompt_tokens": prompt_words,
        "completion_tokens": completion_words,
        "total_tokens": prompt_words + completion_words,
    }
    if reasoning_words:
        counted["completion_tokens_details"] = {"reasoning_tokens": reasoning_words}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish or ("tool_calls" if tool_calls else "stop")}
        ],
        "usage": {**counted, **usage},
    }


class PrefixCache:
    """The prompts served so far as a trie of tokens: a new prompt's cached part is its longest prefix in it.

    Token by token, not in blocks as vLLM caches (16 tokens a block), and never evicted: an upper bound of
    what a real cache serves from the same prompts, and exact about which parts of a prompt can be served.
    """

    def __init__(self) -> None:
        self._root: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.requests = 0
        self.by_agent: dict[str, list[int]] = {}  # agent → [prompt tokens, cached tokens]
        self.hits: list[int] = []  # each request's cached tokens, in the order served

    @staticmethod
    def tokens(body: dict[str, Any]) -> list[str]:
        """The prompt as the template lays it out: tool schemas, then each message (a role marker and its words).
        Role markers are not counted as tokens."""
        out = json.dumps(body["tools"], sort_keys=True).split() if body.get("tools") else []
        for message in body.get("messages", []):
            out.append(f"\x00{message.get('role')}")
            out += str(message.get("content") or "").split()
            if message.get("tool_calls"):
                out += json.dumps(message["tool_calls"], sort_keys=True).split()
        return out

    def serve(self, tokens: list[str]) -> int:
        """Record ``tokens`` and return how many of them (markers aside) earlier prompts had as a prefix."""
        with self._lock:
            node, hit, matching = self._root, 0, True
            for token in tokens:
                following = node.get(token)
                if following is None:
                    matching, following = False, node.setdefault(token, {})
                elif matching and not token.startswith("\x00"):
                    hit += 1
                node = following
            return hit

    def report(self, body: dict[str, Any], usage: dict[str, Any]) -> None:
        """Lay the cache's count over a completion's usage (a script's own ``usage`` fields still win)."""
        tokens = self.tokens(body)
        counted = sum(not t.startswith("\x00") for t in tokens)
        hit = self.serve(tokens)
        if "prompt_tokens_details" not in usage:
            grown = counted - usage.get("prompt_tokens", 0)
            usage["prompt_tokens"] = counted
            usage["total_tokens"] = usage.get("total_tokens", 0) + grown
            usage["prompt_tokens_details"] = {"cached_tokens": hit}
        with self._lock:
            self.requests += 1
            self.prompt_tokens += counted
            self.cached_tokens += hit
            self.hits.append(hit)
            seen = self.by_agent.setdefault(agent_of(body), [0, 0])
            seen[0], seen[1] = seen[0] + counted, seen[1] + hit

    @property
    def share(self) -> float:
        """The share of all prompt tokens served so far that came from the cache."""
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


def _words(text: str | None) -> int:
    return len((text or "").split())


def _cut(text: str, words: int) -> tuple[str, int]:
    """The first ``words`` words of ``text`` as written (spacing kept), and how many words are left."""
    found = list(re.finditer(r"\s*\S+", text))
    if len(found) <= words:
        return text, words - len(found)
    return (text[: found[words - 1].end()] if words > 0 else ""), 0


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
