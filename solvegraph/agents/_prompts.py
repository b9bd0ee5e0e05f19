"""Prompt templates live in ``prompts/*.txt``; this loads and fills them."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def template(name: str) -> str:
    return (files("solvegraph.agents") / "prompts" / f"{name}.txt").read_text(encoding="utf-8")


def render(name: str, **values: str) -> str:
    """Fill ``{key}`` slots; unknown braces in values are left alone."""
    text = template(name)
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.strip() + "\n"
