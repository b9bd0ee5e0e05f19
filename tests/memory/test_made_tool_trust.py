"""Issue 29 item 8: made tools are ranked by the trust of the answer they were made from, then by successes."""

from __future__ import annotations

import time
from pathlib import Path

from solvegraph.memory import Store, Trajectory
from solvegraph.memory.toolmaking import list_tools, tools_for
from solvegraph.types import Step, content_hash


def _solved(store: Store, problem: str, trust: str) -> str:
    """A finished, reusable trajectory of ``problem`` whose accepting verdict has ``trust``; its id."""
    t = Trajectory(problem=problem, model="m")
    store.begin(t, store.start_run("solve", "m"), config_hash="cfg")
    step = Step(agent="verifier", round=1, reply="", verdict={"accepted": True, "trust": trust})
    store.add_step(t.id, 0, step)
    t.answer, t.solved, t.status, t.trust, t.reusable = "6", True, "solved", trust, True
    t.finished_at = time.time()
    store.finish(t)
    return t.id


def _tool(name: str, problem: str, origin: str, successes: int) -> dict:
    source = f"def {name}(w, h):\n    return w * h\n"
    return {
        "name": name, "signature": f"{name}(w, h)", "docstring": "", "source": source,
        "source_hash": content_hash(source), "problem_text": problem, "origin_trajectory": origin,
        "origin_problem_hash": content_hash(problem), "successes": successes,
    }  # fmt: skip


def test_made_tools_are_ranked_by_trust_then_successes(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/m.sqlite")
    problems = {
        "model-accepted": "Area of a rectangle 2 by 3?",
        "tool-verified": "Area of a rectangle 3 by 4?",
        "cross-verified": "Area of a rectangle 4 by 5?",
    }
    origins = {trust: _solved(store, problem, trust) for trust, problem in problems.items()}
    store.add_made_tools([
        _tool("area_model", problems["model-accepted"], origins["model-accepted"], successes=9),
        _tool("area_tool", problems["tool-verified"], origins["tool-verified"], successes=1),
        _tool("area_tool_more", problems["tool-verified"], origins["tool-verified"], successes=4),
        _tool("area_cross", problems["cross-verified"], origins["cross-verified"], successes=0),
    ])  # fmt: skip
    listed = list_tools(store)
    assert [(r["name"], r["trust"]) for r in listed] == [
        ("area_cross", "cross-verified"),
        ("area_tool_more", "tool-verified"),
        ("area_tool", "tool-verified"),
        ("area_model", "model-accepted"),
    ], "trust first, then successes: nine successes of a model-accepted origin rank last"
    offered = tools_for(store, "Area of a rectangle 7 by 9?", k=4)
    assert [t.name for t in offered] == ["area_cross", "area_tool_more", "area_tool", "area_model"]
