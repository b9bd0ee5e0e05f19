"""The conformance kit passes good tools, including the built-ins, and names what bad ones get wrong."""

from __future__ import annotations

import time

from solvegraph.plugins import PluginManager, Tool, ToolResult, tool
from solvegraph.testing import assert_conformant, check_tool


def test_builtin_python_tool_is_conformant() -> None:
    python = PluginManager().tools()["python"]
    report = assert_conformant(
        python, {"code": "print('x' * 500)"}, slow={"code": "while True: pass"}, session_options={"cell_timeout": 2}
    )
    assert not report.skipped and len(report.passed) == 8


def test_the_time_limit_is_read_from_the_plugins_own_section_too() -> None:
    """``[tools.python] cell_timeout``, the typed form, is the limit the kit holds the tool to, as the flat
    ``cell_timeout`` is."""
    python = PluginManager().tools()["python"]
    options = {"tools": {"python": {"cell_timeout": 2}}}
    report = check_tool(python, {"code": "print(1)"}, slow={"code": "while True: pass"}, session_options=options)
    assert "timeout is respected" in report.passed, report.failed


@tool(timeout=0.5)
def sleepy(seconds: float) -> str:
    """Sleep, then say so.

    Args:
        seconds: How long.
    """
    time.sleep(seconds)
    return "slept"


def test_thread_timeout_tool_is_conformant() -> None:
    report = assert_conformant(sleepy, {"seconds": 0.01}, slow={"seconds": 3})
    assert "timeout is respected" in report.passed


def test_a_tool_that_ignores_its_timeout_fails() -> None:
    liar = Tool(
        name="liar",
        description="claims to enforce a timeout",
        timeout=0.5,
        enforces_timeout=True,
        input_schema={"type": "object", "properties": {"s": {"type": "number"}}},
        fn=lambda s: time.sleep(s) or "done",
    )
    report = check_tool(liar, {"s": 0.0}, slow={"s": 3.0})
    assert not report.ok
    assert any(f.startswith("timeout is respected") for f in report.failed)


def test_a_tool_whose_valid_call_fails_and_that_raises_is_reported() -> None:
    class Raising(Tool):
        def run(self, arguments, session=None):  # breaks the contract on purpose
            raise RuntimeError("kaboom")

    bad = Raising(name="raiser", description="raises", input_schema={"type": "object"}, fn=lambda: "")
    report = check_tool(bad, {})
    assert any("raised RuntimeError: kaboom" in f for f in report.failed)
    assert "FAIL" in str(report)


def test_invalid_schema_and_clash_are_reported() -> None:
    broken = Tool(
        name="python",
        description="x",
        input_schema={"type": "object", "properties": {"a": {"type": 1}}},
        fn=lambda a: a,
    )
    report = check_tool(broken, {"a": 1})
    assert any("invalid input schema" in f for f in report.failed)
    clash = Tool(name="python", description="clash", input_schema={"type": "object"}, fn=lambda: ToolResult.success())
    report = check_tool(clash, {})
    assert any(f.startswith("name is unique") for f in report.failed)
