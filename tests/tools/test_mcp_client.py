"""MCP servers' tools as solvegraph tools: a real third-party server from PyPI (mcp-server-time), and odd cases."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from solvegraph.config import ConfigError, McpServerConfig, load_settings
from solvegraph.tools.mcp import McpServers
from tests.conftest import run_cli

ODD = str(Path(__file__).resolve().parent.parent / "fixtures" / "mcp" / "odd_server.py")
TIME = f"time={sys.executable} -m mcp_server_time --local-timezone UTC"
BROKEN = f"broken={sys.executable} -c 'import sys; sys.exit(3)'"


def test_solve_calls_a_third_party_server_and_survives_a_broken_one(scripted, tmp_path: Path) -> None:
    call = {"name": "time-convert_time",
            "arguments": {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}}  # fmt: skip
    script = {
        "planner": ["1. convert the time"],
        "solver": [f"```tool\n{json.dumps(call)}\n```", "ANSWER: 21:00"],
        "verifier": ["VERDICT: ACCEPT"],
    }
    with scripted(script) as model:
        proc = run_cli(
            "solve", "What time is 12:00 UTC in Tokyo?", "--json", "--base-url", model.base_url,
            "--db", f"sqlite:///{tmp_path}/m.sqlite", "--mcp", TIME, "--mcp", BROKEN,
        )  # fmt: skip
        offered = [t["function"]["name"] for t in model.calls("solver")[0].get("tools", [])]
        system = model.calls("solver")[0]["messages"][0]["content"]
    assert proc.returncode in (0, 3, 4), proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "MCP server 'broken'" in line]
    assert len(warnings) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "time-convert_time" in offered or "time-convert_time" in system, "the server's tools reach the model"
    trajectory = json.loads(proc.stdout)
    results = [r for s in trajectory["steps"] for r in s["tool_results"] if r["name"] == "time-convert_time"]
    assert results and results[0]["ok"] and "2026" in results[0]["output"] and "+09:00" in results[0]["output"]
    assert results[0]["data"]["structured"]["time_difference"] == "+9.0h"
    assert trajectory["answer"] == "21:00"


def test_plugins_list_shows_servers_and_their_tools() -> None:
    proc = run_cli("plugins", "list", "--json", "--mcp", TIME, "--mcp", "nothere=/no/such/binary")
    assert proc.returncode == 0, proc.stderr
    servers = {s["server"]: s for s in json.loads(proc.stdout)["mcp_servers"]}
    assert servers["time"]["running"] and "time-get_current_time" in servers["time"]["tools"]
    assert not servers["nothere"]["running"] and "no such command: /no/such/binary" in servers["nothere"]["error"]
    assert "time-convert_time" in json.loads(proc.stdout)["tools"]


@pytest.fixture(scope="module")
def odd() -> McpServers:
    env = (("ODD_MARKER", "1"), ("ONLY_THIS", "1"))
    shared = str(Path(ODD).parent)  # the one host folder the sandboxed server may read: its own
    config = McpServerConfig(name="odd", command=sys.executable, args=(ODD,), env=env, timeout=3, paths=(shared,))
    os.environ["SOLVEGRAPH_TEST_SECRET"] = "do-not-leak"
    servers = McpServers((config,))
    try:
        yield servers
    finally:
        servers.close()
        os.environ.pop("SOLVEGRAPH_TEST_SECRET", None)


def test_results_are_mapped_and_errors_are_structured(odd: McpServers) -> None:
    tools = {t.name: t for t in odd.tools()}
    assert set(tools) == {"odd-sleep", "odd-env", "odd-image", "odd-fail", "odd-crash", "odd-read", "odd-connect"}
    image = tools["odd-image"].run({})
    assert image.ok and image.output.startswith("a caption\n[image: image/png, ") and "not shown" in image.output
    failed = tools["odd-fail"].run({})
    assert not failed.ok and failed.error == "it went wrong"
    bad = tools["odd-sleep"].run({"seconds": "long"})
    assert not bad.ok and bad.data["error_kind"] == "invalid_arguments", "the server's schema is checked first"


def test_the_server_gets_only_its_configured_environment(odd: McpServers) -> None:
    names = {t.name: t for t in odd.tools()}["odd-env"].run({}).output.split()
    assert "ONLY_THIS" in names
    assert "SOLVEGRAPH_TEST_SECRET" not in names and "OPENAI_API_KEY" not in names


def test_a_stdio_server_runs_in_the_sandbox(odd: McpServers, tmp_path: Path) -> None:
    """Trusted code, but through the execution seam: no host files beyond its paths, no network."""
    secret = tmp_path / "secret.txt"
    secret.write_text("host data")
    tools = {t.name: t for t in odd.tools()}
    assert not tools["odd-read"].run({"path": str(secret)}).ok, "a host file outside its paths is not there"
    assert tools["odd-read"].run({"path": ODD}).ok, "its configured paths are"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        refused = tools["odd-connect"].run({"port": listener.getsockname()[1]})
    assert not refused.ok, "no network: not even the host's loopback"


def test_a_slow_call_times_out_is_cancelled_on_the_server_and_the_server_goes_on(odd: McpServers) -> None:
    tools = {t.name: t for t in odd.tools()}
    marker = Path(odd.servers["odd"].home or "/nonexistent") / "slept"  # the sandboxed server's own folder
    slow = tools["odd-sleep"].run({"seconds": 5})
    assert not slow.ok and slow.error.startswith("timeout: odd-sleep did not finish within 3 s")
    time.sleep(4)  # past the 5 s the call would have slept had the server not cancelled it
    assert not marker.exists(), "the server cancelled the call: it never reached the end of its sleep"
    assert tools["odd-sleep"].run({"seconds": 0}).output == "slept 0"
    assert marker.read_text() == "slept 0\n"


def test_a_crashed_server_is_an_error_result_not_a_crash(odd: McpServers) -> None:
    tools = {t.name: t for t in odd.tools()}
    crashed = tools["odd-crash"].run({})
    assert not crashed.ok and "odd" in crashed.error
    after = tools["odd-env"].run({})
    assert not after.ok and "not running" in after.error


def test_mcp_server_tables_and_flags(tmp_path: Path) -> None:
    toml = tmp_path / "solvegraph.toml"
    toml.write_text(
        '[[mcp_servers]]\nname = "fs"\ncommand = "mcp-fs"\nargs = ["/data"]\nenv = {TOKEN = "x"}\ntimeout = 5\n'
        '[[mcp_servers]]\nname = "web"\nurl = "http://127.0.0.1:9/mcp"\nheaders = {Authorization = "Bearer y"}\n'
    )
    settings = load_settings(config_file=toml, flags={"mcp": ["fs=other-fs --ro"]}, env={})
    servers = {c.name: c for c in settings.mcp_servers}
    assert servers["fs"] == McpServerConfig(name="fs", command="other-fs", args=("--ro",)), "the flag wins"
    assert servers["web"].url == "http://127.0.0.1:9/mcp" and servers["web"].headers == (("Authorization", "Bearer y"),)
    for bad, message in (
        ('[[mcp_servers]]\nname = "a.b"\ncommand = "x"\n', "name must be"),
        ('[[mcp_servers]]\nname = "a"\n', "exactly one of command"),
        ('[[mcp_servers]]\nname = "a"\ncommand = "x"\nport = 3\n', "unknown key"),
    ):
        toml.write_text(bad)
        with pytest.raises(ConfigError, match=message):
            load_settings(config_file=toml, env={})
    with pytest.raises(ConfigError, match="NAME=COMMAND"):
        load_settings(flags={"mcp": ["no-equals-sign"]}, env={})
    proc = run_cli("plugins", "list", "--mcp", "bad name=x")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_closed_servers_start_afresh_when_asked_again() -> None:
    """close() then tools(): the servers run again, rather than every one reading as stopped."""
    shared = str(Path(ODD).parent)
    servers = McpServers((McpServerConfig(name="odd", command=sys.executable, args=(ODD,), paths=(shared,)),))
    try:
        assert {t.name for t in servers.tools()} >= {"odd-sleep"}
        first_home = servers.servers["odd"].home
        servers.close()
        assert not servers.servers["odd"].running and first_home is not None and not Path(first_home).exists()
        again = {t.name: t for t in servers.tools()}
        assert servers.servers["odd"].running and again["odd-sleep"].run({"seconds": 0}).output == "slept 0"
    finally:
        servers.close()
    assert not servers.servers["odd"].running


def test_tools_mcp_options_set_the_call_timeout_of_servers_without_their_own(tmp_path: Path) -> None:
    """``[tools.mcp] call_timeout`` is the default; a server's own ``timeout`` still wins."""
    from solvegraph.agents import plugins_for

    toml = tmp_path / "solvegraph.toml"
    shared = str(Path(ODD).parent)
    toml.write_text(
        f"[tools.mcp]\ncall_timeout = 1\nstart_timeout = 20\n"
        f'[[mcp_servers]]\nname = "odd"\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(ODD)}]\n'
        f"paths = [{json.dumps(shared)}]\n"
    )
    settings = load_settings(config_file=toml, env={})
    manager = plugins_for(settings)
    try:
        tools = manager.tools()
        slow = tools["odd-sleep"].run({"seconds": 3})
        assert not slow.ok and slow.error.startswith("timeout: odd-sleep did not finish within 1 s"), slow.error
        assert tools["odd-sleep"].run({"seconds": 0}).output == "slept 0"
    finally:
        manager.close()
    own = McpServerConfig(name="odd", command=sys.executable, args=(ODD,), timeout=7)
    assert McpServers((own,)).timeout(own) == 7.0


def test_plugins_list_shows_the_mcp_options_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    proc = run_cli("plugins", "list", "--json", "--mcp", TIME, "--tool-opt", "mcp.call_timeout=5")
    assert proc.returncode == 0, proc.stderr
    mcp = next(p for p in json.loads(proc.stdout)["plugins"] if p["plugin"] == "mcp")
    options = {o["name"]: o for o in mcp["options"]}
    assert options["call_timeout"]["default"] == 60.0 and options["start_timeout"]["default"] == 30.0
    assert any(str(v) == "5.0" for v in options["call_timeout"].values()), options["call_timeout"]
    bad = run_cli("plugins", "list", "--tool-opt", "mcp.call_timeout=-1")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "[tools.mcp] call_timeout" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
