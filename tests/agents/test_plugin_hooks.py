"""Plugin verifiers and prompt fragments, registered in-process, shape the graph's behaviour."""

from __future__ import annotations

from solvegraph.agents import Budget, SolveRunner
from solvegraph.llm import ModelClient
from solvegraph.plugins import CertificateChecker, PluginManager, Verifier, hookimpl

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


class Certified:
    """A plugin whose verifier accepts 42 with a certificate of its own kind, and 41 without one."""

    @hookimpl
    def solvegraph_verifiers(self):
        def check(problem, results):
            last = results[-1]["result"]["output"].strip() if results else ""
            if last == "42":
                return {"accepted": True, "feedback": "checked", "certificate": {"kind": "answer", "claim": {"x": 42}}}
            return {"accepted": True, "feedback": "checked, no certificate"}

        return [Verifier(name="certified", check=check)]

    @hookimpl
    def solvegraph_certificate_checkers(self):
        return [CertificateChecker("answer", "json:loads")]


def _accepting(scripted, expr: str) -> dict:
    plugins = PluginManager()
    plugins.register(Certified(), "certified")
    script = {"planner": ["p"], "solver": [CODE.format(expr=expr), f"ANSWER: {expr}"], "verifier": ["VERDICT: ACCEPT"]}
    with scripted(script) as model:
        t = SolveRunner(ModelClient(model.base_url), plugins, Budget()).solve("A number?")
    return {"t": t, "verdict": [s.verdict for s in t.steps if s.agent == "verifier"][-1]}


def test_an_accepting_check_without_a_certificate_does_not_make_an_answer_tool_verified(scripted) -> None:
    got = _accepting(scripted, "41")
    verdict, t = got["verdict"], got["t"]
    assert verdict["accepted"] and verdict["trust"] == "model-accepted" and t.trust == "model-accepted"
    assert "verified_by" not in verdict and "certificates" not in verdict and t.certificates == []
    assert any("certified: accepted, but issued no certificate" in c for c in verdict["checks"])


def test_an_accepting_check_with_a_certificate_of_a_checked_kind_makes_it_tool_verified(scripted) -> None:
    got = _accepting(scripted, "42")
    verdict, t = got["verdict"], got["t"]
    assert verdict["trust"] == "tool-verified" and verdict["verified_by"] == ["certified"]
    (cert,) = t.certificates
    assert verdict["certificates"] == [cert.id] and cert.kind == "answer" and cert.verifier == "certified"
    assert cert.answer == "42" and cert.trajectory_id == t.id and cert.claim == {"x": 42}


class AnswerAware:
    """An outside plugin's verifier that asks for the answer (``answer=True``) and rejects one it dislikes."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    @hookimpl
    def solvegraph_verifiers(self):
        def check(problem, results, answer):
            self.seen.append(answer)
            if answer != "42":
                return {"accepted": False, "feedback": f"the answer {answer} is not 42"}
            return {"feedback": "the answer is 42"}

        return [Verifier(name="answer-aware", check=check, answer=True)]


def test_a_verifier_that_asks_for_the_answer_gets_it_and_two_argument_checks_still_run(scripted) -> None:
    plugins = PluginManager()
    aware = AnswerAware()
    plugins.register(aware, "answer_aware")
    plugins.register(EvenOnly(), "even_only")
    script = {
        "planner": ["p"],
        "solver": [CODE.format(expr="40"), "ANSWER: 40", CODE.format(expr="42"), "ANSWER: 42"],
        "verifier": ["VERDICT: ACCEPT"],
        "refiner": ["try 42"],
    }
    with scripted(script) as model:
        t = SolveRunner(ModelClient(model.base_url), plugins, Budget()).solve("The answer?")
    verdicts = [s.verdict for s in t.steps if s.agent == "verifier"]
    assert aware.seen == ["40", "42"]
    assert verdicts[0]["source"] == "verifier:answer-aware" and "40 is not 42" in verdicts[0]["feedback"]
    assert "answer-aware: the answer is 42" in verdicts[1]["checks"] and "even: even" in verdicts[1]["checks"]
    assert t.solved and t.answer == "42"
