"""The one way solvegraph talks to models: OpenAI chat completions over HTTP.

Any OpenAI-compatible endpoint works (OpenAI, vLLM, Ollama, llama.cpp server).
Retries with exponential backoff on 408/409/429/5xx and connection errors come
from the openai client itself (``max_retries``); failures that remain are turned
into one-line :class:`ModelConnectionError` messages that name the URL.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai

from ..errors import ModelConnectionError, PromptRefusedError
from ..types import ToolCall, Usage


@dataclass
class Reply:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    duration_s: float = 0.0
    finish_reason: str = ""


class ChatModel(Protocol):
    """What the agents need of a model: a name, an identity for cache keys, and one chat turn.

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
        temperature: float = 0.0,
        max_tokens: int = 1024,
        tool_mode: str = "auto",
        cache: Any = None,
        identity: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Optional response cache: anything with cached_reply(key) and cache_reply(key, model, reply).
        self.cache = cache

        self.temperature = temperature
        self.max_tokens = max_tokens
        self.tool_mode = tool_mode
        # None until we learn whether the endpoint accepts the ``tools`` parameter.
        self.native_tools: bool | None = {"native": True, "text": False}.get(tool_mode)
        self._client = openai.OpenAI(
            base_url=self.base_url, api_key=api_key or "sk-no-key", timeout=timeout, max_retries=max_retries
        )
        self.model = model or self._first_model()
        # What decides the answers, for cache keys: the endpoint and model, or for the embedded server
        # the model file (its port is random, so the URL would make every run a cache miss).
        self.identity = identity or f"{self.base_url}#{self.model}"

    def _first_model(self) -> str:
        """With no model named, use the first one the endpoint serves (llama.cpp, vLLM, Ollama)."""
        try:
            models = list(self._client.models.list())
        except openai.OpenAIError as exc:
            raise self._explain(exc) from None
        if not models:
            raise ModelConnectionError(f"the endpoint {self.base_url} serves no models; pass --model NAME")
        return str(models[0].id)

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        max_tokens: int | None = None,
    ) -> Reply:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": max_tokens or self.max_tokens,
        }
        if tools and self.native_tools is not False:
            kwargs["tools"] = tools
        key = None
        if self.cache is not None:
            keyed = {**kwargs, "identity": self.identity}
            key = hashlib.sha256(json.dumps(keyed, sort_keys=True, default=str).encode()).hexdigest()
            hit = self.cache.cached_reply(key)
            if hit is not None:
                return Reply(
                    text=hit["text"],
                    tool_calls=[ToolCall(**c) for c in hit["tool_calls"]],
                    usage=Usage(),
                    finish_reason="cached",
                )
        started = time.perf_counter()

        try:
            response = self._client.chat.completions.create(**kwargs)
        except openai.BadRequestError as exc:
            if "tools" in kwargs and self.tool_mode == "auto":
                # Endpoints without function calling reject ``tools``: fall back to text mode for good.
                self.native_tools = False
                return self.chat(messages, None, max_tokens)
            raise self._refused(exc) from None
        except openai.APIStatusError as exc:
            if exc.status_code in (413, 422):  # too large, or unprocessable: this prompt, not the endpoint
                raise self._refused(exc) from None
            raise self._explain(exc) from None
        except openai.OpenAIError as exc:
            raise self._explain(exc) from None
        if "tools" in kwargs:
            self.native_tools = True
        reply = self._reply(response, time.perf_counter() - started)
        if key is not None:
            self.cache.cache_reply(
                key, self.model, {"text": reply.text, "tool_calls": [c.to_dict() for c in reply.tool_calls]}
            )
        return reply

    @staticmethod
    def _reply(response: Any, duration: float) -> Reply:
        if not response.choices:
            return Reply(text="", duration_s=duration)
        choice = response.choices[0]
        message = choice.message
        calls = []
        for call in message.tool_calls or []:
            fn = getattr(call, "function", None)
            if fn is None:
                continue
            try:
                args = json.loads(fn.arguments or "{}")
            except json.JSONDecodeError:
                args = {"__unparsed__": fn.arguments}
            calls.append(ToolCall(id=call.id or uuid.uuid4().hex[:8], name=fn.name, arguments=args))
        usage = Usage(calls=1)
        if response.usage is not None:
            usage.prompt_tokens = response.usage.prompt_tokens or 0
            usage.completion_tokens = response.usage.completion_tokens or 0
        return Reply(
            text=message.content or "",
            tool_calls=calls,
            usage=usage,
            duration_s=duration,
            finish_reason=choice.finish_reason or "",
        )

    def _refused(self, exc: openai.APIStatusError) -> PromptRefusedError:
        return PromptRefusedError(
            f"the model endpoint {self.base_url} refused the prompt ({exc.status_code}): {_short(exc)}"
        )

    def _explain(self, exc: Exception) -> ModelConnectionError:
        url = self.base_url
        if isinstance(exc, openai.APITimeoutError):
            return ModelConnectionError(f"the model endpoint {url} did not answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return ModelConnectionError(f"cannot reach the model endpoint {url} (is it running? check --base-url)")
        if isinstance(exc, openai.AuthenticationError):
            return ModelConnectionError(
                f"the model endpoint {url} refused the API key (401 Unauthorized); set --api-key or OPENAI_API_KEY"
            )
        if isinstance(exc, openai.NotFoundError):
            return ModelConnectionError(f"the model endpoint {url} answered 404: model or path not found ({exc})")
        if isinstance(exc, openai.APIStatusError):
            return ModelConnectionError(f"the model endpoint {url} answered {exc.status_code}: {_short(exc)}")
        return ModelConnectionError(f"model call to {url} failed: {_short(exc)}")


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]
