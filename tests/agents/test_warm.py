"""SolveRunner.warm_tools: the tools' warm-up starts once, and only when the python tool is offered.

A stand-in plugin offers a tool named ``python`` and records its warm hook (the real python plugin would
boot a kernel template; its warm-up is tested in tests/tools)."""

from __future__ import annotations

import threading

from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.plugins import PluginManager, ToolSession, hookimpl, tool


@tool(name="python")
def python_stand_in(code: str) -> str:
    """Run code (a stand-in).

    Args:
        code: Ignored.
    """
    return ""


@tool()
def other(x: str) -> str:
    """Another tool.

    Args:
        x: Ignored.
    """
    return x


class Recorder:
    def __init__(self) -> None:
        self.warmed: list[int] = []

    @hookimpl
    def solvegraph_tools(self) -> list:
        return [python_stand_in, other]

    @hookimpl
    def solvegraph_warm(self, session: ToolSession, concurrency: int) -> None:
        self.warmed.append(concurrency)


def _runner(offered: list[str] | None) -> tuple[SolveRunner, Recorder]:
    plugins, recorder = PluginManager(load_entry_points=False), Recorder()
    plugins.register(recorder, "recorder")
    if offered is not None:
        plugins.restrict(offered)
    return SolveRunner(ModelClient("http://127.0.0.1:9/v1", model="m"), plugins, warm=True), recorder


def _warm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sg-warm"]


def test_the_tools_warm_once_when_the_python_tool_is_offered() -> None:
    runner, recorder = _runner(None)
    runner.warm_tools()
    runner.warm_tools()
    for thread in _warm_threads():
        thread.join(timeout=60)
    assert recorder.warmed == [1]


def test_no_warm_up_when_the_python_tool_is_not_offered() -> None:
    runner, recorder = _runner(["other"])
    runner.warm_tools()
    assert not _warm_threads() and recorder.warmed == []
