"""The rest of the plugin contract: typed options, typed services, and warm / interrupt / close.

The plugins here are ordinary objects registered on a real manager, as an outside package's module would be.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol

import pytest
from pydantic import Field

from solvegraph.errors import ConfigError
from solvegraph.plugins import PluginManager, ToolOptions, ToolSession, describe_options, hookimpl, tool


class GreetOptions(ToolOptions):
    section = "greet"

    greeting: str = Field("hello", description="The word to greet with.")
    times: int = Field(1, ge=1, le=5, description="How many times.")


class Clock(Protocol):
    """A typed service: what a tool of another plugin may ask its session for."""

    def now(self) -> str: ...


@tool()
def greet(name: str, session: ToolSession) -> str:
    """Greet someone.

    Args:
        name: Who.
    """
    options = session.tool_options(GreetOptions)
    return " ".join([f"{options.greeting} {name}"] * options.times) + f" at {session.service(Clock).now()}"


class _SessionClock:
    def __init__(self, session: ToolSession) -> None:
        self.session = session

    def now(self) -> str:
        return f"noon ({self.session.id})"


class GreetPlugin:
    def __init__(self) -> None:
        self.warmed: list[tuple[str, int]] = []
        self.interrupted: list[str] = []
        self.closed = threading.Event()

    @hookimpl
    def solvegraph_tools(self) -> list:
        return [greet]

    @hookimpl
    def solvegraph_options(self) -> type[ToolOptions]:
        return GreetOptions

    @hookimpl
    def solvegraph_services(self) -> dict[type, Any]:
        return {Clock: _SessionClock}

    @hookimpl
    def solvegraph_warm(self, session: ToolSession, concurrency: int) -> None:
        self.warmed.append((session.tool_options(GreetOptions).greeting, concurrency))

    @hookimpl
    def solvegraph_interrupt(self, session: ToolSession) -> None:
        self.interrupted.append(session.id)

    @hookimpl
    def solvegraph_close(self) -> None:
        self.closed.set()


@pytest.fixture
def manager() -> Iterator[tuple[PluginManager, GreetPlugin]]:
    plugin = GreetPlugin()
    pm = PluginManager(load_entry_points=False)
    pm.register(plugin, "greet")
    yield pm, plugin
    ToolSession._services.pop(Clock, None)
    ToolSession._interrupters.pop("greet", None)


def test_a_tool_reads_its_typed_options_and_another_plugins_service(manager) -> None:
    pm, _ = manager
    tool_ = pm.tools()["greet"]
    with ToolSession("s1", options={"tools": {"greet": {"greeting": "hi", "times": "2"}}}) as session:
        result = tool_.run({"name": "Ada"}, session)
    assert result.ok and result.output == "hi Ada hi Ada at noon (s1)", result
    with ToolSession("s2") as session:  # no section: the model's defaults
        assert tool_.run({"name": "Ada"}, session).output == "hello Ada at noon (s2)"


def test_the_manager_checks_options_once_with_one_line_per_problem(manager) -> None:
    pm, _ = manager
    assert pm.options_models() == {"greet": GreetOptions}
    assert pm.check_options({"greet": {"times": "3"}})["greet"] == GreetOptions(times=3)
    with pytest.raises(ConfigError, match=r"\[tools.greet\] times: Input should be less than or equal to 5"):
        pm.check_options({"greet": {"times": 9}})
    with pytest.raises(ConfigError, match=r"\[tools.greet\] colour: unknown option \(known: greeting, times\)"):
        pm.check_options({"greet": {"colour": "red"}})
    with pytest.raises(ConfigError, match=r"\[tools.gret\]: no installed plugin is named 'gret'"):
        pm.check_options({"gret": {}})


def test_options_are_described_with_their_defaults() -> None:
    rows = {r["name"]: r for r in describe_options(GreetOptions)}
    assert rows["greeting"] == {
        "name": "greeting",
        "type": "str",
        "default": "hello",
        "required": False,
        "description": "The word to greet with.",
    }
    assert rows["times"]["default"] == 1 and rows["times"]["type"] == "int"


def test_lifecycle_hooks_warm_interrupt_and_close(manager) -> None:
    pm, plugin = manager
    pm.warm({"tools": {"greet": {"greeting": "hey"}}}, concurrency=4)
    assert plugin.warmed == [("hey", 4)]
    with ToolSession("running") as session:
        session.interrupt()
    assert plugin.interrupted == ["running"]
    pm.close()
    assert plugin.closed.is_set()


def test_a_bad_options_declaration_is_reported_not_raised() -> None:
    class Misnamed(ToolOptions):
        section = "other"

    class Bad:
        @hookimpl
        def solvegraph_options(self) -> Any:
            return Misnamed

    class NotAModel:
        @hookimpl
        def solvegraph_options(self) -> Any:
            return dict

    pm = PluginManager(load_entry_points=False)
    pm.register(Bad(), "bad")
    pm.register(NotAModel(), "notamodel")
    assert "section is 'other'; it must be the plugin's name" in pm.plugins["bad"].error
    assert "must return a ToolOptions subclass" in pm.plugins["notamodel"].error
    assert pm.options_models() == {}


def test_a_missing_service_is_a_clear_lookup_error() -> None:
    class Nobody(Protocol):
        def run(self) -> None: ...

    with ToolSession() as session, pytest.raises(LookupError, match="no plugin offers the Nobody service"):
        session.service(Nobody)
