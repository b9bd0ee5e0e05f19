"""Reasoning kept apart from the answer.

Reasoning models think before they answer, and servers hand that thinking back in one of three shapes:

- in the content, between ``<think>`` and ``</think>`` (DeepSeek-R1 distills, Qwen3 in thinking mode,
  llama.cpp and Ollama without a reasoning parser), or ``<thinking>`` tags;
- in the content after a prompt that already opened the block: only the closing ``</think>`` is there
  (DeepSeek-R1's chat template ends the prompt with ``<think>\\n``);
- in a field beside the content: ``reasoning_content`` (vLLM's reasoning parsers, the DeepSeek API) or
  ``reasoning`` (vLLM's newer name, OpenRouter, Ollama).

Reasoning is a draft: it holds trial programs and trial answers the model may reject a line later. None of
it may be run or read as the answer, so it is cut out of the content here, before anything parses it.
A block that never closes means the reply ended while the model was still thinking (usually at
``max_tokens``): what comes after its opening is reasoning, and the reply has no answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"<(think|thinking)>", re.I)
_CLOSE = {"think": re.compile(r"</think>", re.I), "thinking": re.compile(r"</thinking>", re.I)}
_LONE_CLOSE = re.compile(r"</(?:think|thinking)>", re.I)


@dataclass
class Split:
    """A reply's content taken apart: what the model answered, what it thought, and whether it stopped thinking."""

    text: str
    reasoning: str
    unterminated: bool = False  # the reply ended inside a reasoning block: it has no answer


def split_reasoning(content: str, field: str = "") -> Split:
    """Take the reasoning blocks out of ``content``; ``field`` is the server's separate reasoning, if any.

    The parts of the reasoning are joined in the order they came, the field's first (the server took
    it from before the content).
    """
    parts = [field.strip()] if field and field.strip() else []
    text = content or ""
    # A closing tag before any opening one: the prompt opened the block (DeepSeek-R1's template).
    lone = _LONE_CLOSE.search(text)
    opened = _OPEN.search(text)
    if lone and (opened is None or lone.start() < opened.start()):
        parts.append(text[: lone.start()].strip())
        text = text[lone.end() :]
    kept: list[str] = []
    unterminated = False
    while True:
        opened = _OPEN.search(text)
        if opened is None:
            kept.append(text)
            break
        kept.append(text[: opened.start()])
        closing = _CLOSE[opened.group(1).lower()].search(text, opened.end())
        if closing is None:
            parts.append(text[opened.end() :].strip())
            unterminated = True
            break
        parts.append(text[opened.end() : closing.start()].strip())
        text = text[closing.end() :]
    answer = "" if unterminated else "".join(kept).strip()
    return Split(text=answer, reasoning="\n\n".join(p for p in parts if p), unterminated=unterminated)
