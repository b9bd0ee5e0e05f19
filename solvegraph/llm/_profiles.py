"""Model profiles: what a family of open models needs, chosen from the model's name.

A profile sets the tool-call dialect the family writes when the server has no tool parser, how its
reasoning is handled (how many tokens it may think in before a cut-off reply stops being retried, and
whether earlier reasoning goes back in later turns), and the sampling its authors recommend. Whatever
the user set (flags, environment, solvegraph.toml) wins over the profile; ``--model-profile none`` turns
profiles off, ``--model-profile NAME`` picks one whatever the name.

Adding one is adding an entry to :data:`PROFILES`: a name, the glob patterns of the model names it
covers (matched, lower-cased, against the name after any ``org/`` prefix), and what it sets.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelProfile:
    name: str
    patterns: tuple[str, ...]
    tool_mode: str = "auto"  # the dialect of calls in the content (solvegraph.llm._dialects), or auto
    resend_reasoning: str = ""  # the field earlier reasoning goes back in; "" never
    max_tokens_limit: int | None = None  # how far a cut-off reply's retries may raise max_tokens
    temperature: float | None = None
    top_p: float | None = None
    why: str = ""

    def settings(self) -> dict[str, Any]:
        """What this profile sets, by setting name (only what it has an opinion on)."""
        found = {
            "tool_mode": self.tool_mode if self.tool_mode != "auto" else None,
            "resend_reasoning": self.resend_reasoning or None,
            "max_tokens_limit": self.max_tokens_limit,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }
        return {k: v for k, v in found.items() if v is not None}


PROFILES: dict[str, ModelProfile] = {
    p.name: p
    for p in (
        ModelProfile(
            "qwen",
            ("qwen*", "qwq*"),
            tool_mode="hermes",
            max_tokens_limit=16384,
            temperature=0.6,
            top_p=0.95,
            why="Qwen2.5/Qwen3 write Hermes <tool_call> blocks; Qwen3 thinks in <think> (its card: T 0.6, top-p 0.95)",
        ),
        ModelProfile(
            "deepseek-r1",
            ("deepseek-r1*", "deepseek-reasoner*", "*r1-distill*"),
            max_tokens_limit=32768,
            temperature=0.6,
            top_p=0.95,
            why="long <think> reasoning, no tool-call format of its own; the API refuses reasoning sent back "
            "(its card: T 0.6, top-p 0.95)",
        ),
        ModelProfile(
            "llama-3",
            ("llama-3*", "llama3*", "meta-llama-3*"),
            tool_mode="llama",
            temperature=0.6,
            top_p=0.9,
            why="Llama 3.x writes <|python_tag|> or bare JSON calls (Meta's defaults: T 0.6, top-p 0.9)",
        ),
        ModelProfile(
            "mistral",
            ("mistral*", "ministral*", "mixtral*", "magistral*", "devstral*"),
            tool_mode="mistral",
            temperature=0.15,
            why="Mistral writes [TOOL_CALLS] calls; Mistral recommends a low temperature (0.15)",
        ),
        ModelProfile(
            "gpt-oss",
            ("gpt-oss*",),
            resend_reasoning="reasoning",
            max_tokens_limit=16384,
            temperature=1.0,
            top_p=1.0,
            why="OpenAI tool calls through the harmony parser; its reasoning goes back with its tool calls "
            "(OpenAI's defaults: T 1.0, top-p 1.0)",
        ),
    )
}


def profile_for(model: str, choice: str = "auto") -> ModelProfile | None:
    """The profile ``choice`` names, or with ``auto`` the first whose pattern matches ``model``; None for none."""
    if choice == "none":
        return None
    if choice != "auto":
        return PROFILES[choice]
    name = model.rsplit("/", 1)[-1].lower()
    return next((p for p in PROFILES.values() if any(fnmatch.fnmatchcase(name, g) for g in p.patterns)), None)
