"""The one place a command turns its flags into settings (flags over environment over solvegraph.toml).

Every command goes through :func:`settings_from` (the shared solving options, see :mod:`._options`) or
:func:`settings_with` (a command with a few of them), which call the same resolver as the Python API and
the bench (:func:`solvegraph.agents.resolve`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._options import SolvingOptions

if TYPE_CHECKING:
    from ..config import Settings
    from ..memory import Store

# The shared options that map one-to-one onto Settings fields; the switches (--no-memory, ...) follow.
_ONE_TO_ONE = (
    "mcp", "tool_opt", "verifier_model", "verifier_base_url", "model", "base_url", "api_key", "model_path",
    "max_rounds", "max_tool_calls", "cell_timeout", "lean_project", "lean_path", "db", "sandbox", "model_profile",
)  # fmt: skip


def flags_of(opts: SolvingOptions) -> dict[str, Any]:
    """The settings' flags layer from a command's shared options (None: not given, so env or toml decide)."""
    flags: dict[str, Any] = {k: getattr(opts, k) for k in _ONE_TO_ONE}
    flags["memory"] = False if opts.no_memory else None
    flags["cache"] = False if opts.no_cache else None
    flags["reuse_model_accepted"] = True if opts.reuse_model_accepted else None
    flags["otel"] = True if opts.otel else None
    return flags


def settings_from(opts: SolvingOptions, recorded: dict[str, Any] | None = None, **more: Any) -> Settings:
    """Settings from a command's shared options; ``recorded`` (a resumed run's own settings) stands where
    no flag was given, and ``more`` adds flags a command has beyond the shared ones."""
    flags = flags_of(opts)
    for key, value in (recorded or {}).items():
        if flags.get(key) is None:
            flags[key] = value
    flags.update(more)
    from ..agents import resolve

    return resolve(flags, opts.config)


def settings_with(flags: dict[str, Any], config: str | None = None) -> Settings:
    """Settings from a few flags of a command that does not take the shared options (``view``, ``data``)."""
    from ..agents import resolve

    return resolve(flags, config, trace=False)


def open_store(db: str | None, config: str | None = None) -> Store:
    """The memory store named by --db, else $SOLVEGRAPH_DB or solvegraph.toml, else the default file."""
    from ..memory import Store

    return Store(settings_with({"db": db}, config).db)


__all__ = ["flags_of", "open_store", "settings_from", "settings_with"]
