"""Model roles: the verifier (or planner, refiner) on its own endpoint and model, over two scripted endpoints.

Each endpoint serves different replies, so a turn asked of the wrong one shows in the outcome, the steps'
recorded models and the requests each endpoint saw; cost is split per role in the summary.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from solvegraph.config import RoleModel, load_settings
from solvegraph.errors import ConfigError
from solvegraph.memory import Store
from tests.conftest import run_cli
from tests.view.test_viewer import _serving

# The solver runs code (a verifier asks its model only about work that ran), then answers.
SOLVER = {
    "planner": ["add them"],
    "solver": ["```python\nprint(9 + 9)\n```", "ANSWER: 18"],
    "verifier": ["VERDICT: REJECT\nwrong endpoint"],
}
JUDGE = {"verifier": ["VERDICT: ACCEPT"], "default": ["the judge only verifies"]}


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "one.jsonl"
    data.write_text('{"id": "q1", "q": "What is 9 + 9?", "a": 18}\n')
    return data


def _bench(tmp_path: Path, solver, *extra: str, env: dict | None = None):
    common = ["--question-field", "q", "--answer-field", "a", "--strategy", "graph", "--json"]
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    return run_cli(
        "bench", "jsonl", "--data", str(_data(tmp_path)), *common, "--base-url", solver.base_url, "--db", db, *extra,
        env=env,
    )  # fmt: skip


def _steps(tmp_path: Path, run_id: str) -> list[tuple[str, str]]:
    store = Store(f"sqlite:///{tmp_path / 'm.sqlite'}")
    trajectory = store.results(run_id)[0]["trajectory"]
    return [(s.agent, s.model) for s in store.load(trajectory).steps]


def test_verifier_flags_send_the_verifier_to_its_own_endpoint(scripted, tmp_path: Path) -> None:
    with scripted(SOLVER, model="small") as solver, scripted(JUDGE, model="judge") as judge:
        proc = _bench(tmp_path, solver, "--verifier-base-url", judge.base_url, "--verifier-model", "judge")
        assert proc.returncode == 0, proc.stderr
        assert not solver.calls("verifier") and solver.calls("solver")
        assert judge.calls("verifier") and len(judge.calls()) == len(judge.calls("verifier"))
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["correct"] == 1  # the judge accepted; the solver's endpoint would have rejected
    steps = _steps(tmp_path, summary["run_id"])
    assert ("verifier", "judge") in steps and ("solver", "small") in steps
    assert {m for a, m in steps if a == "verifier"} == {"judge"}
    assert summary["roles"]["verifier"]["models"] == ["judge"]
    assert summary["roles"]["solver"]["models"] == ["small"]


def test_toml_role_tables_with_their_own_keys_split_the_cost(scripted, tmp_path: Path) -> None:
    config = tmp_path / "solvegraph.toml"
    with (
        scripted(SOLVER, model="small", api_key="k-small") as solver,
        scripted(JUDGE, model="judge", api_key="k-judge") as judge,
    ):
        config.write_text(
            f'[models.verifier]\nbase_url = "{judge.base_url}"\nmodel = "judge"\napi_key_env = "JUDGE_KEY"\n'
            "[prices]\n"
            '"small" = { input = 1, output = 1 }\n'
            '"judge" = { input = 100, output = 100 }\n'
        )
        env = {"OPENAI_API_KEY": "k-small", "JUDGE_KEY": "k-judge"}
        proc = _bench(tmp_path, solver, "--config", str(config), env=env)
        assert proc.returncode == 0, proc.stderr
        assert judge.calls("verifier") and not solver.calls("verifier")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    roles = summary["roles"]
    assert set(roles) == {"planner", "solver", "verifier"}
    judge_tokens = roles["verifier"]["tokens"]
    assert roles["verifier"]["cost_usd"] == pytest.approx(judge_tokens * 100 / 1e6)
    assert roles["solver"]["cost_usd"] == pytest.approx(roles["solver"]["tokens"] / 1e6)
    total = sum(r["cost_usd"] for r in roles.values())
    assert summary["cost_usd"]["total"] == pytest.approx(total)  # the sample's cost is the roles' sum
    assert "per role:" in proc.stderr and "verifier (judge)" in proc.stderr
    # The same split in the HTML report and on the viewer's run page.
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    html = tmp_path / "report.html"
    assert run_cli("bench", "report", summary["run_id"], "--html", str(html), "--db", db).returncode == 0
    verifier_row = "<tr><td>verifier</td><td>judge</td>"
    assert 'id="roles"' in html.read_text() and verifier_row in html.read_text()
    with _serving(tmp_path / "m.sqlite") as url:
        page = httpx.get(f"{url}/runs/{summary['run_id']}", timeout=30).text
    assert verifier_row in page and "<tr><td>solver</td><td>small</td>" in page


def test_role_tables_are_read_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "solvegraph.toml"
    config.write_text(
        '[models.verifier]\nbase_url = "http://judge/v1"\nmodel = "big"\napi_key_env = "JUDGE_KEY"\n'
        '[models.refiner]\nmodel = "mid"\n[models.solver]\nmodel = "small"\n'
    )
    env = {"JUDGE_KEY": "k2", "OPENAI_API_KEY": "k1", "SOLVEGRAPH_BASE_URL": "http://solver/v1"}
    s = load_settings(config_file=config, env=env)
    assert s.model == "small" and s.role_models["verifier"] == RoleModel("http://judge/v1", "big", "k2")
    verifier, refiner = s.for_role("verifier"), s.for_role("refiner")
    assert verifier is not None and (verifier.base_url, verifier.model, verifier.api_key) == (
        "http://judge/v1", "big", "k2",
    )  # fmt: skip
    assert refiner is not None
    assert (refiner.base_url, refiner.model, refiner.api_key) == ("http://solver/v1", "mid", "k1")
    assert s.for_role("planner") is None and s.for_role("solver") is None
    # A flag is over the table; the solver's key never goes to another endpoint.
    flagged = load_settings(config_file=config, env=env, flags={"verifier_model": "bigger"})
    assert flagged.role_models["verifier"].model == "bigger"
    other = load_settings(env=env, flags={"verifier_base_url": "http://else/v1"}).for_role("verifier")
    assert other is not None and other.api_key is None
    for text, message in [
        ('[models.critic]\nmodel = "x"\n', "unknown role"),
        ('[models.verifier]\nmodel = "x"\napi_key_env = "NOPE"\n', "$NOPE, which is not set"),
        ("[models.verifier]\ntemperature = 1\n", "give base_url, model and api_key_env"),
    ]:
        config.write_text(text)
        with pytest.raises(ConfigError, match=message.replace("$", r"\$")):
            load_settings(config_file=config, env=env)


def test_a_resumed_bench_keeps_its_verifier(scripted, tmp_path: Path) -> None:
    data = tmp_path / "two.jsonl"
    data.write_text('{"id": "q1", "q": "What is 9 + 9?", "a": 18}\n{"id": "q2", "q": "What is 18 + 0?", "a": 18}\n')
    down = {**SOLVER, "planner": [lambda body: {"status": 503} if "18 + 0" in str(body) else "add them"]}
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    config = tmp_path / "solvegraph.toml"
    config.write_text("max_retries = 0\n")
    common = ["--db", db, "--config", str(config), "--json"]
    with scripted(JUDGE, model="judge") as judge:
        with scripted(down, model="small") as solver:
            first = run_cli(
                "bench", "jsonl", "--data", str(data), "--question-field", "q", "--answer-field", "a", "-j", "1",
                "--strategy", "graph", "--base-url", solver.base_url, "--verifier-base-url", judge.base_url, *common,
            )  # fmt: skip
        assert first.returncode == 2 and "stopped: 1 samples errored" in first.stderr, first.stderr
        run_id = first.stderr.rsplit("--resume ", 1)[1].split()[0]
        before = len(judge.calls("verifier"))
        with scripted(SOLVER, model="small") as solver:
            # No --verifier-base-url now: the run's recorded verifier is asked, not the solver's endpoint.
            again = run_cli("bench", "--resume", run_id, "--base-url", solver.base_url, *common)
            assert again.returncode == 0, again.stderr
            assert solver.calls("solver") and not solver.calls("verifier")
        assert len(judge.calls("verifier")) > before >= 1
    assert json.loads(again.stdout.strip().splitlines()[-1])["n"] == 2


def test_solve_asks_the_verifier_flagged_for_it(scripted, tmp_path: Path) -> None:
    with scripted(SOLVER, model="small") as solver, scripted(JUDGE, model="judge") as judge:
        proc = run_cli(
            "solve", "What is 9 + 9?", "--json", "--no-memory", "--base-url", solver.base_url,
            "--verifier-base-url", judge.base_url, "--verifier-model", "judge",
        )  # fmt: skip
        assert proc.returncode == 3, proc.stderr  # solved, accepted by the (judge) model
        assert "Unclosed" not in proc.stderr  # the verifier's connections are closed with the solver's
        assert judge.calls("verifier") and not solver.calls("verifier")
    trajectory = json.loads(proc.stdout)
    assert trajectory["answer"] == "18" and trajectory["solved"]
    assert {s["model"] for s in trajectory["steps"] if s["agent"] == "verifier"} == {"judge"}


def test_a_resumed_chat_asks_its_recorded_verifier(scripted, tmp_path: Path) -> None:
    """chat --resume (and solve --resume, through the same settings) asks the verifier the run was started
    with, without the flag again; its key is never stored."""
    db = f"sqlite:///{tmp_path / 'm.sqlite'}"
    with scripted(JUDGE, model="judge") as judge:
        with scripted(SOLVER, model="small") as solver:
            first = run_cli(
                "chat", "--base-url", solver.base_url, "--verifier-base-url", judge.base_url,
                "--verifier-model", "judge", "--db", db, input="What is 9 + 9?\n",
            )  # fmt: skip
        assert first.returncode == 0, first.stderr
        hint = next(line for line in first.stderr.splitlines() if "--resume " in line)
        run_id = hint.split("--resume ")[1].split()[0]
        asked = len(judge.calls("verifier"))
        with scripted(SOLVER, model="small") as solver:  # a moved solver endpoint; the verifier is not named
            again = run_cli("chat", "--resume", run_id, "--base-url", solver.base_url, "--db", db, input="Again?\n")
            assert again.returncode == 0, again.stderr
            assert solver.calls("solver") and not solver.calls("verifier")
        assert len(judge.calls("verifier")) > asked >= 1
        judge_url = judge.base_url
    store = Store(db)
    recorded = store.run_config(store.resolve(run_id)[0])["roles"]
    assert recorded == {"verifier": {"base_url": judge_url, "model": "judge"}}
