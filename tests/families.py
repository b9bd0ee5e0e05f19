"""Reply shapes of the model families people run, for the scripted endpoint (solvegraph.testing.ScriptedModel).

Each family answers like the real thing served the way people serve it: the markup is what the model's
chat template makes it write, the fields are what the server puts them in. Sources of each shape:

- ``openai``: OpenAI chat completions, ``message.tool_calls`` (the baseline every other family must match).
- ``r1``: a DeepSeek-R1 distill on llama.cpp / Ollama without a reasoning parser: ``<think>…</think>`` then
  the answer in ``content`` (DeepSeek-R1 model card, "Usage Recommendations").
- ``r1-template``: the same model whose template already ends the prompt with ``<think>\\n`` (R1's
  tokenizer_config.json since 2025-02): only the closing ``</think>`` is in the content.
- ``qwen3``: Qwen3 in thinking mode with a server without a tool parser: ``<think>…</think>`` then Hermes
  ``<tool_call>{"name": …, "arguments": …}</tool_call>`` blocks (Qwen3's chat template, Qwen function-calling docs).
- ``vllm-reasoning``: vLLM with ``--reasoning-parser`` and a tool parser: ``message.reasoning_content`` and
  native ``tool_calls``.
- ``deepseek-api``: the DeepSeek API's ``deepseek-reasoner``: ``reasoning_content`` beside a text answer; a
  request that sends ``reasoning_content`` back is refused with 400 (DeepSeek API docs, "Reasoning Model").
- ``gpt-oss``: gpt-oss on vLLM / Ollama: ``message.reasoning`` and native ``tool_calls``.
- ``llama3``: Llama 3.1 with the built-in tool format: ``<|python_tag|>{"name": …, "parameters": …}``
  (Meta's Llama 3.1 prompt format, "JSON based tool calling").
- ``llama3-bare``: Llama 3.2 with the JSON tool-calling prompt: the whole reply is ``{"name": …, "parameters": …}``.
- ``mistral``: Mistral Instruct v0.3 without a tool parser: ``[TOOL_CALLS][{"name": …, "arguments": …}]``.
- ``fenced``: solvegraph's own fenced ``tool`` block, for any model that follows the prompt.

Every family but ``openai`` hides a decoy inside its reasoning (a program printing 999, an ``ANSWER: 999``,
a ``<tool_call>`` running it, a ``VERDICT: REJECT``): read as the answer, it makes every problem wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

DECOY = "999"
DECOY_CODE = f"print({DECOY})"
DECOY_THOUGHT = (
    f"Let me try a quick guess first.\n```python\n{DECOY_CODE}\n```\nANSWER: {DECOY}\n"
    f'<tool_call>\n{{"name": "python", "arguments": {{"code": "{DECOY_CODE}"}}}}\n</tool_call>\n'
    "No, that guess is not justified: I should compute it properly."
)
VERDICT_THOUGHT = "Is it right? VERDICT: REJECT would be wrong here, the program computes exactly what was asked."
_QUESTION = re.compile(r"What is (\d+) \* (\d+) \+ (\d+)\?")

FAMILIES = (
    "openai",
    "r1",
    "r1-template",
    "qwen3",
    "vllm-reasoning",
    "deepseek-api",
    "gpt-oss",
    "llama3",
    "llama3-bare",
    "mistral",
    "fenced",
)


def problems(n: int) -> list[tuple[str, int]]:
    """``n`` arithmetic problems and their answers (the data; the scripted model never reads the answers)."""
    out = []
    for i in range(n):
        a, b, c = 17 + 7 * i, 23 + 5 * i, 11 * i + 3
        out.append((f"What is {a} * {b} + {c}?", a * b + c))
    return out


def write_gsm8k(path: Any, n: int) -> None:
    """The problems as a GSM8K-format jsonl (``#### answer``), for ``solvegraph bench gsm8k --data``."""
    with open(path, "w") as fh:
        for question, answer in problems(n):
            fh.write(json.dumps({"question": question, "answer": f"Compute it.\n#### {answer}"}) + "\n")


def program_for(body: dict[str, Any]) -> str:
    """The program a capable model writes for the problem in the request."""
    text = " ".join(str(m.get("content") or "") for m in body.get("messages", []) if m.get("role") == "user")
    found = _QUESTION.search(text)
    a, b, c = found.groups() if found else ("0", "0", "0")
    return f"a, b, c = {a}, {b}, {c}\nprint(a * b + c)"


def _think(family: str, thought: str) -> tuple[str, dict[str, Any]]:
    """(a prefix for the content, extra message fields) carrying ``thought`` as ``family`` carries reasoning."""
    if family in ("r1", "qwen3"):
        return f"<think>\n{thought}\n</think>\n\n", {}
    if family == "r1-template":
        return f"{thought}\n</think>\n\n", {}
    if family in ("vllm-reasoning", "deepseek-api"):
        return "", {"reasoning_content": thought}
    if family == "gpt-oss":
        return "", {"reasoning": thought}
    return "", {}


def _call(family: str, code: str) -> dict[str, Any]:
    """The reply that asks to run ``code`` with the python tool, in the family's dialect."""
    prefix, extra = _think(family, DECOY_THOUGHT)
    args = {"code": code}
    if family in ("openai", "vllm-reasoning", "gpt-oss"):
        return {"content": prefix or None, "tool_calls": [{"name": "python", "arguments": args}], **extra}
    if family == "qwen3":
        body = json.dumps({"name": "python", "arguments": args})
        return {"content": f"{prefix}<tool_call>\n{body}\n</tool_call>", **extra}
    if family == "llama3":
        return {"content": "<|python_tag|>" + json.dumps({"name": "python", "parameters": args}), **extra}
    if family == "llama3-bare":
        return {"content": json.dumps({"name": "python", "parameters": args}), **extra}
    if family == "mistral":
        return {"content": "[TOOL_CALLS]" + json.dumps([{"name": "python", "arguments": args}]), **extra}
    if family == "fenced":
        return {"content": "```tool\n" + json.dumps({"name": "python", "arguments": args}) + "\n```", **extra}
    # r1, r1-template, deepseek-api: no tool format of their own; they write the fenced block the prompt asks for
    return {"content": f"{prefix}I will compute it.\n```python\n{code}\n```", **extra}


def _text(family: str, text: str, thought: str = DECOY_THOUGHT) -> dict[str, Any]:
    prefix, extra = _think(family, thought)
    return {"content": prefix + text, **extra}


def _output_of(body: dict[str, Any]) -> str:
    """The last line the tool printed, as the model reads it back in the conversation."""
    last = body["messages"][-1]
    text = str(last.get("content") or "")
    if last.get("role") == "user" and "Its output:" in text:
        text = text.split("Its output:", 1)[1].split("\n\nIf this answers", 1)[0]
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def _after_tool(body: dict[str, Any]) -> bool:
    last = body["messages"][-1]
    return last.get("role") == "tool" or "The code ran." in str(last.get("content") or "")


def _refuses_sent_reasoning(reply: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """The DeepSeek API's rule: reasoning_content in the input messages is a 400."""

    def check(body: dict[str, Any]) -> Any:
        if any("reasoning_content" in m for m in body.get("messages", [])):
            return {"status": 400, "message": "reasoning_content is not allowed in input messages"}
        return reply(body)

    return check


def script(family: str) -> dict[str, list[Any]]:
    """The scripted endpoint's replies, agent by agent, for one family."""

    def solver(body: dict[str, Any]) -> Any:
        if "writing one program" in str(body["messages"][0].get("content")):  # bench --strategy pal
            prefix, extra = _think(family, DECOY_THOUGHT)
            return {"content": f"{prefix}```python\n{program_for(body)}\n```", **extra}
        if _after_tool(body):
            return _text(family, f"The program printed the result.\nANSWER: {_output_of(body)}")
        return _call(family, program_for(body))

    def planner(body: dict[str, Any]) -> Any:
        return _text(family, "1. Compute the expression in Python.")

    def verifier(body: dict[str, Any]) -> Any:
        return _text(family, "VERDICT: ACCEPT\nThe program computes the expression.", VERDICT_THOUGHT)

    wrap = _refuses_sent_reasoning if family == "deepseek-api" else (lambda f: f)
    return {
        "planner": [wrap(planner)],
        "solver": [wrap(solver)],
        "verifier": [wrap(verifier)],
        "refiner": [wrap(lambda body: _text(family, "Compute the expression again."))],
    }
