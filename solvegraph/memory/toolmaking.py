"""Tool-making (LATM / CRAFT): functions from verified code become reusable tools.

Top-level functions defined in the python calls of a *verified* trajectory are
extracted with their source, signature and docstring, de-duplicated by normalised
source, and stored. For a new, similar problem they are loaded into the kernel and
the solver is told they exist. Each later use is counted; a tool used in a run that
fails verification loses rank.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ..types import trust_rank
from .models import MadeTool
from .store import MadeToolStore, TrajectoryStore, content_hash
from .trajectory import Trajectory


@dataclass
class Extracted:
    name: str
    signature: str
    docstring: str
    source: str
    source_hash: str


def extract_functions(code: str) -> list[Extracted]:
    """Public top-level functions of ``code`` that parse; their normalised-source hash de-duplicates."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    out = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
            continue
        source = ast.get_source_segment(code, node) or ast.unparse(node)
        normalised = ast.unparse(node)
        signature = f"{node.name}({ast.unparse(node.args)})"
        out.append(
            Extracted(
                node.name,
                signature,
                ast.get_docstring(node) or "",
                source,
                hashlib.sha256(normalised.encode()).hexdigest(),
            )
        )
    return out


def python_code(trajectory: Trajectory, *, ok_only: bool = True) -> list[str]:
    """The code of the agents' python calls (not memory's own loading of made tools)."""
    codes = []
    for step in trajectory.steps:
        if step.agent == "memory":
            continue
        results = {r.get("id"): r for r in step.tool_results}
        for call in step.tool_calls:
            if call.get("name") != "python" or not isinstance(call.get("arguments"), dict):
                continue
            if ok_only and not results.get(call.get("id"), {}).get("ok"):
                continue
            codes.append(str(call["arguments"].get("code", "")))
    return codes


def harvest(store: MadeToolStore, trajectory: Trajectory) -> list[str]:
    """Store the functions of a reusable (cross- or tool-verified, or opted-in model-accepted) trajectory."""
    if not trajectory.reusable:
        return []
    found = {
        fn.source_hash: {
            "name": fn.name,
            "signature": fn.signature,
            "docstring": fn.docstring,
            "source": fn.source,
            "source_hash": fn.source_hash,
            "problem_text": trajectory.problem[:2000],
            "origin_trajectory": trajectory.id,
            "origin_problem_hash": content_hash(trajectory.problem),
        }
        for code in python_code(trajectory)
        for fn in extract_functions(code)
    }
    return store.add_made_tools(found.values())


def tools_for(
    store: TrajectoryStore, problem: str, k: int = 3, *, exclude_dataset_id: str | None = None, min_rank: float = 0.25
) -> list[MadeTool]:
    """Made tools from the most similar verified problems; never from this problem.

    Ranked by trust first (the trust of the trajectory a tool was made from: cross-verified, tool-verified,
    model-accepted, unchecked), then by successes, then by how similar its problem is and its success rate:
    a tool from a cross-checked answer is offered before one from an answer only the model accepted."""
    h = content_hash(problem)
    similar = store.search(problem, k=10, verified_only=True, exclude_hash=h, exclude_dataset_id=exclude_dataset_id)
    texts = [hit["problem"][:2000] for hit in similar]
    if not texts:
        return []
    rows = store.made_tools_from(texts, exclude_problem_hash=h)
    order = {t: i for i, t in enumerate(texts)}
    ranked = [r for r in rows if r.rank >= min_rank]
    ranked.sort(key=lambda r: (trust_rank(r.trust), -r.successes, order.get(r.problem_text, 99), -r.rank))
    seen: set[str] = set()
    out = []
    for r in ranked:
        if r.name not in seen:
            seen.add(r.name)
            out.append(r)
    return out[:k]


def record_outcome(store: MadeToolStore, tools: list[MadeTool], trajectory: Trajectory) -> list[str]:
    """Count a use for every loaded tool the code called; success or failure by the verdict."""
    code = "\n".join(python_code(trajectory, ok_only=False))
    used = [t for t in tools if re.search(rf"\b{re.escape(t.name)}\s*\(", code)]
    if not used:
        return []
    store.count_tool_uses([t.id for t in used], succeeded=trajectory.solved)
    return [t.name for t in used]


def list_tools(store: MadeToolStore) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "signature": r.signature,
            "docstring": r.docstring,
            "uses": r.uses,
            "successes": r.successes,
            "failures": r.failures,
            "rank": round(r.rank, 3),
            "origin_trajectory": r.origin_trajectory,
            "trust": r.trust,
        }
        for r in store.made_tools()
    ]
