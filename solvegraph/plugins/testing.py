"""Conformance kit: checks any tool against the contract the agents rely on.

Plugin authors call :func:`check_tool` (or :func:`assert_conformant` in pytest) on
their tool with one valid call. The same checks run on every built-in tool.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from ..config import tool_sections
from ._tool import Tool, ToolResult, ToolSession
from .manager import PluginManager, tool_problem

TIMEOUT_GRACE_S = 2.0


@dataclass
class ConformanceReport:
    tool: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def __str__(self) -> str:
        lines = [f"conformance of tool '{self.tool}': {'OK' if self.ok else 'FAILED'}"]
        lines += [f"  pass  {p}" for p in self.passed]
        lines += [f"  FAIL  {f}" for f in self.failed]
        lines += [f"  skip  {s}" for s in self.skipped]
        return "\n".join(lines)


def _invalid_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Arguments the schema must reject: a wrong type for a property, or a missing required one."""
    props = schema.get("properties", {})
    for name, prop in props.items():
        kind = prop.get("type")
        if kind in ("string", "integer", "number", "boolean", "array", "object"):
            return {name: {"wrong": "type"} if kind != "object" else "wrong type"}
    if schema.get("required"):
        return {}
    return {"__not_a_parameter__": 1}


def check_tool(
    tool: Tool,
    valid: dict[str, Any],
    *,
    invalid: dict[str, Any] | None = None,
    slow: dict[str, Any] | None = None,
    session_options: dict[str, Any] | None = None,
    other_tools: dict[str, Tool] | None = None,
    timeout: float | None = None,
) -> ConformanceReport:
    """Run the contract checks on ``tool``.

    Args:
        tool: The tool under test.
        valid: Arguments for a call that must succeed.
        invalid: Arguments the tool must reject with a structured error (default: derived from the schema).
        slow: Arguments for a call that runs past the tool's timeout; without it the timeout check is skipped.
        session_options: Options for the sessions the checks open (e.g. ``{"cell_timeout": 2}``).
        other_tools: Tools the name must not clash with (default: every installed plugin's tools).
        timeout: The limit the slow call must respect (default: the session option named by the tool's
            ``timeout_option``, else its declared ``timeout``). Pass it for tools whose limit is an argument.
    """
    report = ConformanceReport(tool=getattr(tool, "name", repr(tool)))
    options = dict(session_options or {})

    def check(label: str, ok: bool, why: str = "") -> None:
        (report.passed if ok else report.failed).append(label if ok else f"{label}: {why}")

    problem = tool_problem(tool)
    check("is a valid tool (name, description, JSON schema)", problem is None, problem or "")
    if problem is not None:
        return report
    if other_tools is None:
        other_tools = {n: t for n, t in PluginManager().tools().items() if t is not tool and t.fn is not tool.fn}
    clash = tool.name in other_tools
    check(
        "name is unique",
        not clash,
        f"'{tool.name}' is also offered by plugin '{getattr(other_tools.get(tool.name), 'plugin', '?')}'",
    )
    try:
        jsonschema.validate(valid, tool.input_schema)
        check("valid arguments match the schema", True)
    except jsonschema.ValidationError as exc:
        check("valid arguments match the schema", False, exc.message)

    with ToolSession(options=options) as session:
        result = _safe_run(tool, valid, session)
        check(
            "a valid call returns a successful ToolResult", isinstance(result, ToolResult) and result.ok, _why(result)
        )
        bad = _invalid_arguments(tool.input_schema) if invalid is None else invalid
        result = _safe_run(tool, bad, session)
        check(
            "bad input returns a structured error, not an exception",
            isinstance(result, ToolResult) and not result.ok and bool(result.error),
            _why(result, want_error=True),
        )

    tiny = dataclasses.replace(tool, output_cap=40)
    with ToolSession(options=options) as session:
        result = _safe_run(tiny, valid, session)
        if isinstance(result, ToolResult):
            marker_room = 80  # the "[truncated N characters]" marker itself
            check(
                "the output cap holds",
                len(result.output) <= 40 + marker_room,
                f"output of {len(result.output)} characters with a cap of 40",
            )
        else:
            check("the output cap holds", False, _why(result))

    if slow is None:
        report.skipped.append("timeout is respected (no slow arguments given)")
    else:
        limit = _session_limit(tool, options) if timeout is None else timeout
        with ToolSession(options=options) as session:
            started = time.perf_counter()
            result = _safe_run(tool, slow, session)
            elapsed = time.perf_counter() - started
        if not limit:
            check("timeout is respected", False, "the tool declares no timeout")
        else:
            within = elapsed <= float(limit) + TIMEOUT_GRACE_S
            timed_out = isinstance(result, ToolResult) and not result.ok and "timeout" in result.error.lower()
            check(
                "timeout is respected",
                within and timed_out,
                f"took {elapsed:.1f} s with a {limit:g} s timeout; result: {_why(result, want_error=True)}",
            )

    def one_session() -> Any:
        with ToolSession(options=options) as session:
            return _safe_run(tool, valid, session)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: one_session(), range(2)))
    check(
        "runs concurrently in two sessions",
        all(isinstance(r, ToolResult) and r.ok for r in results),
        "; ".join(_why(r) for r in results),
    )
    return report


def assert_conformant(tool: Tool, valid: dict[str, Any], **kwargs: Any) -> ConformanceReport:
    """:func:`check_tool`, raising AssertionError with the full report when a check fails."""
    report = check_tool(tool, valid, **kwargs)
    assert report.ok, str(report)
    return report


def _session_limit(tool: Tool, options: dict[str, Any]) -> float | None:
    """The time limit a session with ``options`` gives ``tool``: its ``timeout_option`` read the way the tool
    reads it (the plugin's typed options: ``[tools.NAME]``, then the flat setting, then the model's default),
    else its declared ``timeout``."""
    name = tool.timeout_option
    if not name:
        return tool.timeout
    model = PluginManager().options_models().get(tool.plugin) if tool.plugin else None
    if model is not None and name in model.model_fields:
        with ToolSession(options=options) as session:
            return float(getattr(session.tool_options(model), name))
    # A tool without a registered options model: its section's value, else the flat one.
    value = tool_sections(options).get(tool.plugin or tool.name, {}).get(name, options.get(name))
    return float(value) if value is not None else tool.timeout


def _safe_run(tool: Tool, arguments: Any, session: ToolSession) -> ToolResult | BaseException:
    try:
        return tool.run(arguments, session)
    except BaseException as exc:  # the point is to catch tools that raise
        return exc


def _why(result: Any, want_error: bool = False) -> str:
    if isinstance(result, BaseException):
        return f"raised {type(result).__name__}: {result}"
    if not isinstance(result, ToolResult):
        return f"returned {type(result).__name__}, not ToolResult"
    if want_error:
        return f"ok={result.ok} error={result.error!r}"
    return result.error or "ok"
