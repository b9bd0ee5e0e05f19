"""How the MCP server reads a plugin verifier's answer: the same three ways the verifier agent does."""

from __future__ import annotations

from solvegraph.plugins import PluginManager, ToolResult, Verifier
from solvegraph.serve import ToolServer


def test_a_note_without_accepted_is_not_a_rejection() -> None:
    server = ToolServer(PluginManager(load_entry_points=False), tools=[])
    server.verifiers = [
        Verifier("notes", lambda problem, calls: {"feedback": "nothing to judge here"}),
        Verifier("refutes", lambda problem, calls: {"accepted": False, "feedback": "wrong"}),
        Verifier("confirms", lambda problem, calls: {"accepted": True, "feedback": "checked"}),
        Verifier("silent", lambda problem, calls: None),
    ]
    said = {v["verifier"]: v["accepted"] for v in server._verdicts("x", {}, ToolResult.success("1"))}
    assert said == {"notes": None, "refutes": False, "confirms": True}
