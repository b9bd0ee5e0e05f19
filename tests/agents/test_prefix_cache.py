"""Prompts a prefix cache can serve: what is fixed comes first and stays byte-identical across problems."""

from __future__ import annotations

from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from tests.families import problems, script


def test_the_simulated_cache_reports_the_longest_prefix_seen_before(scripted) -> None:
    with scripted(["ok"], prefix_cache=True) as model:
        client = ModelClient(model.base_url)
        first = client.chat([{"role": "system", "content": "a b c"}, {"role": "user", "content": "d e"}])
        second = client.chat([{"role": "system", "content": "a b c"}, {"role": "user", "content": "d f g"}])
        third = client.chat([{"role": "user", "content": "a b c"}])  # same words, another role: no prefix
        totals = model.prefix_cache
    assert totals.hits == [0, 4, 0]
    assert (first.usage.prompt_tokens, second.usage.prompt_tokens, third.usage.prompt_tokens) == (5, 6, 3)
    assert (totals.prompt_tokens, totals.cached_tokens) == (14, 4)


def test_fixed_prompt_parts_come_first_and_are_identical_across_problems(scripted) -> None:
    (q1, _), (q2, _) = problems(2)
    with scripted(script("openai"), prefix_cache=True) as model:
        runner = SolveRunner(ModelClient(model.base_url))
        runner.solve(q1)
        runner.solve(q2)
        by_agent = {a: model.calls(a) for a in ("planner", "solver", "verifier")}
    for agent, calls in by_agent.items():
        firsts = [c for c in calls if len(c["messages"]) == 2]  # each problem's opening request
        assert len(firsts) == 2, agent
        a, b = firsts
        assert a["messages"][0] == b["messages"][0], f"{agent}: the system prompt differs between problems"
        assert a.get("tools") == b.get("tools") and a.get("response_format") == b.get("response_format")
        # The problem is in the user message, after everything fixed.
        assert q1 in a["messages"][1]["content"] and q1 not in a["messages"][0]["content"]
    served = model.prefix_cache
    assert served.by_agent["solver"][1] > 0 and served.share > 0.5
