"""DCP-Bench-Open: discrete combinatorial problems, each answer checked against the gold CPMpy model.

The dataset is a folder of ``NAME/NAME.cpmpy.py`` scripts (as the repository keeps them, and as
``solvegraph data get dcp_bench_open`` fetches them), or the release's ``dcp-bench-open.jsonl`` (its
``id``, ``description``, ``example_instance`` and ``model`` fields). Each script holds the problem
statement (its first docstring, ending with what to print and under which keys), the example
instance's data (``# Data`` ... ``# End of data``) and the gold model. As in DCP-Bench-Open's own
evaluation, the example instance is the one asked.

The answer is the solution as one JSON object. The ``dcp`` scorer reads it (from the final answer, or
else from the last JSON object a tool printed in the run) and has :mod:`._dcpcheck` judge it in a
sandboxed worker: the gold model with the answer's values fixed must stay satisfiable and keep its
optimum. Parsing here is text only: nothing of a script runs in solvegraph's process.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

from ..types import Score
from ._dcpcheck import TIME_LIMIT_S, WARM, last_json_object
from ._pool import pool_of
from .datasets import DatasetError, Loaded, Sample, load_jsonl

CALL = "solvegraph.bench._dcpcheck:check"
MEMORY_MB = 4096  # a gold model and OR-Tools' CP-SAT
MAX_WORKERS = 4

_DOCSTRING = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.S)
_DATA = re.compile(r"# Data(.*?)# End of data", re.S | re.I)
_TIMEOUT = re.compile(r"^#\s*Timeout:\s*(\d+)\s*$", re.M | re.I)  # a header line: this model's own solve needs longer


def decision_variables(description: str) -> list[str]:
    """The keys the statement asks for: the names in parentheses after its last "Print" (as
    DCP-Bench-Open's ``jsonl_convert.py`` reads them), sorted; empty if it names none."""
    at = description.rfind("Print")
    if at < 0:
        return []
    names = {v.strip() for group in re.findall(r"\((.*?)\)", description[at + 5 :]) for v in group.split(",")}
    return sorted(n for n in names if n)


def parse_script(text: str) -> tuple[str, str, str]:
    """(description, the example instance's data, the gold script) of one ``NAME.cpmpy.py``."""
    found = _DOCSTRING.search(text)
    if not found:
        raise ValueError("no problem description (a docstring) in the script")
    description = (found.group(1) or found.group(2) or "").strip()
    if not description:
        raise ValueError("the problem description is empty")
    script = text[found.end() :].strip() + "\n"
    data = _DATA.search(script)
    return description, data.group(1).strip() if data else "", script


def question(description: str, data: str) -> str:
    keys = decision_variables(description)
    parts = [description]
    if data:
        parts.append(f"The data of this instance (Python):\n```python\n{data}\n```")
    wanted = f" with exactly the keys {', '.join(keys)}" if keys else ""
    parts.append(
        f"Give the solution as one JSON object{wanted}: integers or booleans, lists (of lists) for arrays, "
        'on one line, e.g. ANSWER: {"x": [1, 2]}. It is checked against a reference model of the problem.'
    )
    return "\n\n".join(parts)


def _sample(
    problem: str, description: str, data: str, script: str, meta: dict[str, Any], timeout: int | None = None
) -> Sample:
    gold: dict[str, Any] = {"problem": problem, "script": script, "keys": decision_variables(description)}
    if timeout:
        gold["timeout"] = timeout
    return Sample(f"dcp-{problem}", question(description, data), gold, meta)


def _row(record: dict[str, Any], line: int) -> Sample:
    """One line of the release's ``dcp-bench-open.jsonl``: the gold is its example instance + model."""
    problem, description, model = record["id"], record["description"], record["model"]
    data = record.get("example_instance") or ""
    if not all(isinstance(v, str) and v.strip() for v in (problem, description, model)):
        raise ValueError("id, description and model must be non-empty text")
    if not isinstance(data, str):
        raise ValueError("example_instance must be text")
    metadata = record.get("metadata")
    header = _TIMEOUT.search("\n".join(metadata)) if isinstance(metadata, list) else None
    timeout = int(header.group(1)) if header else None
    return _sample(problem, description, data, f"{data}\n{model}\n", {"line": line}, timeout)


def read_dcp(path: Path) -> Loaded:
    """A folder of ``NAME/NAME.cpmpy.py`` scripts (the repository's ``dataset/``), or the release's JSONL."""
    if path.is_file():
        return load_jsonl(path, _row)
    samples, skipped = [], []
    for script_path in sorted(path.glob("*/*.cpmpy.py")):
        problem = script_path.name.removesuffix(".cpmpy.py")
        try:
            text = script_path.read_text(encoding="utf-8")
            description, data, script = parse_script(text)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            skipped.append(f"{script_path}:1: {exc}")
            continue
        header = _TIMEOUT.search(text[: text.find(description)])
        timeout = int(header.group(1)) if header else None
        samples.append(_sample(problem, description, data, script, {"file": str(script_path)}, timeout))
    if not samples and not skipped:
        raise DatasetError(f"{path}: no DCP-Bench-Open problems (NAME/NAME.cpmpy.py) in this folder")
    return Loaded(samples, skipped)


def needs_cpmpy(options: dict[str, Any]) -> None:
    if importlib.util.find_spec("cpmpy") is None:
        raise DatasetError(
            "DCP-Bench-Open's answers are checked against its CPMpy models, and cpmpy is not installed: "
            "pip install 'solvegraph[dcp]'"
        )


def _tool_json(trajectory: dict[str, Any] | None) -> dict[str, Any]:
    """The last JSON object a tool printed in the run (a program that printed its solution)."""
    for step in reversed((trajectory or {}).get("steps", [])):
        for result in reversed(step.get("tool_results", [])):
            output = result.get("output")
            if isinstance(output, str) and "{" in output:
                found = last_json_object(output)
                if found:
                    return found
    return {}


def dcp_score(
    prediction: str | None,
    gold: Any,
    trajectory: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> Score:
    """The answer's assignment added to the gold CPMpy model, in a sandboxed worker: right when the model
    stays satisfiable and keeps its optimum. Wrong, with the reason kept, when there is no JSON object,
    when the keys or values do not fit, or when the check runs past its time limit."""
    if not isinstance(gold, dict) or not isinstance(gold.get("script"), str):
        return Score(False, {"error": "the sample has no gold CPMpy model"})
    answer = last_json_object(prediction or "")
    source = "the final answer"
    if not answer:
        answer, source = _tool_json(trajectory), "the last JSON object a tool printed"
    if not answer:
        return Score(False, {"reason": "no solution: the answer holds no JSON object"})
    options = options or {}
    # per solve: the run's setting, or longer where the problem's header asks for it (# Timeout: 120)
    limit = max(float(options.get("dcp_timeout", TIME_LIMIT_S)), float(gold.get("timeout") or 0))
    pool = pool_of(CALL, WARM, str(options.get("sandbox", "auto")), MEMORY_MB, MAX_WORKERS)
    deadline = 2 * limit + 30  # two solves (the gold's own, then with the answer fixed) and the imports
    kind, value = pool.run(gold["script"], answer, limit, time_limit_s=deadline)
    if kind == "ok":
        detail = {k: v for k, v in value.items() if k != "correct"} | {"answer_from": source}
        return Score(bool(value["correct"]), detail)
    if kind == "error":  # the gold script itself failed
        return Score(False, {"error": f"the gold model could not be run: {value}"})
    if kind == "timeout":
        return Score(False, {"reason": f"the check ran past its time limit ({deadline:g} s); its worker was stopped"})
    if kind == "memory":
        return Score(False, {"reason": f"the check crashed or ran out of memory ({MEMORY_MB} MB): {value}"})
    return Score(False, {"reason": f"the check failed: {value}", "answer": json.dumps(answer)[:200]})
