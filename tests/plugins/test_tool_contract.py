"""The tool contract: schema from the signature, and failures always as results."""

from __future__ import annotations

import time

from solvegraph.plugins import Tool, ToolResult, ToolSession, tool, tool_problem, truncate


@tool(timeout=1.0, output_cap=100)
def sample(text: str, times: int = 1, mode: str | None = None) -> str:
    """Repeat text.

    Args:
        text: What to repeat.
        times: How many times.
    """
    if text == "boom":
        raise RuntimeError("exploded")
    if text == "slow":
        time.sleep(5)
    return text * times


def test_schema_comes_from_signature_and_docstring() -> None:
    assert sample.name == "sample"
    assert sample.description == "Repeat text."
    props = sample.input_schema["properties"]
    assert props["text"] == {"type": "string", "description": "What to repeat."}
    assert props["times"]["type"] == "integer" and props["times"]["default"] == 1
    assert sample.input_schema["required"] == ["text"]
    assert tool_problem(sample) is None


def test_valid_call_returns_structured_result() -> None:
    result = sample.run({"text": "ab", "times": 2})
    assert result.ok and result.output == "abab" and result.error == ""


def test_bad_input_is_a_structured_error() -> None:
    result = sample.run({"times": "x"})
    assert not result.ok and "invalid arguments" in result.error
    assert not sample.run("not a dict").ok


def test_exception_becomes_error_result() -> None:
    result = sample.run({"text": "boom"})
    assert not result.ok and result.error == "RuntimeError: exploded"


def test_timeout_is_a_result_not_a_hang() -> None:
    started = time.perf_counter()
    result = sample.run({"text": "slow"})
    assert time.perf_counter() - started < 3
    assert not result.ok and result.error.startswith("timeout")


def test_output_cap_marks_truncation() -> None:
    result = sample.run({"text": "x", "times": 1000})
    assert result.truncated and "[truncated" in result.output and len(result.output) < 200
    text, cut = truncate("a" * 50, 100)
    assert text == "a" * 50 and not cut


def test_invalid_tools_are_described() -> None:
    bad = Tool(name="", description="d", input_schema={"type": "object"}, fn=lambda: "")
    assert "name" in tool_problem(bad)
    bad = Tool(name="t", description="", input_schema={"type": "object"}, fn=lambda: "")
    assert "description" in tool_problem(bad)
    bad = Tool(name="t", description="d", input_schema={"type": 3}, fn=lambda: "")
    assert "invalid input schema" in tool_problem(bad)
    assert "not a solvegraph Tool" in tool_problem(object())


def test_session_resources_are_closed() -> None:
    closed = []
    with ToolSession() as session:
        assert session.resource("k", lambda: 41, closed.append) == 41
        assert session.resource("k", lambda: 0) == 41
    assert closed == [41]


def test_result_render() -> None:
    assert ToolResult.failure("bad", output="partial").render() == "partial\nERROR: bad"
    assert ToolResult.success("").render() == "(no output)"


def test_a_dead_resource_is_closed_once_and_remade() -> None:
    closed: list[int] = []
    made = iter([{"n": 1, "ok": False}, {"n": 2, "ok": True}])
    with ToolSession() as session:
        first = session.resource("w", lambda: next(made), lambda r: closed.append(r["n"]), alive=lambda r: r["ok"])
        second = session.resource("w", lambda: next(made), lambda r: closed.append(r["n"]), alive=lambda r: r["ok"])
        assert (first["n"], second["n"], closed) == (1, 2, [1])
        assert session.resource("w", lambda: next(made), alive=lambda r: r["ok"]) is second
    assert closed == [1, 2], "each resource closed exactly once"
