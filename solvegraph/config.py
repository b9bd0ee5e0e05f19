"""Where settings come from: CLI flags, then environment, then solvegraph.toml.

A single :class:`Settings` object is resolved once per command so that every part
of the run (model client, kernel pool, budgets) reads the same values.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError

ENV_VARS = {
    "model": "SOLVEGRAPH_MODEL",
    "base_url": "SOLVEGRAPH_BASE_URL",
    "api_key": "OPENAI_API_KEY",
    "model_path": "SOLVEGRAPH_MODEL_PATH",
    "lean_path": "SOLVEGRAPH_LEAN",
    "lean_project": "SOLVEGRAPH_LEAN_PROJECT",
    "db": "SOLVEGRAPH_DB",
    "sandbox": "SOLVEGRAPH_SANDBOX",
}


@dataclass
class Settings:
    """Resolved settings for one run. ``base_url=None`` means: use the embedded model."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    model_path: str | None = None
    request_timeout: float = 120.0
    max_retries: int = 3
    max_rounds: int = 3
    max_tool_calls: int = 8
    cell_timeout: float = 30.0
    kernel_memory_mb: int = 4096
    temperature: float = 0.0
    samples_temperature: float | None = 0.7  # used instead of temperature when --samples > 1

    max_tokens: int = 1024
    tool_mode: str = "auto"  # auto | native | text
    lean_path: str | None = None  # a lean executable
    lean_project: str | None = None  # a Lake project (for Mathlib): runs `lake env lean`
    lean_timeout: float = 60.0
    lean_memory_mb: int = 4096
    db: str | None = None  # SQLAlchemy URL of the memory; default: a SQLite file in the user data folder
    memory: bool = True  # store trajectories and reuse them (retrieval, made tools)
    cache: bool = True  # exact cache: same problem + configuration reuses a verified answer
    # Only tool-verified answers teach later runs (examples, cache, made tools) unless this is on.
    reuse_model_accepted: bool = False
    sandbox: str = "auto"  # auto | bwrap | none: how model-written code is isolated (solvegraph.sandbox)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def uses_embedded(self) -> bool:
        return not self.base_url

    def session_options(self) -> dict[str, object]:
        """What tools read from their session: limits and toolchain locations."""
        keys = (
            "cell_timeout",
            "kernel_memory_mb",
            "lean_path",
            "lean_project",
            "lean_timeout",
            "lean_memory_mb",
            "sandbox",
        )
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


def default_config_paths() -> list[Path]:
    """solvegraph.toml in the working directory wins over the user's config folder."""
    return [
        Path.cwd() / "solvegraph.toml",
        Path(platformdirs.user_config_dir("solvegraph")) / "solvegraph.toml",
    ]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    section = data.get("solvegraph", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [solvegraph] must be a table")
    return section


def env_setting(key: str) -> str | None:
    """One setting from its environment variable alone (e.g. ``lean_path`` from ``SOLVEGRAPH_LEAN``).

    For a library caller who made a tool session without resolved settings: the tool still finds what
    the environment names, and this module stays the only reader of the environment.
    """
    return os.environ.get(ENV_VARS[key]) or None


def load_settings(
    flags: dict[str, Any] | None = None,
    config_file: str | Path | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    """Resolve settings in precedence order: flags > environment > toml > defaults."""
    environment: Mapping[str, str] = os.environ if env is None else env
    settings = Settings()
    known = {f.name: f for f in fields(Settings) if f.name != "sources"}

    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        paths = [path]
    else:
        paths = [p for p in default_config_paths() if p.is_file()][:1]
    for path in paths:
        for key, value in _read_toml(path).items():
            key = key.replace("-", "_")
            if key not in known:
                raise ConfigError(f"{path}: unknown setting '{key}' (known: {', '.join(sorted(known))})")
            _set(settings, key, value, f"{path}")

    for key, var in ENV_VARS.items():
        if environment.get(var):
            _set(settings, key, environment[var], f"${var}")

    for key, value in (flags or {}).items():
        if value is not None:
            _set(settings, key, value, "flag")

    if settings.tool_mode not in {"auto", "native", "text"}:
        raise ConfigError(f"tool_mode must be auto, native or text, not {settings.tool_mode!r}")
    if settings.sandbox not in {"auto", "bwrap", "none"}:
        raise ConfigError(f"sandbox must be auto, bwrap or none, not {settings.sandbox!r}")
    if settings.max_rounds < 1:
        raise ConfigError("max_rounds must be at least 1")
    return settings


def _set(settings: Settings, key: str, value: Any, source: str) -> None:
    current = getattr(settings, key)
    if isinstance(current, bool):
        if isinstance(value, str):
            if value.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
            value = value.strip().lower() in ("1", "true", "yes", "on")
        setattr(settings, key, bool(value))
    elif current is None or isinstance(current, str):
        setattr(settings, key, value)
    else:
        try:
            setattr(settings, key, type(current)(value))
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: {key} must be a {type(current).__name__}, got {value!r}") from None
    settings.sources[key] = source
