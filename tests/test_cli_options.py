"""The command layer's shared options: declared once, on every model-calling command under the same name,
and really passed on (bench's --max-rounds and --cell-timeout, new with the shared block)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from solvegraph.cli import app
from solvegraph.cli._options import SolvingOptions
from tests.conftest import DATA, run_cli

# bench leaves these out: a run is always stored, a sample never reads the exact cache, and its own
# --max-tool-calls is a per-sample limit that defines the run.
BENCH_WITHOUT = {"no_memory", "no_cache", "max_tool_calls"}


def _options(*path: str) -> dict[str, Any]:
    """The click options of ``solvegraph PATH...``, by parameter name."""
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return {p.name: p for p in command.params if p.param_type_name == "option"}


def test_every_solving_option_is_on_solve_chat_bench_and_mcp_serve_under_one_name() -> None:
    shared = {f.name for f in SolvingOptions.__dataclass_fields__.values()}
    reference = _options("solve")
    for path, without in ((("solve",), set()), (("chat",), set()), (("mcp", "serve"), set()),
                          (("bench", "run"), BENCH_WITHOUT)):  # fmt: skip
        options = _options(*path)
        missing = shared - without - set(options)
        assert not missing, f"{' '.join(path)} lacks {sorted(missing)}"
        for name in shared - without:  # the same flag, the same help: declared once
            assert options[name].opts == reference[name].opts and options[name].help == reference[name].help, name
    assert "--max-rounds" in _options("bench", "run")["max_rounds"].opts
    assert "--cell-timeout" in _options("bench", "run")["cell_timeout"].opts


def test_bench_max_rounds_and_cell_timeout_reach_the_run_and_its_resume(scripted, tmp_path: Path) -> None:
    """--max-rounds 1 stops after one rejected round (no refiner); both are stored with the run, and a
    resume that gives them anew is refused in one line, since they define the run."""
    db = f"sqlite:///{tmp_path}/b.sqlite"
    script = {"planner": ["1. add"], "solver": ["ANSWER: 5"], "verifier": ["VERDICT: REJECT wrong"],
              "refiner": ["try again"]}  # fmt: skip
    data = ["gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "1", "--db", db, "--json"]
    with scripted(script) as model:
        proc = run_cli("bench", *data, "--base-url", model.base_url, "--max-rounds", "1", "--cell-timeout", "7")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert model.calls("refiner") == [], "one round only: the rejection was not refined"
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    from solvegraph.memory import Store

    store = Store(db)
    config = store.run_config(summary["run_id"])
    store.close()
    assert config["max_rounds"] == 1 and config["cell_timeout"] == 7.0
    again = run_cli("bench", "--resume", summary["run_id"][:12], "--db", db, "--max-rounds", "2")
    assert again.returncode == 2 and "Traceback" not in again.stderr, again.stderr
    assert "drop --max-rounds" in again.stderr and again.stderr.count("\n") == 1


def test_a_bare_ray_flag_means_auto_without_rewriting_the_processes_arguments(tmp_path: Path) -> None:
    """``bench ... --ray`` (no address) reads as ``--ray auto`` in the bench's own parsing: main() no longer
    edits sys.argv, so a caller's argv is what it was."""
    code = (
        "import sys; from solvegraph.cli import main; argv = list(sys.argv)\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "finally:\n    print('argv kept' if sys.argv == argv else 'argv changed', file=sys.stderr)\n"
    )
    import subprocess

    data = ["gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "1", "--db", f"sqlite:///{tmp_path}/r.db"]
    proc = subprocess.run([sys.executable, "-c", code, "bench", *data, "--ray"], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    # The embedded model cannot serve a cluster: the run is refused before Ray is asked for "auto".
    assert "--ray needs --base-url" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert "argv kept" in proc.stderr
