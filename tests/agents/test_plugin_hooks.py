"""Plugin verifiers and prompt fragments, registered in-process, shape the graph's behaviour."""

from __future__ import annotations

from solvegraph.agents import Budget, SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.plugins import PluginManager, Verifier, hookimpl

CODE = "```python\nprint({expr})\n```"


class EvenOnly:
    """A plugin whose verifier rejects odd printed results."""

    @hookimpl
    def solvegraph_verifiers(self):
        def check(problem, results):
            last = results[-1]["result"]["output"].strip() if results else ""
            if last.lstrip("-").isdigit() and int(last) % 2:
                return {"accepted": False, "feedback": f"{last} is odd; the answer must be even"}
            return {"accepted": True, "feedback": "even"}

        return [Verifier(name="even", check=check)]

    @hookimpl
    def solvegraph_prompt_fragments(self):
        return {"solver": "Answers are always even numbers.", "verifier": "Reject odd answers."}


class Broken:
    @hookimpl
    def solvegraph_verifiers(self):
        def check(problem, results):
            raise ValueError("bug in check")

        return [Verifier(name="broken", check=check)]


def test_plugin_verifier_rejection_drives_the_refiner(scripted) -> None:
    plugins = PluginManager()
    plugins.register(EvenOnly(), "even_only")
    plugins.register(Broken(), "broken_verifier")
    script = {
        "planner": ["p"],
        "solver": [CODE.format(expr="41"), "ANSWER: 41", CODE.format(expr="42"), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["make it even"],
    }
    with scripted(script) as model:
        t = SolveRunner(ModelClient(model.base_url), plugins, Budget()).solve("An even number near 41?")
        solver_system = model.calls("solver")[0]["messages"][0]["content"]
        refiner_prompt = model.calls("refiner")[0]["messages"][1]["content"]
    verdicts = [s.verdict for s in t.steps if s.agent == "verifier"]
    assert verdicts[0]["source"] == "verifier:even" and "41 is odd" in verdicts[0]["feedback"]
    assert "41 is odd" in refiner_prompt
    assert verdicts[1]["accepted"] and "even: even" in verdicts[1]["checks"]
    assert any("broken: check failed: ValueError" in c for c in verdicts[1]["checks"])
    assert "Answers are always even numbers." in solver_system
    assert t.solved and t.answer == "42"
