"""Plugin-contributed checks that the verifier agent runs on each attempt."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# A check gets the problem text and the attempt's tool calls, each
# {"name", "arguments", "result": ToolResult.to_dict()}, and returns None when it
# has nothing to say, or {"accepted": bool, "feedback": str}.
CheckFn = Callable[[str, list[dict[str, Any]]], "dict[str, Any] | None"]


@dataclass
class Verifier:
    name: str
    check: CheckFn
    plugin: str = ""
