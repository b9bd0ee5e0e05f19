"""A plugin's own options: a pydantic model, filled from ``[tools.NAME]``, the environment and ``--tool-opt``.

The settings layer (``config.py``) only gathers what was given for each plugin, as text or TOML values; the
plugin's model gives them types, defaults and bounds. So an outside plugin is configured exactly like a
built-in one, and a wrong value is one line naming the plugin, the option and the reason.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, TypeVar

import pydantic

from ..errors import ConfigError


class ToolOptions(pydantic.BaseModel):
    """Base of a plugin's options model. Subclass it, set ``section`` to the plugin's name (the entry-point
    name: ``[tools.NAME]``), and give each option a type, a default and a ``Field(description=...)``.

    Unknown keys are refused (a typo must not pass silently), and strings from the environment or
    ``--tool-opt`` are converted to the declared types.
    """

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    section: ClassVar[str] = ""


OptionsT = TypeVar("OptionsT", bound=ToolOptions)


def build_options(model: type[OptionsT], values: dict[str, Any]) -> OptionsT:
    """``model`` from ``values``; a :class:`ConfigError` naming each bad option when they do not fit."""
    try:
        return model.model_validate(values)
    except pydantic.ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False, include_context=False):
            where = ".".join(str(p) for p in err["loc"]) or "(options)"
            if err["type"] == "extra_forbidden":
                known = ", ".join(model.model_fields) or "none"
                problems.append(f"{where}: unknown option (known: {known})")
            else:
                problems.append(f"{where}: {err['msg']}")
        raise ConfigError(f"[tools.{model.section}] " + "; ".join(problems)) from None


def describe_options(model: type[ToolOptions]) -> list[dict[str, Any]]:
    """Each option of ``model`` as ``{name, type, default, description}``, for ``plugins list``."""
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        shown = getattr(annotation, "__name__", None) if not getattr(annotation, "__args__", None) else None
        rows.append(
            {
                "name": name,
                "type": shown or str(annotation).replace("typing.", ""),
                "default": None if info.is_required() else _jsonable(info.get_default(call_default_factory=True)),
                "required": info.is_required(),
                "description": info.description or "",
            }
        )
    return rows


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value
