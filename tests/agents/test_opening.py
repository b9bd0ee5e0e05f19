"""A new solve's first model request goes out before LangGraph is loaded (issue 30 item 5), and changes
nothing in the record: the planner takes the reply of the request sent for it, never asks twice."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from solvegraph.agents import Budget, SolveContext
from solvegraph.agents._context import Opening
from solvegraph.llm import ModelClient
from solvegraph.plugins import ToolSession

# In a fresh process: note whether LangGraph was loaded as each request went out (a spy that calls
# through), then solve the same problem twice: the first solve compiles the graph (the opening request),
# the second finds it compiled (the planner asks from inside the graph).
TWICE = """
import json, sys
from solvegraph.llm import _http

loaded = []
real = _http.AsyncHTTP.request

async def spy(self, method, path, body=None):
    loaded.append("langgraph" in sys.modules)
    return await real(self, method, path, body)

_http.AsyncHTTP.request = spy
from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient

runner = SolveRunner(ModelClient(sys.argv[1]))
runs = []
for _ in range(2):
    events = []
    t = runner.solve("What is 6*7?", on_event=events.append)
    runs.append({
        "answer": t.answer, "status": t.status,
        "steps": [[s.agent, s.round, s.messages, s.reply, s.usage.prompt_tokens, s.usage.completion_tokens, s.model]
                  for s in t.steps],
        "events": [[e.kind, e.agent, e.round, e.data] for e in events],
    })
print(json.dumps({"loaded": loaded, "runs": runs}, default=str))
"""


def test_the_first_request_goes_out_before_langgraph_loads_and_the_record_is_the_same(scripted) -> None:
    # No code run, so no verifier model: the solver's answer is checked mechanically, and the budget decides.
    script = {"planner": ["1. multiply"], "solver": ["ANSWER: 42"]}
    with scripted(script) as model:
        proc = subprocess.run(
            [sys.executable, "-c", TWICE, model.base_url], capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        asked = [len(model.calls(role)) for role in ("planner", "solver", "verifier")]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["loaded"][0] is False, "the planner's request was sent before LangGraph was imported"
    assert all(found["loaded"][1:]), "the requests after it come from the graph"
    assert asked[0] == 2, "one planner request per solve: the opening reply was taken, not asked again"
    first, second = found["runs"]
    assert first["answer"] == "42" and [s[0] for s in first["steps"]][:2] == ["planner", "solver"]
    assert first == second, "the solve that sent its request early recorded what the other did"


def test_an_opening_that_is_not_the_request_asked_is_cancelled_not_used(scripted) -> None:
    with scripted({"planner": ["1. plan"]}) as model:
        client = ModelClient(model.base_url)

        async def run() -> tuple[object, object]:
            try:
                with ToolSession() as session:
                    ctx = SolveContext(client=client, tools={}, session=session, budget=Budget())
                    opening = Opening(ctx, "What is 6*7?", "")
                    other = [{"role": "user", "content": "something else"}]
                    taken = opening.take(client, other, None, opening.max_tokens, None)
                    again = opening.take(client, opening.messages, None, opening.max_tokens, None)
                    await asyncio.sleep(0)
                    return taken, again
            finally:
                await client.aclose()

        taken, again = asyncio.run(run())
    assert taken is None, "a different request does not get the opening's reply"
    assert again is None, "the opening is given once at most, and a discarded one is gone"
