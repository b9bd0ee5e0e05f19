"""The tool contract: schema from the signature, and failures always as results."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

import jsonschema
import pydantic
import pytest

from solvegraph.plugins import Tool, ToolResult, ToolSession, tool, tool_problem, truncate

_released, _finished = threading.Event(), threading.Event()


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
        _released.wait(60)
        _finished.set()
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
    assert not result.ok and result.data["error_kind"] == "invalid_arguments"
    fields = {e["field"]: e["type"] for e in result.data["errors"]}
    assert fields == {"text": "missing", "times": "int_parsing"}, "each bad field is named, with what is wrong"
    assert result.error.startswith("invalid arguments: ") and "text: Field required" in result.error
    refused = sample.run("not a dict")
    assert not refused.ok and refused.data["errors"][0]["field"] == "(root)"


class Term(TypedDict):
    """One term of a linear row."""

    var: str
    coef: float
    note: NotRequired[str]


class Box(pydantic.BaseModel):
    width: int
    height: int = 1


CALLS: list[tuple] = []


@tool()
def nested(
    rows: list[Term],
    where: Path,
    box: Box | None = None,
    sense: Literal["<=", ">="] = "<=",
    json: int = 0,
    model_variable: str = "m",
) -> str:
    """Take nested arguments.

    Args:
        rows: The terms, one per variable,
            described over two lines.
        where: A folder.
        json: A parameter whose name a pydantic model could not use.
    """
    CALLS.append((rows, where, box, sense, json, model_variable))
    return "ran"


def test_nested_types_are_described_inline() -> None:
    """A TypedDict (typing's, on 3.11 too), a Path and list[TypedDict] once came out as {} and accepted anything."""
    schema = nested.input_schema
    assert tool_problem(nested) is None and "$ref" not in str(schema) and "title" not in schema
    rows = schema["properties"]["rows"]
    assert rows["description"] == "The terms, one per variable, described over two lines."
    assert rows["items"]["properties"]["coef"] == {"type": "number"}
    assert rows["items"]["required"] == ["var", "coef"] and rows["items"]["additionalProperties"] is False
    assert schema["properties"]["where"]["type"] == "string"
    assert schema["properties"]["sense"] == {"default": "<=", "enum": ["<=", ">="], "type": "string"}
    assert schema["required"] == ["rows", "where"] and schema["additionalProperties"] is False
    jsonschema.validate({"rows": [{"var": "x", "coef": 1}], "where": "/tmp", "box": {"width": 2}}, schema)


def test_nested_bad_calls_name_the_field_and_do_not_run() -> None:
    CALLS.clear()
    result = nested.run(
        {"rows": [{"var": "x", "coef": 1}, {"var": "y", "coef": "abc", "bad": 1}], "where": 3,
         "box": {"width": "wide"}, "sense": "<", "extra": True}
    )  # fmt: skip
    assert not result.ok and CALLS == [], "the function did not run"
    fields = {e["field"]: e["type"] for e in result.data["errors"]}
    assert fields == {
        "rows.1.coef": "float_parsing",
        "rows.1.bad": "extra_forbidden",
        "where": "path_type",
        "box.width": "int_parsing",
        "sense": "literal_error",
        "extra": "extra_forbidden",
    }
    assert "rows.1.coef: Input should be a valid number" in result.error


def test_valid_calls_reach_the_function_converted() -> None:
    CALLS.clear()
    result = nested.run({"rows": [{"var": "x", "coef": "2.5"}], "where": "/tmp", "box": {"width": 3}})
    assert result.ok and result.output == "ran"
    rows, where, box, sense, json_arg, variable = CALLS[0]
    assert rows == [{"var": "x", "coef": 2.5}] and where == Path("/tmp") and box == Box(width=3, height=1)
    assert (sense, json_arg, variable) == ("<=", 0, "m"), "a left-out argument takes the function's default"


def test_a_hand_made_schema_still_validates() -> None:
    explicit = Tool(
        name="t",
        description="d",
        input_schema={"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
        fn=lambda n: str(n),
    )
    assert explicit.run({"n": 2}).output == "2"
    result = explicit.run({"n": "two"})
    assert not result.ok and result.data["errors"][0]["field"] == "n" and "invalid arguments: n:" in result.error


def test_signatures_a_model_cannot_call_are_refused_when_decorated() -> None:
    with pytest.raises(TypeError, match="name each parameter"):

        @tool()
        def spread(*values: int) -> str:
            """Spread."""
            return ""


def test_exception_becomes_error_result() -> None:
    result = sample.run({"text": "boom"})
    assert not result.ok and result.error == "RuntimeError: exploded"


def test_timeout_is_a_result_not_a_hang() -> None:
    """The result comes back while the function is still blocked: the caller is not held until it ends."""
    result = sample.run({"text": "slow"})
    assert not _finished.is_set()
    _released.set()
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
