"""Plugins are found through real installed distributions and their entry points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, pip_install_target, run_cli


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install the fixture plugins as real distributions into a site folder of their own."""
    site = tmp_path_factory.mktemp("site")
    for name in ("sg_good_plugin", "sg_broken_plugin"):
        pip_install_target(site, FIXTURES / "plugins" / name)
    return site


def test_outside_plugin_is_listed_and_broken_ones_are_skipped(plugin_site: Path) -> None:
    proc = run_cli("plugins", "list", "--json", env={"PYTHONPATH": str(plugin_site)})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    by_name = {p["plugin"]: p for p in data["plugins"]}
    assert "reverse" in data["tools"] and "python" in data["tools"]
    assert by_name["reverse"]["ok"] and by_name["reverse"]["tools"] == ["reverse"]
    # The plugin whose module is missing is skipped with its error named.
    assert not by_name["broken_import"]["ok"]
    assert "ModuleNotFoundError" in by_name["broken_import"]["error"]
    # Invalid schema and a name clash are reported by name, and the real python tool survives.
    assert "invalid input schema" in by_name["bad_schema"]["error"]
    assert "clashes" in by_name["bad_schema"]["error"]
    assert by_name["python"]["tools"] == ["python"]
    # One warning line per problem on stderr, no traceback.
    assert "plugin 'broken_import' skipped" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_outside_plugin_tool_runs_through_the_graph(plugin_site: Path, scripted) -> None:
    script = {
        "planner": ["1. reverse the text with the reverse tool"],
        "solver": [{"tool_calls": [{"name": "reverse", "arguments": {"text": "olleh"}}]}, "ANSWER: hello"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        proc = run_cli(
            "solve", "Reverse 'olleh'", "--json", "--base-url", model.base_url, env={"PYTHONPATH": str(plugin_site)}
        )
    assert proc.returncode == 3, proc.stderr  # model-accepted: the tool computed, nothing checked it
    traj = json.loads(proc.stdout)
    results = [r for s in traj["steps"] for r in s["tool_results"]]
    assert results[0]["name"] == "reverse" and results[0]["output"] == "hello"
    assert traj["answer"] == "hello"


def test_plugins_list_table() -> None:
    proc = run_cli("plugins", "list")
    assert proc.returncode == 0
    assert "python" in proc.stdout and "loaded" in proc.stdout


def test_an_outside_plugins_options_are_listed_and_set_like_a_built_ins(plugin_site: Path, tmp_path: Path) -> None:
    env = {"PYTHONPATH": str(plugin_site)}
    proc = run_cli("plugins", "list", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    by_name = {p["plugin"]: p for p in json.loads(proc.stdout.strip().splitlines()[-1])["plugins"]}
    (repeat,) = by_name["reverse"]["options"]
    assert (repeat["name"], repeat["type"], repeat["default"], repeat["value"]) == ("repeat", "int", 1, 1)
    assert {o["name"] for o in by_name["lean"]["options"]} >= {"lake_path", "lean_path", "project", "timeout"}
    assert {o["name"]: o["default"] for o in by_name["python"]["options"]}["cell_timeout"] == 30.0
    # Set from the TOML, the environment and the flag, and converted by the plugin's own model.
    cfg = tmp_path / "solvegraph.toml"
    cfg.write_text("[tools.reverse]\nrepeat = 2\n")
    for args, extra, want in (
        (["--config", str(cfg)], {}, 2),
        (["--config", str(cfg)], {"SOLVEGRAPH_TOOL_REVERSE__REPEAT": "3"}, 3),
        (["--config", str(cfg), "--tool-opt", "reverse.repeat=4"], {"SOLVEGRAPH_TOOL_REVERSE__REPEAT": "3"}, 4),
    ):
        proc = run_cli("plugins", "list", "--json", *args, env={**env, **extra})
        assert proc.returncode == 0, proc.stderr
        plugins = {p["plugin"]: p for p in json.loads(proc.stdout.strip().splitlines()[-1])["plugins"]}
        assert plugins["reverse"]["options"][0]["value"] == want


def test_a_tool_option_reaches_the_tool_in_a_solve(plugin_site: Path, scripted) -> None:
    script = {
        "planner": ["1. reverse the text with the reverse tool"],
        "solver": [{"tool_calls": [{"name": "reverse", "arguments": {"text": "olleh"}}]}, "ANSWER: hello hello"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        proc = run_cli(
            "solve", "Reverse 'olleh' twice", "--json", "--base-url", model.base_url,
            "--tool-opt", "reverse.repeat=2", env={"PYTHONPATH": str(plugin_site)},
        )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    results = [r for s in json.loads(proc.stdout)["steps"] for r in s["tool_results"]]
    assert results[0]["output"] == "hello hello"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("reverse.repeat=11", "error: [tools.reverse] repeat: Input should be less than or equal to 10"),
        ("reverse.colour=red", "error: [tools.reverse] colour: unknown option (known: repeat)"),
        ("revers.repeat=2", "error: [tools.revers]: no installed plugin is named 'revers'"),
    ],
)
def test_a_bad_tool_option_stops_the_command_with_one_line(
    plugin_site: Path, scripted, flag: str, message: str
) -> None:
    with scripted({"planner": ["1. never asked"]}) as model:
        proc = run_cli("solve", "x", "--base-url", model.base_url, "--tool-opt", flag,
                       env={"PYTHONPATH": str(plugin_site)})  # fmt: skip
    assert model.calls() == []  # stopped before the first model request
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
