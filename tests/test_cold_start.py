"""A command imports only what it uses: ``--help`` and ``--version`` none of the heavy parts, ``plugins list``
none that only running a solve or serving needs (issue 30 item 5). Times are measured by
benchmarks/cold_start.py, never asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# Run the command in a fresh interpreter and report the top-level packages it imported.
PROBE = """
import sys
from solvegraph.cli import main
try:
    main()
except SystemExit:
    pass
finally:
    print(" ".join(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
"""
# Asked for only: MCP, Ray, OpenTelemetry, the viewer's server and templates, database drivers.
ON_REQUEST = {"mcp", "ray", "opentelemetry", "starlette", "uvicorn", "jinja2", "sqlalchemy", "psycopg", "sqlite3"}
# What a solve needs, and no listing does: the graph, the model client, kernels, the settings' models.
SOLVING = {"langgraph", "langchain_core", "openai", "aiohttp", "httpx", "jupyter_client", "numpy", "sympy"}


def _imported(*args: str, tmp_path: Path) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return set(proc.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize(
    ("args", "models"),
    [
        (["--help"], False),
        (["--version"], False),
        # A command's own help: typer reads its parameters' types through its pydantic adapters.
        (["bench", "run", "--help"], True),
        (["solve", "--help"], True),
    ],
)
def test_help_and_version_import_none_of_the_heavy_parts(args: list[str], models: bool, tmp_path: Path) -> None:
    imported = _imported(*args, tmp_path=tmp_path)
    assert "solvegraph" in imported and "typer" in imported, "the probe saw the command run"
    heavy = imported & (ON_REQUEST | SOLVING | (set() if models else {"pydantic"}))
    assert not heavy, f"solvegraph {' '.join(args)} imported {sorted(heavy)}"


def test_plugins_list_imports_nothing_only_a_solve_or_a_server_needs(tmp_path: Path) -> None:
    imported = _imported("plugins", "list", "--json", tmp_path=tmp_path)
    assert "solvegraph" in imported
    heavy = imported & (ON_REQUEST | {"langgraph", "langchain_core", "openai", "aiohttp", "httpx"})
    assert not heavy, f"solvegraph plugins list imported {sorted(heavy)}"


@pytest.mark.parametrize(
    ("module", "not_yet"),
    [
        # The model client: no OpenAI SDK at all, and its transports only at the first request.
        ("solvegraph.llm.client", {"openai", "aiohttp", "httpx"}),
        # The python tool's plugin: jupyter_client only where a kernel is first talked to.
        ("solvegraph.tools.python", {"jupyter_client", "zmq"}),
        # The runner: LangGraph only once a solve's first model request is out (tests/agents/test_opening.py).
        ("solvegraph.agents._run", {"langgraph", "langchain_core", "openai"}),
    ],
)
def test_modules_on_a_solves_way_to_its_first_request_load_their_heavy_parts_late(
    module: str, not_yet: set[str], tmp_path: Path
) -> None:
    probe = f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = set(proc.stdout.split())
    assert "solvegraph" in imported
    assert not imported & not_yet, f"import {module} loaded {sorted(imported & not_yet)}"


# ``solve`` with a spy on the model client's async requests (it calls through): what was loaded as the first went out.
AT_FIRST_REQUEST = """
import sys
from solvegraph.llm import _http

real, loaded = _http.AsyncHTTP.request, []

async def spy(self, method, path, body=None):
    if not loaded:
        loaded.append(sorted({m.split(".")[0] for m in sys.modules}))
        print(" ".join(loaded[0]), file=sys.stderr)
    return await real(self, method, path, body)

_http.AsyncHTTP.request = spy
from solvegraph.cli import main
try:
    main()
except SystemExit:
    pass
"""


def test_a_solve_without_memory_asks_the_model_before_loading_the_store_or_the_graph(scripted, tmp_path: Path) -> None:
    with scripted({"default": ["ANSWER: 42"]}) as model:
        args = ["solve", "What is 6*7?", "-q", "--no-memory", "--base-url", model.base_url, "--sandbox", "none"]
        proc = subprocess.run(
            [sys.executable, "-c", AT_FIRST_REQUEST, *args], capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    loaded = set(proc.stderr.strip().splitlines()[0].split())
    assert "solvegraph" in loaded and "typer" in loaded, "the spy saw the first request"
    # aiohttp too: nothing loads it before the first request, which goes out through urllib while it loads
    # (tests/llm/test_transport.py).
    heavy = loaded & {"sqlalchemy", "langgraph", "langchain_core", "openai", "jupyter_client", "aiohttp"}
    assert not heavy, f"solve --no-memory loaded {sorted(heavy)} before its first model request"


def test_a_sqlite_memory_loads_no_postgresql_dialect(tmp_path: Path) -> None:
    probe = (
        "import sys; from solvegraph.memory.store import Store; "
        f"Store('sqlite:///{tmp_path}/m.sqlite').close(); "
        "print(' '.join(m for m in sys.modules if 'postgresql' in m))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not proc.stdout.split(), f"a SQLite memory loaded {proc.stdout.split()}"


# ``solve`` and ``bench`` with a spy on the first model request: is the collector back on, the start frozen?
COLLECTOR_AT_FIRST_REQUEST = """
import gc, sys
from solvegraph.llm import _http

real, seen = _http.AsyncHTTP.request, []

async def spy(self, method, path, body=None):
    if not seen:
        seen.append(1)
        print("collector", gc.isenabled(), gc.get_freeze_count() > 10000, file=sys.stderr)
    return await real(self, method, path, body)

_http.AsyncHTTP.request = spy
from solvegraph.cli import _collector, main

pause = _collector.pause
_collector.pause = lambda bound_s=2.0: pause(600)  # back on only because the command said its start is over
try:
    main()
except SystemExit:
    pass
"""


@pytest.mark.parametrize("command", ["solve", "bench"])
def test_the_collector_paused_for_the_start_is_back_when_the_work_begins(
    command: str, scripted, tmp_path: Path
) -> None:
    """solvegraph/cli/_collector.py: paused from main(); the start's objects frozen and collection back on by the
    first model request (solve: once the runner is assembled; bench: before its samples)."""
    with scripted({"default": ["ANSWER: 42"]}) as model:
        common = ["--base-url", model.base_url, "--sandbox", "none", "--db", f"sqlite:///{tmp_path}/m.sqlite"]
        if command == "solve":
            args = ["solve", "What is 6*7?", "-q", *common]
        else:
            data = Path(__file__).parent / "fixtures" / "datasets" / "gsm8k" / "test.jsonl"
            args = ["bench", "gsm8k", "--data", str(data), "--limit", "2", "--strategy", "direct", "--json", *common]
        proc = subprocess.run(
            [sys.executable, "-c", COLLECTOR_AT_FIRST_REQUEST, *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    said = [line for line in proc.stderr.splitlines() if line.startswith("collector")]
    assert said == ["collector True True"], proc.stderr[-2000:]


def test_the_collector_comes_back_by_itself_when_a_command_never_says_it_started(tmp_path: Path) -> None:
    probe = (
        "import gc, time; from solvegraph.cli import _collector as c\n"
        "c.pause(bound_s=0.2); print(gc.isenabled())\n"
        "deadline = time.monotonic() + 60\n"
        "while not gc.isenabled() and time.monotonic() < deadline: time.sleep(0.01)\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 0); c.started(); print(gc.isenabled())\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["False", "True", "True", "True"]
