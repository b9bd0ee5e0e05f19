"""Resuming in a fresh kernel: the python cells a checkpoint recorded as run are run again, in order."""

from __future__ import annotations

from ..plugins import PluginManager, ToolSession
from ..types import Step


def replay_cells(plugins: PluginManager, steps: list[Step], session: ToolSession) -> Step | None:
    """Run again the python cells ``steps`` ran successfully, so the variables and functions later cells
    use exist again; the replay is one step (None when there was nothing to replay). A cell with outside
    effects (time, random numbers, files) may give a different value the second time."""
    python = plugins.tools().get("python")
    cells = [
        call["arguments"]["code"]
        for step in steps
        for call, result in zip(step.tool_calls, step.tool_results, strict=False)
        if call.get("name") == "python" and result.get("ok") and isinstance(call.get("arguments"), dict)
    ]
    if python is None or not cells:
        return None
    step = Step(agent="runner", round=0)
    failed = 0
    for i, code in enumerate(cells):
        result = python.run({"code": code}, session)
        failed += not result.ok
        step.tool_calls.append({"id": f"replay_{i}", "name": "python", "arguments": {"code": code}})
        step.tool_results.append({"id": f"replay_{i}", "name": "python", **result.to_dict()})
    step.reply = f"resumed in a fresh kernel: the {len(cells)} python cell(s) that had run were replayed" + (
        f"; {failed} failed the second time" if failed else ""
    )
    return step


__all__ = ["replay_cells"]
