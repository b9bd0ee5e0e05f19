"""The model client against real HTTP endpoints on loopback."""

from __future__ import annotations

import socket

import pytest

from solvegraph.errors import ModelConnectionError
from solvegraph.llm import ModelClient


def test_model_defaults_to_first_served_and_usage_is_recorded(scripted) -> None:
    with scripted(["hello there"], model="served-model") as model:
        client = ModelClient(model.base_url)
        reply = client.chat([{"role": "user", "content": "hi you"}])
    assert client.model == "served-model"
    assert reply.text == "hello there"
    assert reply.usage.prompt_tokens == 2 and reply.usage.completion_tokens == 2 and reply.usage.calls == 1


def test_retries_5xx_and_429_with_backoff(scripted) -> None:
    with scripted([{"status": 503}, {"status": 429}, "ok"]) as model:
        reply = ModelClient(model.base_url, max_retries=3).chat([{"role": "user", "content": "x"}])
        assert len(model.requests) == 3
    assert reply.text == "ok"


def test_persistent_5xx_is_a_clear_error(scripted) -> None:
    with scripted([{"status": 500, "message": "boom"}]) as model:
        client = ModelClient(model.base_url, max_retries=1)
        with pytest.raises(ModelConnectionError, match="answered 500"):
            client.chat([{"role": "user", "content": "x"}])


def test_401_names_the_url(scripted) -> None:
    with scripted(["x"], api_key="right") as model:
        with pytest.raises(ModelConnectionError, match="401") as info:
            ModelClient(model.base_url, api_key="wrong", model="m").chat([{"role": "user", "content": "x"}])
        assert model.base_url in str(info.value)


def test_unreachable_endpoint_names_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(ModelConnectionError, match="cannot reach") as info:
        ModelClient(url, model="m", max_retries=0).chat([{"role": "user", "content": "x"}])
    assert url in str(info.value)


def test_endpoint_without_tool_support_falls_back_to_text(scripted) -> None:
    def reject_tools(body):
        return {"status": 400, "message": "tools not supported"} if "tools" in body else "plain"

    with scripted([reject_tools]) as model:
        client = ModelClient(model.base_url)
        schema = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
        assert client.chat([{"role": "user", "content": "x"}], tools=schema).text == "plain"
        assert client.native_tools is False
        client.chat([{"role": "user", "content": "x"}], tools=schema)
        assert "tools" not in model.requests[-1], "once learned, tools are no longer sent"


def test_async_and_sync_calls_give_the_same_reply(scripted) -> None:
    import asyncio

    with scripted(["same words back", "same words back"]) as model:
        client = ModelClient(model.base_url)
        sync = client.chat([{"role": "user", "content": "hi you"}])

        async def turn():
            try:
                return await client.achat([{"role": "user", "content": "hi you"}])
            finally:
                await client.aclose()

        async_ = asyncio.run(turn())
        assert model.requests[0] == model.requests[1], "the same request went out"
    assert (sync.text, sync.usage, sync.tool_calls) == (async_.text, async_.usage, async_.tool_calls)


def test_retry_after_is_waited_out_and_429s_are_not_failures(scripted) -> None:
    """Three 429s with Retry-After, and max_retries=0: a 429 is "later", not a failure, so it still succeeds."""
    import asyncio
    import time

    limited = {"status": 429, "message": "slow down", "headers": {"Retry-After": "0.4"}}
    with scripted([limited, limited, limited, "ok"]) as model:
        client = ModelClient(model.base_url, max_retries=0)
        started = time.monotonic()
        assert client.chat([{"role": "user", "content": "x"}]).text == "ok"
        assert time.monotonic() - started >= 1.2, "each Retry-After was honoured"
        assert len(model.requests) == 4
    with scripted([limited, "ok"]) as model:
        client = ModelClient(model.base_url, max_retries=0)

        async def turn():
            try:
                return await client.achat([{"role": "user", "content": "x"}])
            finally:
                await client.aclose()

        assert asyncio.run(turn()).text == "ok"
        assert client.limit.lowest < client.limit.maximum, "a 429 halves the in-flight limit"


def test_rate_limit_patience_runs_out_with_one_clear_line(scripted) -> None:
    limited = {"status": 429, "message": "quota", "headers": {"Retry-After": "30"}}
    with scripted([limited]) as model:
        client = ModelClient(model.base_url, rate_limit_patience=5)
        with pytest.raises(ModelConnectionError, match="answered 429"):
            client.chat([{"role": "user", "content": "x"}])
        assert len(model.requests) == 1, "a wait longer than the patience left is not started"


def test_unreachable_endpoint_names_the_url_on_the_async_path_too() -> None:
    import asyncio

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    client = ModelClient(url, model="m", max_retries=0)

    async def turn():
        try:
            return await client.achat([{"role": "user", "content": "x"}])
        finally:
            await client.aclose()

    with pytest.raises(ModelConnectionError, match="cannot reach") as info:
        asyncio.run(turn())
    assert url in str(info.value)


def test_the_endpoints_error_message_is_in_the_line_as_the_sdk_worded_it(scripted) -> None:
    with scripted([{"status": 500, "message": "boom"}]) as model:
        client = ModelClient(model.base_url, model="m", max_retries=0)
        with pytest.raises(ModelConnectionError) as info:
            client.chat([{"role": "user", "content": "x"}])
        assert str(info.value) == f"the model endpoint {model.base_url} answered 500: Error code: 500 - boom"


def test_a_base_url_that_is_not_http_is_not_opened() -> None:
    """The model list goes through urllib, which would read file: URLs: only http(s) is asked."""
    with pytest.raises(ModelConnectionError, match="cannot reach the model endpoint file:///etc"):
        ModelClient("file:///etc", max_retries=0)
