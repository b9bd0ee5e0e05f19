"""Ways to answer a benchmark sample, compared on the same run.

- ``direct``: one model call, no tools (the baseline every tool-using method must beat);
- ``pal``: one program, run once in the kernel (PAL / program-aided);
- ``graph``: the full planner/solver/verifier/refiner.

For code datasets (MBPP) the answer is the code itself, scored by the task's tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

# The agents' package loads its names on first use: direct and pal take these without the graph (LangGraph).
from ..agents import SolveRequest, recorded
from ..agents import render_prompt as render
from ..agents.answer import answer_from_output, code_blocks, explicit_answer, normalize
from ..errors import SolvegraphError
from ..memory import Step, Trajectory
from ..memory.toolmaking import python_code
from ..plugins import Blocking, PluginManager, ToolSession
from ..types import STRATEGIES
from .datasets import Sample

if TYPE_CHECKING:
    from ..agents import SolveRunner

StepSink = Callable[[Trajectory, Step], None]
# Runs blocking work (a kernel cell, a solver) off the event loop, in a pool sized for it.


def _record(trajectory: Trajectory, step: Step, sink: StepSink | None) -> None:
    trajectory.steps.append(step)
    if sink:
        sink(trajectory, step)


async def _ask(client: Any, system: str, question: str) -> tuple[list[dict[str, Any]], Any]:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    return messages, await client.achat(messages)


async def run_direct(
    client: Any, sample: Sample, trajectory: Trajectory, sink: StepSink | None, code: bool, draws: Any = None
) -> None:
    """One model call on the event loop; no thread is held while the endpoint answers. With ``draws`` (a
    :class:`._draws.Draws`), an epoch's reply may come from one request for all its problem's epochs."""
    started = time.perf_counter()
    if draws is None:
        messages, reply = await _ask(client, render("code" if code else "direct"), sample.question)
    else:
        messages = [
            {"role": "system", "content": render("code" if code else "direct")},
            {"role": "user", "content": sample.question},
        ]
        reply = await draws.take(client, str(sample.metadata.get("problem") or sample.id), messages)
    _record(
        trajectory,
        Step(
            "solver",
            1,
            messages,
            **recorded(reply),
            timings={"model_s": reply.duration_s, "total_s": time.perf_counter() - started},
        ),
        sink,
    )
    blocks = code_blocks(reply.text)
    trajectory.answer = ("\n\n".join(blocks) if blocks else None) if code else normalize(explicit_answer(reply.text))


async def run_pal(
    client: Any,
    plugins: PluginManager,
    sample: Sample,
    trajectory: Trajectory,
    session: ToolSession,
    sink: StepSink | None,
    code: bool,
    blocking: Blocking,
) -> None:
    """The model call and the program's cell on the event loop (the kernel's asyncio client); a python tool
    without one (a plugin's replacement) runs through ``blocking``, a bounded pool."""
    started = time.perf_counter()
    messages, reply = await _ask(client, render("code" if code else "pal"), sample.question)
    step = Step("solver", 1, messages, **recorded(reply))
    blocks = code_blocks(reply.text)
    tool_s = 0.0
    if blocks:
        program = "\n\n".join(blocks)
        result = await plugins.tools()["python"].arun({"code": program}, session, blocking)
        tool_s = result.duration_s
        step.tool_calls.append({"id": "pal", "name": "python", "arguments": {"code": program}})
        step.tool_results.append({"id": "pal", "name": "python", **result.to_dict()})
        if code:
            trajectory.answer = program
        elif result.ok:
            trajectory.answer = normalize(answer_from_output(result.output))
    step.timings = {"model_s": reply.duration_s, "tool_s": tool_s, "total_s": time.perf_counter() - started}
    _record(trajectory, step, sink)


async def run_graph(
    graph: SolveRunner,
    sample: Sample,
    trajectory: Trajectory,
    session: ToolSession,
    sink: StepSink | None,
    code: bool,
    blocking: Blocking,
) -> None:
    """The four agents on the event loop (LangGraph's ``astream``); their tool work goes to ``blocking``."""
    request = SolveRequest(
        problem=sample.question, session=session, trajectory=trajectory, dataset_id=sample.id, blocking=blocking
    )
    stream = graph.astream(request)
    async for item in stream:
        if isinstance(item, Step) and sink is not None:
            sink(trajectory, item)
    if code:
        codes = python_code(trajectory)
        trajectory.answer = codes[-1] if codes else None


def check_strategy(name: str) -> None:
    if name not in STRATEGIES:
        raise SolvegraphError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
