"""The one way solvegraph talks to models: OpenAI chat completions over HTTP.

Any OpenAI-compatible endpoint works (OpenAI, vLLM, SGLang, Ollama, llama.cpp server).
Both a synchronous :meth:`ModelClient.chat` and an asyncio :meth:`ModelClient.achat`
(for the graph's nodes and the benchmark runner's many samples in flight) share one
retry policy (:mod:`._retry`): connection errors, 408/409 and 5xx are retried with
jittered exponential backoff up to ``max_retries``; a 429 waits what the endpoint's
``Retry-After`` asks and is retried until ``rate_limit_patience`` seconds of waiting are
spent. Async calls also pass an adaptive per-endpoint limit that halves on a 429.
Failures that remain are turned into one-line :class:`ModelConnectionError` messages
that name the URL.

Requests are plain JSON over HTTP (:mod:`._http`): the body is sent as built and the reply read as
plain data. The OpenAI SDK is not used: its type-driven transform of every message and its model
construction cost about 2 ms of CPU per call, which under one GIL capped a benchmark's throughput,
and its import (~0.4 s) was most of a solve's wait for its first model request.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import tracing
from ..errors import ConfigError, ModelConnectionError, PromptRefusedError
from ..types import Price, ToolCall, Usage
from ._dialects import CONTENT_DIALECTS, detect, parse_calls
from ._http import ApiError, AsyncHTTP, ConnectionFailed, StatusError, SyncHTTP, TimedOut
from ._profiles import ModelProfile
from ._reasoning import split_reasoning
from ._retry import AdaptiveLimit, RetryPolicy

# The keys a message may carry the model's earlier reasoning under; sent back only where the API wants it.
REASONING_KEYS = ("reasoning_content", "reasoning")
# What _post/_apost return when the endpoint turned down ``tools`` or ``response_format``: ask again without.
_ASK_AGAIN: Any = object()


@dataclass
class Reply:
    """One model turn as the agents read it.

    ``text`` is what may be parsed for code and answers: the content without reasoning and without the
    tool calls' markup, and empty when the reply cannot be trusted as complete (cut off at ``max_tokens``,
    or ended inside a reasoning block). ``content`` is what the model wrote, reasoning taken out (what a
    later turn sends back). ``problems`` are one line each, for the trajectory and the model's next turn.
    """

    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    duration_s: float = 0.0
    finish_reason: str = ""
    model: str = ""  # the model asked (the client's), recorded with the step it answers
    reasoning: str = ""
    content: str | None = None  # None: the same as ``text``
    tool_format: str = ""  # "native", a content dialect ("hermes", "llama", "mistral", "fenced"), or ""
    problems: list[str] = field(default_factory=list)
    # Each earlier try of this turn that was cut off: {"max_tokens": asked, "finish_reason": "length"}.
    retries: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.content is None:
            self.content = self.text

    def meta(self) -> dict[str, Any]:
        """What a step records of the reply besides its text: only what is there."""
        found: dict[str, Any] = {
            "reasoning": self.reasoning,
            "finish_reason": self.finish_reason,
            "tool_format": self.tool_format,
            "problems": list(self.problems),
            "retries": list(self.retries),
        }
        return {k: v for k, v in found.items() if v}


class ChatModel(Protocol):
    """What the agents need of a model: a name, an identity for cache keys, and one chat turn (the graph's
    nodes await ``achat``; ``chat`` is for callers without an event loop).

    :class:`ModelClient` is the real one; wrappers (the bench runner's per-sample limits) satisfy it too.
    """

    @property
    def model(self) -> str: ...

    @property
    def base_url(self) -> str: ...

    @property
    def identity(self) -> str: ...

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Reply: ...

    async def achat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Reply: ...


class ModelClient:
    """A chat-completions client bound to one endpoint and model."""

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        max_connections: int = 64,
        rate_limit_patience: float = 600.0,
        temperature: float = 0.0,
        max_tokens: int = 1024,
        tool_mode: str = "auto",
        max_tokens_limit: int | None = None,
        resend_reasoning: str = "",
        top_p: float | None = None,
        cache: Any = None,
        identity: str | None = None,
        price: Price | Callable[[str], Price | None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Optional response cache: anything with cached_reply(key) and cache_reply(key, model, reply).
        self.cache = cache

        self.temperature = temperature
        self.max_tokens = max_tokens
        self.tool_mode = tool_mode
        # None until we learn whether the endpoint accepts the ``tools`` parameter.
        self.native_tools: bool | None = {"native": True, "text": False}.get(tool_mode)
        # The dialect this endpoint writes calls in when they come in the content: forced by ``tool_mode``,
        # or learned from the first reply that has one (``auto``) and kept for the endpoint from then on.
        self.dialect: str | None = (
            "fenced" if tool_mode in ("text", "native") else (tool_mode if tool_mode in CONTENT_DIALECTS else None)
        )
        # A reply cut off at max_tokens is asked again with twice as many, up to this many (None: no retry).
        self.max_tokens_limit = max_tokens_limit
        # Whether the endpoint takes ``response_format`` (a JSON schema): None until a request says.
        self.structured: bool | None = None
        # The field earlier turns' reasoning goes back in ("" : never; the DeepSeek API rejects it).
        self.resend_reasoning = resend_reasoning
        self.top_p = top_p
        self.profile = ""  # the model profile in use (solvegraph.llm._profiles), "" for none
        # Retries honour Retry-After (past the 60 s the SDK capped it at), count 429s apart from failures,
        # and tell the adaptive limit about them.
        self.retry = RetryPolicy(max_retries=max_retries, rate_limit_patience=rate_limit_patience)
        self.limit = AdaptiveLimit(max_connections)
        self._api_key, self._timeout = api_key or "sk-no-key", timeout
        self._client = SyncHTTP(self.base_url, self._api_key, timeout)
        # One async session per event loop: its connection pool belongs to the loop that opened it.
        self._async: dict[int, tuple[asyncio.AbstractEventLoop, AsyncHTTP]] = {}
        self._async_lock = threading.Lock()
        self.model = model or self._first_model()
        # What decides the answers, for cache keys: the endpoint and model, or for the embedded server
        # the model file (its port is random, so the URL would make every run a cache miss).
        self.identity = identity or f"{self.base_url}#{self.model}"
        # What a call costs: a price, or a lookup by model name (the endpoint may name the model only now).
        self.price: Price | None = price(self.model) if callable(price) else price

    def use_profile(self, profile: ModelProfile, keep: frozenset[str] = frozenset()) -> None:
        """Take what ``profile`` sets, but for the settings named in ``keep`` (the user set them)."""
        self.profile = profile.name
        for key, value in profile.settings().items():
            if key in keep:
                continue
            if key == "tool_mode":
                self.tool_mode, self.dialect = value, value
            elif key == "max_tokens_limit":
                self.max_tokens_limit = max(value, self.max_tokens)
            else:
                setattr(self, key, value)

    def check_model(self) -> None:
        """Refuse a model the endpoint does not serve, when the endpoint lists what it serves.

        A misspelt ``--model`` otherwise fails only at the first call, deep in a run, or is ignored
        by a server that answers with whatever it loaded (llama.cpp): the answers would be credited
        to a model that never gave them. An endpoint without a model list is taken at its word.
        """
        try:
            served = self._served()
        except Exception:  # no list here, the endpoint is down, or a proxy answered HTML: the first call says
            return
        # Ollama serves "llama3.2" as "llama3.2:latest" and answers to both.
        if served and self.model not in served and not any(s.startswith(f"{self.model}:") for s in served):
            near = difflib.get_close_matches(self.model, served, n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            listed = ", ".join(served[:8]) + (f" and {len(served) - 8} more" if len(served) > 8 else "")
            raise ConfigError(
                f"the endpoint {self.base_url} does not serve model {self.model!r} (it serves {listed}){hint}"
            )

    def _first_model(self) -> str:
        """With no model named, use the first one the endpoint serves (llama.cpp, vLLM, Ollama)."""
        try:
            models = self.retry.call(self._served)
        except ApiError as exc:
            raise self._explain(exc) from None
        if not models:
            raise ModelConnectionError(f"the endpoint {self.base_url} serves no models; pass --model NAME")
        return models[0]

    def _served(self) -> list[str]:
        """The ids of the models the endpoint lists (``GET /models``), in its order."""
        listed = self._client.get("/models")
        data = listed.get("data") if isinstance(listed, dict) else None
        return [str(m["id"]) for m in data or [] if isinstance(m, dict) and m.get("id") is not None]

    def _request(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        max_tokens: int | None,
        response_format: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], str | None, Reply | None]:
        """The request's parameters, its response-cache key, and the cached reply if there is one."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self._outgoing(messages),
            "temperature": self.temperature,
            "max_tokens": max_tokens or self.max_tokens,
        }
        if self.top_p is not None:
            kwargs["top_p"] = self.top_p
        if tools and self.native_tools is not False:
            kwargs["tools"] = tools
        if response_format and self.structured is not False:
            kwargs["response_format"] = response_format
        if self.cache is None:
            return kwargs, None, None
        keyed = {**kwargs, "identity": self.identity}
        key = hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()
        hit = self.cache.cached_reply(key)
        if hit is None:
            return kwargs, key, None
        cached = Reply(
            text=hit["text"],
            tool_calls=[ToolCall(**c) for c in hit["tool_calls"]],
            usage=Usage(cost_usd=0.0 if self.price is not None else None),  # nothing spent on a cached reply
            finish_reason="cached",
            model=self.model,
            reasoning=str(hit.get("reasoning") or ""),
            content=hit.get("content"),
            tool_format=str(hit.get("tool_format") or ""),
            problems=list(hit.get("problems") or []),
        )
        return kwargs, key, cached

    def _outgoing(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages as this API wants them: earlier reasoning dropped, or sent in the field it reads."""
        if not any(k in m for m in messages for k in REASONING_KEYS):
            return messages
        out = []
        for message in messages:
            kept = {k: v for k, v in message.items() if k not in REASONING_KEYS}
            thought = next((message[k] for k in REASONING_KEYS if message.get(k)), "")
            if self.resend_reasoning and thought and message.get("role") == "assistant":
                kept[self.resend_reasoning] = thought
            out.append(kept)
        return out

    def _answered(self, kwargs: dict[str, Any], key: str | None, response: Any, started: float, offered: bool) -> Reply:
        if "tools" in kwargs:
            self.native_tools = True
        if "response_format" in kwargs:
            self.structured = True
        reply = self._reply(response, time.perf_counter() - started, offered)
        if key is not None and reply.finish_reason != "length":
            self.cache.cache_reply(
                key,
                self.model,
                {
                    "text": reply.text,
                    "tool_calls": [c.to_dict() for c in reply.tool_calls],
                    "reasoning": reply.reasoning,
                    "content": reply.content,
                    "tool_format": reply.tool_format,
                    "problems": reply.problems,
                },
            )
        return reply

    def _longer(self, reply: Reply, asked: int) -> int | None:
        """The max_tokens to ask again with after a reply cut off at ``asked``; None: keep this reply."""
        if reply.finish_reason != "length" or not self.max_tokens_limit or asked >= self.max_tokens_limit:
            return None
        return min(asked * 2, self.max_tokens_limit)

    def _settled(self, reply: Reply, asked: int, tries: list[tuple[int, Reply]]) -> Reply:
        """The turn's reply after its earlier tries (each with the max_tokens it asked): all their tokens
        counted, and a reply still cut off never read as complete."""
        if tries:
            spent = Usage()
            for _, earlier in tries:
                spent.add(earlier.usage)
            spent.add(reply.usage)
            reply.usage, reply.duration_s = spent, sum(t.duration_s for _, t in tries) + reply.duration_s
            reply.retries = [{"max_tokens": n, "finish_reason": "length"} for n, _ in tries]
        if reply.finish_reason == "length":
            retried = f", and again with {asked}" if tries else ""
            first = tries[0][0] if tries else asked
            reply.problems.append(
                f"the model's reply was cut off at max_tokens={first}{retried} (finish_reason: length); "
                "nothing in it was run or read as an answer"
            )
            reply.text, reply.tool_calls = "", []
        return reply

    def _failed(self, exc: ApiError, kwargs: dict[str, Any]) -> Exception | None:
        """The error to raise for ``exc``; None when the request should be sent again without ``tools``."""
        if isinstance(exc, StatusError) and exc.status_code in (400, 422) and "response_format" in kwargs:
            # No structured output here (or not this schema): ask in text from now on.
            self.structured = False
            return None
        if isinstance(exc, StatusError) and exc.status_code == 400:
            if "tools" in kwargs and self.tool_mode == "auto":
                # Endpoints without function calling reject ``tools``: fall back to text mode for good.
                self.native_tools = False
                return None
            return self._refused(exc)
        if isinstance(exc, StatusError) and exc.status_code in (413, 422):
            return self._refused(exc)  # too large, or unprocessable: this prompt, not the endpoint
        return self._explain(exc)

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Reply:
        asked = max_tokens or self.max_tokens
        tries: list[tuple[int, Reply]] = []
        while True:
            reply = self._chat_once(messages, tools, asked, response_format)
            longer = self._longer(reply, asked)
            if longer is None:
                return self._settled(reply, asked, tries)
            tries.append((asked, reply))
            asked = longer

    def _chat_once(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        asked: int,
        response_format: dict[str, Any] | None = None,
    ) -> Reply:
        while True:  # once more only when the endpoint turned down ``tools`` or ``response_format``
            kwargs, key, hit = self._request(messages, tools, asked, response_format)
            if hit is not None:
                return hit
            with self._span() as current:
                started = time.perf_counter()
                response = self._post(kwargs)
                if response is not _ASK_AGAIN:
                    return _traced_reply(current, self._answered(kwargs, key, response, started, bool(tools)))

    def _post(self, kwargs: dict[str, Any]) -> Any:
        """One chat completion, retried by the policy: its JSON; :data:`_ASK_AGAIN` when the endpoint turned
        down a parameter it has now learned not to send; else the failure as one clear error."""
        try:
            return self.retry.call(self._client.request, "POST", "/chat/completions", kwargs)
        except ApiError as exc:
            error = self._failed(exc, kwargs)
            if error is None:
                return _ASK_AGAIN
            raise error from None

    async def _apost(self, kwargs: dict[str, Any]) -> Any:
        """:meth:`_post` on the running event loop, within the endpoint's adaptive limit."""
        try:
            return await self.retry.acall(self._async_client().request, self.limit, "POST", "/chat/completions", kwargs)
        except ApiError as exc:
            error = self._failed(exc, kwargs)
            if error is None:
                return _ASK_AGAIN
            raise error from None

    async def achat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
    ) -> Reply:
        """:meth:`chat` on the running event loop: no thread is held while the endpoint thinks."""
        asked = max_tokens or self.max_tokens
        tries: list[tuple[int, Reply]] = []
        while True:
            reply = await self._achat_once(messages, tools, asked, response_format)
            longer = self._longer(reply, asked)
            if longer is None:
                return self._settled(reply, asked, tries)
            tries.append((asked, reply))
            asked = longer

    async def achat_n(self, messages: list[dict[str, Any]], n: int, max_tokens: int | None = None) -> list[Reply]:
        """``n`` independent replies to one prompt in one request (OpenAI's ``n``): the prompt is sent and
        counted once. An endpoint that ignores ``n`` answers one choice; the caller asks again for the rest.

        The response's usage is shared out: the prompt's tokens (and cost) on the first reply, the completion
        tokens evenly over all. No response cache, no tools, no longer retry of a cut-off reply: for
        ``bench --epochs K --strategy direct``.
        """
        while True:
            kwargs, _, _ = self._request(messages, None, max_tokens or self.max_tokens)
            kwargs["n"] = n
            with self._span() as current:
                started = time.perf_counter()
                response = await self._apost(kwargs)
                if response is not _ASK_AGAIN:
                    replies = self._shared_out(response, n, time.perf_counter() - started)
                    _traced_reply(current, replies[0])
                    return replies

    def _shared_out(self, response: Any, n: int, duration: float) -> list[Reply]:
        """The replies of an ``n``-choice response, its usage shared out (see :meth:`achat_n`)."""
        choices = response.get("choices") if isinstance(response, dict) else None
        choices = [c for c in choices or [] if isinstance(c, dict)][:n] or [{}]
        counted = response.get("usage") if isinstance(response, dict) else None
        counted = counted if isinstance(counted, dict) else {}
        prompt, completion = _count(counted.get("prompt_tokens")), _count(counted.get("completion_tokens"))
        replies = []
        for i, choice in enumerate(choices):
            share = completion // len(choices) + (completion % len(choices) if i == 0 else 0)
            usage = {"prompt_tokens": prompt if i == 0 else 0, "completion_tokens": share}
            replies.append(self._reply({"choices": [choice], "usage": usage}, duration))
        return replies

    async def _achat_once(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        asked: int,
        response_format: dict[str, Any] | None = None,
    ) -> Reply:
        while True:  # once more only when the endpoint turned down ``tools`` or ``response_format``
            kwargs, key, hit = self._request(messages, tools, asked, response_format)
            if hit is not None:
                return hit
            with self._span() as current:
                started = time.perf_counter()
                response = await self._apost(kwargs)
                if response is not _ASK_AGAIN:
                    return _traced_reply(current, self._answered(kwargs, key, response, started, bool(tools)))

    def _span(self) -> Any:
        return tracing.span(
            f"chat {self.model}",
            **{
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": self.model,
                "server.address": self.base_url,
            },
        )

    def _async_client(self) -> AsyncHTTP:
        loop = asyncio.get_running_loop()
        with self._async_lock:
            for ident, (other, _) in list(self._async.items()):
                if other.is_closed():
                    del self._async[ident]
            found = self._async.get(id(loop))
            if found is None or found[0] is not loop:
                found = self._async[id(loop)] = (loop, AsyncHTTP(self.base_url, self._api_key, self._timeout))
            return found[1]

    def close(self) -> None:
        """Close the synchronous client's connections (the endpoint's model list, plugins' blocking calls).

        Each event loop's async client is closed by :meth:`aclose` on that loop.
        """
        self._client.close()

    async def aclose(self) -> None:
        """Close the connections this loop's async client holds (the runner calls it as its loop ends)."""
        with self._async_lock:
            found = self._async.pop(id(asyncio.get_running_loop()), None)
        if found is not None:
            await found[1].close()

    def _reply(self, data: Any, duration: float, offered: bool = False) -> Reply:
        """The reply from the response's JSON, read as plain data: a non-conforming field is skipped, not fatal.

        Reasoning is taken out first (:mod:`._reasoning`), so nothing in it is read as a call or an answer;
        then, when tools were offered and none came as OpenAI tool calls, calls written in the content are
        read in the endpoint's dialect (:mod:`._dialects`).
        """
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            return Reply(text="", duration_s=duration, model=self.model)
        choice = choices[0]
        message = choice.get("message") or {}
        if not isinstance(message, dict):
            message = {}
        calls = []
        for call in message.get("tool_calls") or []:
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not fn.get("name"):
                continue
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except (json.JSONDecodeError, TypeError):
                args = {"__unparsed__": fn.get("arguments")}
            calls.append(ToolCall(id=call.get("id") or uuid.uuid4().hex[:8], name=fn["name"], arguments=args))
        content = message.get("content")
        field_ = next((message[k] for k in REASONING_KEYS if isinstance(message.get(k), str) and message[k]), "")
        split = split_reasoning(content if isinstance(content, str) else "", field_)
        problems: list[str] = []
        if split.unterminated:
            problems.append(
                "the model's reply ended inside its reasoning (a <think> block that never closed): it has no answer"
            )
        text, fmt = split.text, "native" if calls else ""
        shown = text
        if offered and not calls and text:
            parsed = parse_calls(text, self.dialect) if self.dialect else detect(text)
            if parsed.dialect:
                if self.dialect is None:
                    self.dialect = parsed.dialect  # learned: this endpoint writes its calls so
                calls, text, fmt = parsed.calls, parsed.text, parsed.dialect
                problems += parsed.errors
        usage = Usage(calls=1)
        cached = 0
        counted = data.get("usage")
        if isinstance(counted, dict):  # counts the endpoint reports: a malformed or negative one is 0, never a crash
            usage.prompt_tokens = _count(counted.get("prompt_tokens"))
            usage.completion_tokens = _count(counted.get("completion_tokens"))
            details = counted.get("prompt_tokens_details")
            cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
            done = counted.get("completion_tokens_details")
            usage.reasoning_tokens = _count(done.get("reasoning_tokens")) if isinstance(done, dict) else 0
        if split.reasoning and not usage.reasoning_tokens and usage.completion_tokens:
            # The server did not count them (reasoning in the content): the reasoning's share of the reply.
            share = len(split.reasoning) / (len(split.reasoning) + len(shown)) if shown else 1.0
            usage.reasoning_tokens = round(usage.completion_tokens * share)
        if self.price is not None:
            usage.cost_usd = self.price.cost(usage.prompt_tokens, usage.completion_tokens, cached)
        return Reply(
            text=text,
            tool_calls=calls,
            usage=usage,
            duration_s=duration,
            finish_reason=str(choice.get("finish_reason") or ""),
            model=self.model,
            reasoning=split.reasoning,
            content=shown,
            tool_format=fmt,
            problems=problems,
        )

    def _refused(self, exc: StatusError) -> PromptRefusedError:
        return PromptRefusedError(
            f"the model endpoint {self.base_url} refused the prompt ({exc.status_code}): {_short(exc)}"
        )

    def _explain(self, exc: Exception) -> ModelConnectionError:
        url = self.base_url
        if isinstance(exc, TimedOut) and not _refused_connection(exc):
            return ModelConnectionError(f"the model endpoint {url} did not answer in time")
        if isinstance(exc, ConnectionFailed):
            return ModelConnectionError(f"cannot reach the model endpoint {url} (is it running? check --base-url)")
        if isinstance(exc, StatusError) and exc.status_code == 401:
            return ModelConnectionError(
                f"the model endpoint {url} refused the API key (401 Unauthorized); set --api-key or OPENAI_API_KEY",
                transient=False,
            )
        if isinstance(exc, StatusError) and exc.status_code == 404:
            return ModelConnectionError(
                f"the model endpoint {url} answered 404: model or path not found ({exc})", transient=False
            )
        if isinstance(exc, StatusError):
            return ModelConnectionError(f"the model endpoint {url} answered {exc.status_code}: {_short(exc)}")
        return ModelConnectionError(f"model call to {url} failed: {_short(exc)}")


def _count(value: Any) -> int:
    """A token count from the reply's JSON: a whole number of zero or more, else 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or value != int(value):
        return 0
    return int(value)


def _traced_reply(current: Any, reply: Reply) -> Reply:
    tracing.set_attributes(
        current,
        **{
            "gen_ai.usage.input_tokens": reply.usage.prompt_tokens,
            "gen_ai.usage.output_tokens": reply.usage.completion_tokens,
            "solvegraph.cost_usd": reply.usage.cost_usd,
            "gen_ai.response.finish_reasons": [reply.finish_reason] if reply.finish_reason else None,
            "solvegraph.tool_calls": len(reply.tool_calls),
        },
    )
    return reply


def _refused_connection(exc: BaseException) -> bool:
    """Whether the connection itself was refused, somewhere down the chain of causes.

    The aiohttp transport reports a refused connection as a connect *timeout*; the user must hear
    "cannot reach", not "did not answer in time".
    """
    seen: BaseException | None = exc
    for _ in range(8):
        seen = seen.__cause__ or seen.__context__ if seen is not None else None
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError | ConnectionResetError):
            return True
        if isinstance(seen, OSError) and not isinstance(seen, TimeoutError) and seen.errno is not None:
            return True
    return False


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
