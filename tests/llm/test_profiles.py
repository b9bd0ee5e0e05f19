"""Model profiles: chosen from the model's name or by --model-profile; what the user set wins."""

from __future__ import annotations

import json

import pytest

from solvegraph.config import load_settings
from solvegraph.llm import make_client
from solvegraph.llm._profiles import PROFILES, profile_for
from tests.conftest import run_cli
from tests.families import problems, script


@pytest.mark.parametrize(
    ("model", "profile"),
    [
        ("Qwen/Qwen3-8B", "qwen"),
        ("qwen2.5:7b-instruct", "qwen"),
        ("QwQ-32B", "qwen"),
        ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "deepseek-r1"),
        ("deepseek-reasoner", "deepseek-r1"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama-3"),
        ("llama3.2:3b", "llama-3"),
        ("mistralai/Mistral-7B-Instruct-v0.3", "mistral"),
        ("openai/gpt-oss-20b", "gpt-oss"),
        ("gpt-4o-mini", None),
        ("scripted", None),
    ],
)
def test_a_profile_is_chosen_from_the_model_name(model: str, profile: str | None) -> None:
    found = profile_for(model)
    assert (found.name if found else None) == profile
    assert profile_for(model, "none") is None and profile_for(model, "mistral") is PROFILES["mistral"]


def test_the_profile_sets_dialect_and_sampling_but_not_what_the_user_set(scripted, tmp_path) -> None:
    with scripted(["ANSWER: 1"], model="Qwen3-8B") as model:
        client = make_client(load_settings({"base_url": model.base_url}, env={}))
        client.chat([{"role": "user", "content": "hi"}])
        sent = model.requests[-1]
        toml = tmp_path / "solvegraph.toml"
        toml.write_text('[solvegraph]\ntemperature = 0.0\ntool_mode = "fenced"\n')
        mine = make_client(load_settings({"base_url": model.base_url}, config_file=toml, env={}))
        off = make_client(load_settings({"base_url": model.base_url, "model_profile": "none"}, env={}))
    assert client.profile == "qwen" and client.dialect == "hermes" and client.max_tokens_limit == 16384
    assert (sent["temperature"], sent["top_p"]) == (0.6, 0.95)
    assert mine.profile == "qwen" and (mine.temperature, mine.dialect, mine.top_p) == (0.0, "fenced", 0.95)
    assert off.profile == "" and off.top_p is None and off.dialect is None and off.temperature == 0.0


def test_a_profile_forced_on_a_model_of_another_name(scripted) -> None:
    """A Qwen model served under a name of the operator's choosing: --model-profile qwen reads its calls."""
    question, gold = problems(1)[0]
    with scripted(script("qwen3"), model="house-model") as model:
        proc = run_cli(
            "solve", question, "--json", "--no-memory", "--base-url", model.base_url, "--model-profile", "qwen"
        )
        top_p = {r.get("top_p") for r in model.requests}
    assert proc.returncode == 3, proc.stderr
    assert json.loads(proc.stdout)["answer"] == str(gold) and top_p == {0.95}


def test_an_unknown_profile_is_one_line(scripted) -> None:
    with scripted(["ANSWER: 1"]) as model:
        proc = run_cli("solve", "What is 1+1?", "--base-url", model.base_url, "--model-profile", "gpt-5")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'gpt-5' is not a profile" in proc.stderr and "deepseek-r1" in proc.stderr


def test_the_python_api_takes_the_profile_too(scripted) -> None:
    import solvegraph

    question, gold = problems(1)[0]
    with scripted(script("mistral"), model="house-model") as model:
        t = solvegraph.solve(question, base_url=model.base_url, memory=False, model_profile="mistral")
        temperatures = {r.get("temperature") for r in model.requests}
    assert t.answer == str(gold) and temperatures == {0.15}
