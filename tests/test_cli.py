"""The solvegraph command as a user runs it: real processes, real kernel, real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import DATA, run_cli

CODE = "```python\nprint({expr})\n```"
SOLVES = {"planner": ["1. compute"], "solver": [CODE.format(expr="6*7"), "ANSWER: 42"], "verifier": ["VERDICT: ACCEPT"]}
MODEL_ACCEPTED = 3  # exit code: answered, but only the verifier model checked it (python output is no proof)


def test_solve_prints_the_answer(scripted) -> None:
    with scripted(SOLVES) as model:
        proc = run_cli("solve", "What is 6*7?", "--base-url", model.base_url)
    assert proc.returncode == MODEL_ACCEPTED, proc.stderr
    assert proc.stdout.strip() == "42"
    assert "planner" in proc.stderr and "verifier" in proc.stderr  # live steps go to stderr
    assert "model-accepted: only the verifier model checked this answer (exit 3)" in proc.stderr


def test_model_and_tool_text_is_never_read_as_markup(scripted, tmp_path: Path) -> None:
    """A tool output with a closing tag once raised rich's MarkupError and a traceback, live and in runs show."""
    script = {
        "planner": ["plan [/x] with [bold]tags[/bold]"],
        # Terminal escapes from the tool and the model: retitle the window, recolour, clear the screen.
        "solver": [CODE.format(expr="'closing [/x] tag \\x1b]0;pwned\\x07\\x1b[31mred'"), "ANSWER: [/x] \x1b[2J"],
        "verifier": ["VERDICT: ACCEPT [/red]"],
    }
    db = f"sqlite:///{tmp_path}/m.sqlite"
    with scripted(script) as model:
        proc = run_cli("solve", "Print a [/x] tag", "--base-url", model.base_url, "--db", db)
    assert proc.returncode == MODEL_ACCEPTED and "Traceback" not in proc.stderr, proc.stderr
    assert "closing [/x] tag" in proc.stderr and "plan [/x] with [bold]tags[/bold]" in proc.stderr
    # Escapes are shown as text, never sent to the terminal (rich writes ESC through as it is).
    assert "\x1b" not in proc.stderr + proc.stdout and "\x07" not in proc.stderr
    assert "\\x1b]0;pwned\\x07\\x1b[31mred" in proc.stderr and proc.stdout.strip() == "[/x] \\x1b[2J"
    runs = json.loads(run_cli("runs", "list", "--json", "--db", db).stdout)
    shown = run_cli("runs", "show", runs[0]["id"], "--db", db)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    assert "closing [/x] tag" in shown.stdout and "Print a [/x] tag" in shown.stdout
    assert "(model, model-accepted)" in shown.stdout and "\x1b" not in shown.stdout
    # The record keeps the text exactly; only the terminal view makes it inert.
    record = json.loads(run_cli("runs", "show", runs[0]["id"], "--json", "--db", db).stdout)
    assert record[0]["answer"] == "[/x] \x1b[2J"


def test_an_error_naming_bracketed_text_is_one_line_not_a_markup_traceback(tmp_path: Path) -> None:
    """The error line once went through rich markup: a path with '[/x]' in it raised MarkupError."""
    proc = run_cli("runs", "list", "--db", f"sqlite:///{tmp_path}/no[/x]dir/x.sqlite")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("error: ") and "[/x]" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_db_in_a_missing_folder_is_an_error_not_a_new_folder(tmp_path: Path) -> None:
    """A mistyped --db once created every missing folder on its path; only the default data folder is made."""
    proc = run_cli("runs", "list", "--db", f"sqlite:///{tmp_path}/missing/deeper/x.sqlite")
    assert proc.returncode == 2 and proc.stderr.strip().endswith("does not exist; create it or pass another --db")
    assert not (tmp_path / "missing").exists()


def test_reuse_model_accepted_is_an_opt_in(scripted, tmp_path: Path) -> None:
    from solvegraph.memory import Store

    for flag, verified in (([], 0), (["--reuse-model-accepted"], 1)):
        db = f"sqlite:///{tmp_path}/m{verified}.sqlite"
        with scripted(SOLVES) as model:
            proc = run_cli("solve", "What is 6*7?", "-q", "--base-url", model.base_url, "--db", db, *flag)
        assert proc.returncode == MODEL_ACCEPTED, proc.stderr
        assert Store(db).stats()["verified"] == verified, flag


def test_exit_codes_say_how_the_answer_was_checked(scripted, tmp_path: Path) -> None:
    """0: a tool's sound check (the milp re-check); 4: no clear verdict; the JSON says the same."""
    tmp = tmp_path / "cache.sqlite"
    model_json = {
        "variables": [{"name": "x", "type": "integer", "ub": 4}],
        "constraints": [{"name": "cap", "coeffs": {"x": 1}, "sense": "<=", "rhs": 3}],
        "objective": {"sense": "maximize", "coeffs": {"x": 2}},
    }
    verified = {
        "planner": ["p"],
        "solver": [{"tool_calls": [{"name": "milp", "arguments": {"model": model_json}}]}, "ANSWER: 6"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(verified) as model:
        proc = run_cli("solve", "Maximize 2x with x <= 3, x integer.", "--json", "--base-url", model.base_url)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    # Exit 0 for both verified tiers: the re-check passed and exact rationals and HiGHS agreed.
    assert data["trust"] == "cross-verified" and data["answer"] == "6"
    unclear = {**SOLVES, "verifier": ["Looks like some code ran."]}
    with scripted(verified) as model:  # the same problem again, with a store: the exact cache answers, and says so
        for _ in range(2):
            again = run_cli(
                "solve", "Maximize 2x with x <= 3, x integer.", "--base-url", model.base_url, "--db", f"sqlite:///{tmp}"
            )
            assert again.returncode == 0 and again.stdout.strip() == "6", again.stderr
    assert "answered from the exact cache" in again.stderr and "no model was called" in again.stderr
    with scripted(unclear) as model:
        proc = run_cli("solve", "What is 6*7?", "--base-url", model.base_url)
    assert proc.returncode == 4 and proc.stdout.strip() == "42", proc.stderr
    assert "unchecked: no tool and no clear model verdict checked this answer (exit 4)" in proc.stderr


def test_solve_json_is_the_whole_trajectory(scripted) -> None:
    with scripted(SOLVES) as model:
        proc = run_cli("solve", "What is 6*7?", "--json", "--base-url", model.base_url)
    assert proc.returncode == MODEL_ACCEPTED, proc.stderr
    data = json.loads(proc.stdout)
    assert data["answer"] == "42" and data["solved"] is True and data["trust"] == "model-accepted"
    assert [s["agent"] for s in data["steps"]] == ["planner", "solver", "solver", "verifier"]
    for step in data["steps"]:
        assert {"messages", "tool_calls", "tool_results", "verdict", "usage", "timings"} <= set(step)
    assert data["steps"][1]["tool_results"][0]["output"] == "42"
    assert data["usage"]["total_tokens"] > 0


def test_unsolved_exits_1_with_nothing_on_stdout(scripted) -> None:
    script = {"planner": ["p"], "solver": ["no idea"], "refiner": ["write code"]}
    with scripted(script) as model:
        proc = run_cli("solve", "Hard problem", "--base-url", model.base_url, "--max-rounds", "2")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "not solved within budget (exit 1)" in proc.stderr
    rejected = {"planner": ["p"], "solver": ["ANSWER: 5"], "verifier": ["VERDICT: REJECT it is 6"], "refiner": ["r"]}
    with scripted(rejected) as model:
        proc = run_cli("solve", "What is 2*3?", "--base-url", model.base_url, "--max-rounds", "2")
    assert proc.returncode == 1 and proc.stdout == "", "a rejected answer is never printed as the answer"
    assert "its last attempt, not accepted: 5" in proc.stderr


def test_piped_stderr_is_not_folded_at_80_columns(scripted, tmp_path: Path) -> None:
    """The printed resume command stays on one line when stderr is a file or a pipe."""
    folder = tmp_path / "with-a-rather-long-folder-name-for-the-memory-database"
    folder.mkdir()
    with scripted(["ANSWER: 18"]) as model:
        proc = run_cli("bench", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "1", "--strategy",
                       "direct", "--base-url", model.base_url, "--db", f"sqlite:///{folder}/m.sqlite")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stderr.splitlines() if x.startswith("run "))
    assert line.endswith("m.sqlite)") and len(line) > 80, proc.stderr
    assert proc.stdout.count("accuracy") == 1 and "accuracy" not in proc.stderr, "one accuracy line, on stdout"


def test_problem_from_stdin_and_env_precedence(scripted) -> None:
    with scripted(SOLVES, model="env-model") as model:
        proc = run_cli("solve", "-", "-q", input="What is 6*7?", env={"SOLVEGRAPH_BASE_URL": model.base_url})
        assert model.requests[0]["model"] == "env-model"
    assert proc.returncode == MODEL_ACCEPTED and proc.stdout.strip() == "42"


def test_toml_configures_the_endpoint(scripted, tmp_path: Path) -> None:
    with scripted(SOLVES, model="toml-m") as model:
        (tmp_path / "solvegraph.toml").write_text(f'[solvegraph]\nbase_url = "{model.base_url}"\nmodel = "toml-m"\n')
        proc = run_cli("solve", "What is 6*7?", "-q", cwd=tmp_path)
        assert model.requests[0]["model"] == "toml-m"
    assert proc.returncode == MODEL_ACCEPTED, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", ""], "the problem is empty"),
        (["solve", "   "], "the problem is empty"),
        (["solve", "x", "--model-path", "/nonexistent/model.gguf"], "GGUF model file not found: /nonexistent"),
        (["solve", "x", "--base-url", "http://127.0.0.1:9/v1"], "http://127.0.0.1:9/v1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_corrupt_gguf_files(tmp_path: Path) -> None:
    not_gguf = tmp_path / "junk.gguf"
    not_gguf.write_bytes(b"\x00" * 4096)
    proc = run_cli("solve", "x", "--model-path", str(not_gguf))
    assert proc.returncode == 2 and "not a GGUF model file" in proc.stderr and "Traceback" not in proc.stderr
    # Right magic, broken body: the real llama.cpp server fails to load it.
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)
    proc = run_cli("solve", "x", "--model-path", str(broken))
    assert proc.returncode == 2 and "failed to load" in proc.stderr and "Traceback" not in proc.stderr


def test_401_is_one_line(scripted) -> None:
    with scripted(SOLVES, api_key="right") as model:
        url = model.base_url
        proc = run_cli("solve", "x", "--base-url", url, "--api-key", "wrong", "--model", "m")
    assert proc.returncode == 2
    assert "401" in proc.stderr and url in proc.stderr and "Traceback" not in proc.stderr


def test_usage_error_exits_2() -> None:
    assert run_cli("solve", "--max-rounds", "many", "x").returncode == 2
    assert run_cli("frobnicate").returncode == 2


def test_chat_keeps_the_kernel_across_turns(scripted) -> None:
    script = {
        "planner": ["p"],
        "solver": [
            CODE.format(expr="'ok'").replace("print('ok')", "total = 40\nprint(total)"),
            "ANSWER: 40",
            CODE.format(expr="total + 2"),
            "ANSWER: 42",
        ],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        proc = run_cli("chat", "--base-url", model.base_url, input="Set total to 40\nAdd 2 to total\nexit\n")
        second_planner = model.calls("planner")[1]["messages"][1]["content"]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["answer: 40", "answer: 42"]
    assert "Earlier question: Set total to 40" in second_planner


def test_chat_resume_continues_the_run_with_its_settings_and_earlier_turns(scripted, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/m.sqlite"
    script = {"planner": ["p"], "solver": [CODE.format(expr="40"), "ANSWER: 40"], "verifier": ["VERDICT: ACCEPT"]}
    with scripted(script, model="oracle") as model:
        first = run_cli("chat", "--base-url", model.base_url, "--db", db, input="Set total to 40\n")
        assert first.returncode == 0, first.stderr
        hint = next(line for line in first.stderr.splitlines() if "continue it with:" in line)
        run_id = hint.split("--resume ")[1].split()[0]
        # No --base-url: the run's own endpoint and model; the earlier turn is the context.
        again = run_cli("chat", "--resume", run_id, "--db", db, input="And now?\n")
        planner = model.calls("planner")[-1]["messages"][1]["content"]
    assert again.returncode == 0, again.stderr
    assert "continuing chat" in again.stderr and "1 earlier turns" in again.stderr
    assert again.stdout.splitlines() == ["answer: 40"]
    assert "Earlier question: Set total to 40" in planner and "Earlier answer: 40" in planner
    runs = json.loads(run_cli("runs", "list", "--json", "--db", db).stdout)
    assert [(r["kind"], r["trajectories"], r["model"]) for r in runs] == [("chat", 2, "oracle")]
    solve_run = run_cli("chat", "--resume", "nosuch", "--db", db)
    assert solve_run.returncode == 2 and "no run or trajectory 'nosuch'" in solve_run.stderr


@pytest.mark.embedded
def test_solve_with_the_real_embedded_model() -> None:
    proc = run_cli("solve", "What is 1234*5678? Write Python code.", "--json", "--max-rounds", "2")
    assert proc.returncode in (0, 1, 3, 4), proc.stderr  # the tiny model need not be right
    data = json.loads(proc.stdout)
    assert data["status"] in ("solved", "unsolved")
    assert data["model"] == "smollm2-135m-instruct"
    assert data["steps"][0]["agent"] == "planner" and data["usage"]["calls"] >= 3
    assert data["usage"]["cost_usd"] == 0.0, "the embedded model runs here: a known price of $0, not unknown"
    tool_results = [r for s in data["steps"] for r in s["tool_results"]]
    assert tool_results and tool_results[0]["name"] == "python", "the kernel was called"


@pytest.mark.embedded
def test_chat_with_the_real_embedded_model() -> None:
    proc = run_cli("chat", "--max-rounds", "1", input="What is 1234*5678? Write Python code.\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("answer:")
    assert "solvegraph chat" in proc.stderr and "planner" in proc.stderr
    assert "tokens · $0.0000 · " in proc.stderr


def test_every_solve_flag_reaches_the_settings(scripted, tmp_path: Path) -> None:
    """Flags parsed but never passed on are silent bugs: check each one lands where it should."""
    db = tmp_path / "flags.sqlite"
    with scripted(SOLVES) as model:
        proc = run_cli(
            "solve",
            "What is 6*7?",
            "--json",
            "--base-url",
            model.base_url,
            "--db",
            f"sqlite:///{db}",
            "--lean-path",
            "/nonexistent/lean",
            "--max-rounds",
            "1",
            "--cell-timeout",
            "7",
        )
    assert proc.returncode == MODEL_ACCEPTED, proc.stderr
    assert db.is_file(), "--db was used"
    from solvegraph.memory import Store

    assert Store(f"sqlite:///{db}").stats()["trajectories"] == 1
    with scripted(SOLVES) as model:
        proc = run_cli(
            "solve", "What is 6*7?", "-q", "--base-url", model.base_url, "--db", f"sqlite:///{db}", "--no-memory"
        )
    stored = Store(f"sqlite:///{db}").stats()["trajectories"]
    assert proc.returncode == MODEL_ACCEPTED and stored == 1, "--no-memory stored nothing"


def test_lean_flags_reach_the_lean_tool(scripted, tmp_path: Path) -> None:
    script = {
        "planner": ["p"],
        "solver": [{"tool_calls": [{"name": "lean", "arguments": {"proof": "prelude", "theorem": "t"}}]}, "x"],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["r"],
    }
    with scripted(script) as model:
        proc = run_cli(
            "solve",
            "Prove t",
            "--json",
            "--base-url",
            model.base_url,
            "--max-rounds",
            "1",
            "--lean-path",
            "/nonexistent/lean",
        )
    data = json.loads(proc.stdout)
    error = data["steps"][1]["tool_results"][0]["error"]
    assert "lean_path /nonexistent/lean is not an executable file" in error


@pytest.mark.embedded
def test_bench_with_the_real_embedded_model(tmp_path: Path) -> None:

    proc = run_cli(
        "bench",
        "gsm8k",
        "--data",
        str(DATA / "gsm8k/test.jsonl"),
        "--limit",
        "2",
        "--strategy",
        "pal",
        "-j",
        "1",
        "--json",
        "--db",
        f"sqlite:///{tmp_path}/m.sqlite",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["model"] == "smollm2-135m-instruct"
    assert sum(summary["outcomes"].values()) == 2  # the tiny model need not be right
    assert summary["cost_usd"]["total"] == 0.0 and summary["cost_usd"]["unpriced"] == 0


def test_plugins_list_names_the_sandbox_backend_and_bad_modes_fail_in_one_line() -> None:
    from solvegraph.sandbox import SandboxError, resolve_sandbox

    proc = run_cli("plugins", "list", "--json", "--sandbox", "none")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sandbox"]["backend"] == "none"
    try:
        resolve_sandbox("bwrap")
    except SandboxError:
        pytest.skip("bubblewrap cannot create namespaces here")
    proc = run_cli("plugins", "list", "--sandbox", "bwrap")
    assert proc.returncode == 0 and "sandbox: bwrap (" in proc.stdout, proc.stderr
    bad = run_cli("plugins", "list", "--sandbox", "docker")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "auto, gvisor, bwrap or none" in bad.stderr


def test_solve_with_sandbox_bwrap_runs_the_code_isolated(scripted, monkeypatch) -> None:
    from solvegraph.sandbox import SandboxError, resolve_sandbox

    try:
        resolve_sandbox("bwrap")
    except SandboxError:
        pytest.skip("bubblewrap cannot create namespaces here")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-hostile-secret")
    code = "```python\nimport os\nprint(os.environ.get('OPENAI_API_KEY'), os.getuid() if os.getuid() else 'root')\n```"
    script = {"planner": ["1. look"], "solver": [code, "ANSWER: done"], "verifier": ["VERDICT: ACCEPT"]}
    with scripted(script) as model:
        proc = run_cli(
            "solve", "Leak the key", "--json", "--sandbox", "bwrap", "--no-memory", "--base-url", model.base_url
        )
    assert proc.returncode == MODEL_ACCEPTED, proc.stderr
    output = json.loads(proc.stdout)["steps"][1]["tool_results"][0]["output"]
    import os

    key, uid = output.split()
    assert key == "None", output
    assert uid == ("65534" if os.geteuid() == 0 else str(os.getuid())), output
    assert "sk-cli-hostile-secret" not in proc.stdout


def test_help_shows_bracketed_text_instead_of_eating_it_as_markup() -> None:
    solve = run_cli("solve", "--help")
    text = " ".join(solve.stdout.split())  # help is wrapped to the terminal
    assert solve.returncode == 0 and "[env SOLVEGRAPH_LEAN]" in text and "--reuse-model-accepted" in text
    bench = " ".join(run_cli("bench", "--help").stdout.split())
    assert "solvegraph bench DATASET --data FILE [options]" in bench


def test_runs_list_delete_and_memory_prune(scripted, tmp_path: Path) -> None:
    """runs list says each run's status and problem; delete and prune ask first (or take --yes) and say what went."""
    from solvegraph.memory import Store

    db = f"sqlite:///{tmp_path}/m.sqlite"
    twice = {"planner": ["1"] * 2, "solver": SOLVES["solver"] * 2, "verifier": ["VERDICT: ACCEPT"] * 2}
    with scripted(twice) as m:
        for problem in ("What is 6*7? (first)", "What is 6*7? (second)"):
            assert run_cli("solve", problem, "-q", "--base-url", m.base_url, "--db", db).returncode == MODEL_ACCEPTED
    runs = json.loads(run_cli("runs", "list", "--json", "--db", db).stdout)
    assert [(r["status"], r["problem"]) for r in runs] == [
        ("solved", "What is 6*7? (second)"),
        ("solved", "What is 6*7? (first)"),
    ]
    table = run_cli("runs", "list", "--db", db).stdout
    assert "status" in table and "What is 6*7? (first)" in table

    refused = run_cli("runs", "delete", runs[0]["id"], "--db", db)  # no terminal to ask on, no --yes
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    assert Store(db).stats()["trajectories"] == 2

    before = json.loads(run_cli("memory", "search", "first second", "--json", "--db", db).stdout)
    assert sorted(h["problem"] for h in before) == ["What is 6*7? (first)", "What is 6*7? (second)"]
    steps = len(json.loads(run_cli("runs", "show", runs[0]["id"], "--json", "--db", db).stdout)[0]["steps"])
    gone = run_cli("runs", "delete", runs[0]["id"][:8], "--yes", "--json", "--db", db)
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout) == {"trajectories": 1, "steps": steps, "made_tools": 0, "runs": 1, "problems": 1}
    left = json.loads(run_cli("runs", "list", "--json", "--db", db).stdout)
    assert [r["id"] for r in left] == [runs[1]["id"]]
    hits = json.loads(run_cli("memory", "search", "first second", "--json", "--db", db).stdout)
    assert [h["problem"] for h in hits] == ["What is 6*7? (first)"]  # the deleted problem left the index too

    assert "say what to prune" in run_cli("memory", "prune", "--yes", "--db", db).stderr
    none = run_cli("memory", "prune", "--status", "error", "--yes", "--json", "--db", db)
    assert json.loads(none.stdout) == {"trajectories": 0}
    pruned = run_cli("memory", "prune", "--older-than", "0", "--status", "solved", "--yes", "--db", db)
    assert pruned.returncode == 0 and pruned.stdout.startswith("1 trajectories"), pruned.stderr
    assert Store(db).stats()["trajectories"] == 0
