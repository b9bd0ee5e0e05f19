"""A solve run records its settings; ``solve --resume`` goes on with them, and a model switch is explicit and recorded.

Reported: a resume without the original ``--base-url`` went on with the embedded model and credited its
answer to the first one. Each solve here is killed (SIGKILL) while its second solver turn is in flight,
then resumed with the real CLI against scripted endpoints over real HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from solvegraph.memory import Store
from tests.conftest import killed_solve, run_cli
from tests.conftest import slow_solve_script as script


def test_resume_keeps_the_endpoint_model_and_budgets_and_one_id_names_the_run(scripted, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/m.sqlite"
    with scripted(script(), model="oracle") as model:
        run_id = killed_solve(model, db, "--max-rounds", "2", "--cell-timeout", "9")
        store = Store(db)
        assert store.resolve(run_id) == (run_id, [run_id]), "the id solve printed is the run's and its trajectory's"
        recorded = store.run_config(run_id)
        assert recorded["base_url"] == model.base_url and recorded["model"] == "oracle"
        assert (recorded["max_rounds"], recorded["cell_timeout"]) == (2, 9.0)
        assert "api_key" not in recorded, "no secret is stored"
        store.close()

        # No --base-url: the recorded endpoint, not the embedded model.
        resumed = run_cli("solve", "--resume", run_id[:12], "--db", db, "--json")
    assert resumed.returncode == 3, resumed.stderr
    t = json.loads(resumed.stdout)
    assert t["answer"] == "42" and t["model"] == "oracle"
    asked = {s["model"] for s in t["steps"] if s["usage"]["calls"]}
    assert asked == {"oracle"}
    listed = json.loads(run_cli("runs", "list", "--json", "--db", db).stdout)
    assert [r["id"] for r in listed] == [run_id] and listed[0]["model"] == "oracle"


def test_switching_the_model_on_resume_needs_the_flag_and_is_recorded(scripted, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/m.sqlite"
    with (
        scripted(script(), model="oracle") as first,
        scripted({"solver": script()["solver"][2:], "verifier": ["VERDICT: ACCEPT"]}, model="other") as second,
    ):
        run_id = killed_solve(first, db)
        refused = run_cli(
            "solve", "--resume", run_id[:12], "--db", db, "--model", "other", "--base-url", second.base_url
        )
        assert refused.returncode == 2 and "add --switch-model" in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr

        misspelt = run_cli("solve", "--resume", run_id[:12], "--db", db, "--model", "othr", "--switch-model",
                           "--base-url", second.base_url)  # fmt: skip
        assert misspelt.returncode == 2 and "did you mean 'other'?" in misspelt.stderr, misspelt.stderr

        switched = run_cli("solve", "--resume", run_id[:12], "--db", db, "--model", "other", "--switch-model",
                           "--base-url", second.base_url, "--json")  # fmt: skip
    assert switched.returncode in (0, 3, 4), switched.stderr
    t = json.loads(switched.stdout)
    assert t["model"] == "oracle → other", "credited to both models, in order"
    models = [s["model"] for s in t["steps"] if s["usage"]["calls"]]
    assert models[:2] == ["oracle", "oracle"] and set(models[2:]) == {"other"}, models
    store = Store(db)
    config = store.run_config(run_id)
    assert config["model"] == "other" and [(m["from"], m["to"]) for m in config["model_switches"]] == [
        ("oracle", "other")
    ]
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT model FROM trajectories WHERE id = :t"), {"t": run_id}).scalar()
    assert stored == "oracle → other"


def test_a_model_the_endpoint_does_not_serve_is_one_line(scripted, tmp_path: Path) -> None:
    with scripted(["ANSWER: 1"], model="Qwen2.5-7B-Instruct") as model:
        proc = run_cli("solve", "1?", "--base-url", model.base_url, "--model", "qwen2.5-7b-instruct", "--db",
                       f"sqlite:///{tmp_path}/m.sqlite")  # fmt: skip
    assert proc.returncode == 2
    assert "does not serve model 'qwen2.5-7b-instruct' (it serves Qwen2.5-7B-Instruct)" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_ollama_names_and_the_embedded_model(scripted, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/m.sqlite"
    with scripted({"solver": ["ANSWER: 1"], "verifier": ["VERDICT: ACCEPT"]}, model="llama3.2:latest") as model:
        proc = run_cli("solve", "1?", "--base-url", model.base_url, "--model", "llama3.2", "--db", db)
    assert proc.returncode != 2, proc.stderr  # Ollama answers to the bare name of its ':latest' tag
    assert model.calls() and all(body.get("model") in (None, "llama3.2") for body in model.calls())
    proc = run_cli("solve", "1?", "--model", "gpt-4o", "--db", db)
    assert proc.returncode == 2 and "no --base-url is set: the embedded server runs" in proc.stderr, proc.stderr
