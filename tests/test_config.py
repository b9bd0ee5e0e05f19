import re
from pathlib import Path

import pytest

from solvegraph.config import load_settings
from solvegraph.errors import ConfigError


def test_precedence_flags_over_env_over_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "solvegraph.toml"
    cfg.write_text('[solvegraph]\nmodel = "from-toml"\nbase_url = "http://toml/v1"\nmax_rounds = 5\n')
    s = load_settings(config_file=cfg, env={})
    assert (s.model, s.base_url, s.max_rounds) == ("from-toml", "http://toml/v1", 5)
    s = load_settings(config_file=cfg, env={"SOLVEGRAPH_MODEL": "from-env", "OPENAI_API_KEY": "k"})
    assert (s.model, s.base_url, s.api_key) == ("from-env", "http://toml/v1", "k")
    s = load_settings(
        flags={"model": "from-flag", "base_url": None}, config_file=cfg, env={"SOLVEGRAPH_MODEL": "from-env"}
    )
    assert s.model == "from-flag" and s.base_url == "http://toml/v1"
    assert s.sources["model"] == "flag" and not s.uses_embedded


def test_no_endpoint_means_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    s = load_settings(flags={}, env={}, config_file=None)
    assert s.uses_embedded and s.max_rounds == 3
    (tmp_path / "solvegraph.toml").write_text('base_url = "http://cwd/v1"\n')
    assert load_settings(env={}).base_url == "http://cwd/v1"


def test_bad_config_is_one_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("model = [")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(config_file=cfg, env={})
    cfg.write_text("colour = 'red'")
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        load_settings(config_file=cfg, env={})
    cfg.write_text("max_rounds = 'many'")
    with pytest.raises(ConfigError, match="max_rounds must be a int"):
        load_settings(config_file=cfg, env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(config_file=tmp_path / "missing.toml", env={})


@pytest.mark.parametrize(
    ("flags", "toml", "message"),
    [
        ({"cell_timeout": -5}, "", "--cell-timeout must be more than 0, not -5"),
        ({"cell_timeout": float("nan")}, "", "--cell-timeout must be more than 0, not nan"),
        ({"max_rounds": 0}, "", "--max-rounds must be at least 1 and at most 1000, not 0"),
        ({"max_tool_calls": -1}, "", "--max-tool-calls must be at least 0"),
        ({}, "temperature = 5", "bad.toml: temperature must be at least 0 and at most 2, not 5"),
        ({}, "kernel_memory_mb = 1", "bad.toml: kernel_memory_mb must be at least 64, not 1"),
    ],
)
def test_every_number_is_range_checked_wherever_it_was_set(
    flags: dict, toml: str, message: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(flags=flags, config_file=cfg, env={})
    assert message in str(caught.value)


def test_bad_flags_are_one_line_naming_the_allowed_values(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    db = f"sqlite:///{tmp_path}/m.sqlite"
    for args, message in (
        (["memory", "prune", "--status", "bogus", "--yes", "--db", db], "'bogus' is not one of running, solved"),
        (["solve", "x", "--cell-timeout", "-5", "--db", db], "--cell-timeout must be more than 0, not -5"),
        (["runs", "list", "--limit", "0", "--db", db], "'--limit'"),
        (["plugins", "new", "python", "--dir", str(tmp_path)], "a tool or plugin named 'python' is already installed"),
    ):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (args, proc.stderr)
    assert not (tmp_path / "python").exists()


def test_chat_history_lives_in_the_user_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from solvegraph.config import chat_history_path

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert chat_history_path() == tmp_path / "data" / "solvegraph" / "chat_history"


def test_the_editor_is_visual_then_editor_split_like_a_shell() -> None:
    from solvegraph.config import editor_command

    assert editor_command({"VISUAL": "code --wait", "EDITOR": "vi"}) == ["code", "--wait"]
    assert editor_command({"VISUAL": " ", "EDITOR": "'/opt/my editor/ed' -n"}) == ["/opt/my editor/ed", "-n"]
    assert editor_command({"EDITOR": "vi 'unclosed"}) is None, "a value that cannot be split is no editor"
    assert editor_command({}) is None


def test_plugin_options_come_from_toml_tables_env_and_tool_opt_flags(tmp_path: Path) -> None:
    """[tools.NAME], SOLVEGRAPH_TOOL_NAME__KEY and --tool-opt NAME.key=value, flags over env over TOML."""
    cfg = tmp_path / "solvegraph.toml"
    cfg.write_text(
        '[solvegraph]\nmodel = "m"\n\n[tools.lean]\nlake_path = "/toml/lake"\ntimeout = 5\n\n'
        '[tools.wc]\nunit = "words"\n'
    )
    s = load_settings(config_file=cfg, env={})
    assert s.tool_options == {"lean": {"lake_path": "/toml/lake", "timeout": 5}, "wc": {"unit": "words"}}
    assert s.sources["tools.lean.lake_path"] == str(cfg)
    s = load_settings(config_file=cfg, env={"SOLVEGRAPH_TOOL_LEAN__LAKE_PATH": "/env/lake"})
    assert (
        s.tool_options["lean"]["lake_path"] == "/env/lake"
        and s.sources["tools.lean.lake_path"] == "$SOLVEGRAPH_TOOL_LEAN__LAKE_PATH"
    )
    s = load_settings(
        flags={"tool_opt": ["lean.lake_path=/flag/lake", "wc.unit=characters"]},
        config_file=cfg,
        env={"SOLVEGRAPH_TOOL_LEAN__LAKE_PATH": "/env/lake"},
    )
    assert s.tool_options["lean"] == {"lake_path": "/flag/lake", "timeout": 5}
    assert s.tool_options["wc"] == {"unit": "characters"}
    # What a tool session gets: each plugin's section (the text is converted by the plugin's own model).
    assert s.session_options()["tools"] == s.tool_options


def test_flat_settings_and_plugin_options_the_stronger_source_wins(tmp_path: Path) -> None:
    """--cell-timeout is python.cell_timeout: a flag beats a [tools.python] table, and --tool-opt beats the TOML."""
    from solvegraph.config import tool_sections

    cfg = tmp_path / "solvegraph.toml"
    cfg.write_text("cell_timeout = 7\nkernel_memory_mb = 512\n\n[tools.python]\ncell_timeout = 10\n")
    s = load_settings(config_file=cfg, env={})
    assert tool_sections(s.session_options())["python"] == {"cell_timeout": 10, "memory_mb": 512}  # same strength
    assert tool_sections(s.session_options())["milp"] == {"memory_mb": 512}  # the solvers' memory too
    s = load_settings(flags={"cell_timeout": 3}, config_file=cfg, env={})
    assert tool_sections(s.session_options())["python"]["cell_timeout"] == 3
    s = load_settings(flags={"tool_opt": ["python.cell_timeout=4"], "cell_timeout": None}, config_file=cfg, env={})
    assert tool_sections(s.session_options())["python"]["cell_timeout"] == "4"
    # A library caller's flat options reach the plugins the same way.
    assert tool_sections({"lean_path": "/l", "lean_timeout": 2})["lean"] == {"lean_path": "/l", "timeout": 2}


@pytest.mark.parametrize(
    ("flags", "toml", "env", "message"),
    [
        ({"tool_opt": ["lean"]}, "", {}, "--tool-opt expects PLUGIN.KEY=VALUE"),
        ({"tool_opt": ["lean.=x"]}, "", {}, "--tool-opt expects PLUGIN.KEY=VALUE"),
        ({}, "[tools]\nlean = 3\n", {}, "[tools] must hold one table per plugin"),
        ({}, '[tools."bad name"]\nx = 1\n', {}, "plugin and option names are letters"),
        ({}, "", {"SOLVEGRAPH_TOOL_LEAN": "x"}, "SOLVEGRAPH_TOOL_PLUGIN__KEY"),
    ],
)
def test_bad_plugin_options_are_one_line(tmp_path: Path, flags: dict, toml: str, env: dict, message: str) -> None:
    cfg = tmp_path / "solvegraph.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(flags=flags, config_file=cfg, env=env)


def test_a_resumed_runs_recorded_plugin_options_apply_under_the_flags_given_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    first = load_settings(flags={"tool_opt": ["lean.timeout=9", "python.cell_timeout=5"]}, env={}, config_file=None)
    recorded = first.run_record()["tool_options"]
    assert recorded == {"lean": {"timeout": "9"}, "python": {"cell_timeout": "5"}}
    again = load_settings(flags={"tool_options": recorded, "tool_opt": ["lean.timeout=3"]}, env={}, config_file=None)
    assert again.tool_options == {"lean": {"timeout": "3"}, "python": {"cell_timeout": "5"}}
