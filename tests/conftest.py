from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from solvegraph.llm.scripted import ScriptedModel
from solvegraph.tools.python_kernel import close_default_pool

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "benchmarks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session", autouse=True)
def _close_kernels() -> Iterator[None]:
    yield
    close_default_pool()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedModel]]:
    """Factory: ``with scripted(script) as model``; all servers are stopped after the test."""
    started: list[ScriptedModel] = []

    class _Scripted(ScriptedModel):
        def start(self) -> ScriptedModel:
            started.append(self)
            return super().start()

    yield _Scripted
    for model in started:
        model.stop()


def run_cli(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: str | Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``solvegraph`` command as a user would."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SOLVEGRAPH_", "OPENAI_"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "solvegraph.cli", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )
