"""The share of prompt tokens a prefix cache can serve over a 50-problem graph run (issue 32, item 5).

    python benchmarks/prefix_cache.py [N]

The scripted endpoint (solvegraph.testing.ScriptedModel, ``prefix_cache=True``) answers like a capable
model with OpenAI tool calls and keeps a token trie of every prompt it served: each request's longest
prefix shared with an earlier one is what a prefix cache (vLLM's automatic prefix caching, llama.cpp's
prompt cache, OpenAI's prompt caching) could serve instead of computing it again. It runs
``solvegraph.benchmark(..., strategy="graph")`` over N arithmetic problems (default 50; a fresh memory, so
no retrieved examples) and prints the share overall and per agent, and the tokens no cache can serve:
each prompt's part that no earlier prompt had (the problem, the plan, the tool output).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import solvegraph
from solvegraph.testing import ScriptedModel

_QUESTION = re.compile(r"What is (\d+) \* (\d+) \+ (\d+)\?")


def _problems(n: int) -> list[tuple[str, int]]:
    out = []
    for i in range(n):
        a, b, c = 17 + 7 * i, 23 + 5 * i, 11 * i + 3
        out.append((f"What is {a} * {b} + {c}?", a * b + c))
    return out


def _solver(body: dict) -> dict | str:
    last = body["messages"][-1]
    if last.get("role") == "tool":
        return f"The program printed {last['content'].strip()}.\nANSWER: {last['content'].strip()}"
    found = _QUESTION.search(str(body["messages"][1]["content"]))
    a, b, c = found.groups() if found else ("0", "0", "0")
    code = f"a, b, c = {a}, {b}, {c}\nprint(a * b + c)"
    return {"content": None, "tool_calls": [{"name": "python", "arguments": {"code": code}}]}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    script = {
        "planner": ["1. Compute the expression in Python and print it."],
        "solver": [_solver],
        "verifier": ['{"verdict": "ACCEPT", "feedback": "The program computes the expression."}'],
    }
    with tempfile.TemporaryDirectory() as tmp, ScriptedModel(script, prefix_cache=True) as model:
        data = Path(tmp) / "set.jsonl"
        data.write_text("".join(json.dumps({"question": q, "answer": f"#### {a}"}) + "\n" for q, a in _problems(n)))
        summary = solvegraph.benchmark(
            "gsm8k", data=str(data), strategy="graph", jobs=2, base_url=model.base_url, db=f"sqlite:///{tmp}/m.sqlite"
        )
        cache = model.prefix_cache
        assert cache is not None
        print(f"{summary.n} problems, accuracy {summary.accuracy:.0%}, {cache.requests} model calls")
        print(f"prompt tokens {cache.prompt_tokens}, from the prefix cache {cache.cached_tokens}: {cache.share:.1%}")
        for agent, (prompt, cached) in sorted(cache.by_agent.items()):
            share = cached / prompt
            print(f"  {agent:9} {prompt:7} prompt tokens, {cached:7} cached ({share:.1%}), {prompt - cached} new")


if __name__ == "__main__":
    main()
