"""Where settings come from: CLI flags, then environment, then solvegraph.toml.

A single :class:`Settings` object is resolved once per command so that every part
of the run (model client, kernel pool, budgets) reads the same values.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError
from .types import Price, price_for

ENV_VARS = {
    "model": "SOLVEGRAPH_MODEL",
    "base_url": "SOLVEGRAPH_BASE_URL",
    "api_key": "OPENAI_API_KEY",
    "model_path": "SOLVEGRAPH_MODEL_PATH",
    "lean_path": "SOLVEGRAPH_LEAN",
    "lean_project": "SOLVEGRAPH_LEAN_PROJECT",
    "db": "SOLVEGRAPH_DB",
    "sandbox": "SOLVEGRAPH_SANDBOX",
    "data_mirror": "SOLVEGRAPH_DATA_MIRROR",  # datasets: see the data block below
}


@dataclass(frozen=True)
class McpServerConfig:
    """One MCP server whose tools become solvegraph tools, named ``<name>-<tool>``.

    Either ``command`` (with ``args``) for a stdio server solvegraph starts, or ``url`` (with ``headers``)
    for a streamable-HTTP one. ``env`` is all the stdio server gets of an environment beyond the MCP
    SDK's minimal defaults (HOME, PATH, SHELL, TERM, USER, LOGNAME): never solvegraph's own, so never an
    API key it was not given.
    """

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    url: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float | None = None  # seconds per tool call (None: [tools.mcp] call_timeout); past it, cancelled
    # A stdio server runs in solvegraph's sandbox (no network, no host files but these) unless sandbox=false.
    sandbox: bool = True
    network: bool = False
    paths: tuple[str, ...] = ()  # host paths it may read (read-only)


# The flat settings that predate the plugins' own options, and the option each one sets: ``--cell-timeout 5`` is
# ``--tool-opt python.cell_timeout=5``. They stay settings (flags, environment, TOML and stored runs keep them).
LEGACY_TOOL_OPTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "cell_timeout": (("python", "cell_timeout"),),
    "kernel_memory_mb": (("python", "memory_mb"), ("milp", "memory_mb"), ("cp", "memory_mb")),
    "lean_path": (("lean", "lean_path"),),
    "lean_project": (("lean", "project"),),
    "lean_timeout": (("lean", "timeout"),),
    "lean_memory_mb": (("lean", "memory_mb"),),
}
# A plugin's options from the environment: SOLVEGRAPH_TOOL_<PLUGIN>__<KEY>, e.g. SOLVEGRAPH_TOOL_LEAN__LAKE_PATH.
TOOL_ENV_PREFIX = "SOLVEGRAPH_TOOL_"
_TOOL_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


# What a stored solve or chat run records of its settings, never a secret: --resume goes on with them,
# so a resume without the original flags does not fall back to another endpoint or budget.
RUN_SETTINGS = (
    "base_url", "model_path", "max_rounds", "max_tool_calls", "cell_timeout", "kernel_memory_mb", "temperature",
    "max_tokens", "tool_mode", "lean_path", "lean_project", "sandbox", "reuse_model_accepted", "tool_options",
)  # fmt: skip


@dataclass
class Settings:
    """Resolved settings for one run. ``base_url=None`` means: use the embedded model."""

    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    model_path: str | None = None
    request_timeout: float = 120.0
    max_retries: int = 3
    # Requests one run keeps in flight to its endpoint (the adaptive cap halves on a 429 and grows back).
    max_connections: int = 64
    rate_limit_patience: float = 600.0  # seconds a request may spend waiting out 429s before it fails
    max_rounds: int = 3
    max_tool_calls: int = 8
    cell_timeout: float = 30.0
    kernel_memory_mb: int = 4096
    temperature: float = 0.0
    samples_temperature: float | None = 0.7  # used instead of temperature when --samples > 1

    max_tokens: int = 1024
    # A named model is checked against the endpoint's /v1/models; off for an endpoint whose list does not
    # name what it answers to (Azure deployments, LiteLLM wildcard routes).
    check_model: bool = True
    tool_mode: str = "auto"  # auto | native | text | hermes | llama | mistral | fenced
    # -- how the model's replies are read (issue 32) ----------------------------------------------------
    # max_tokens per role; 0 for the solver means max_tokens.
    planner_max_tokens: int = 400
    solver_max_tokens: int = 0
    verifier_max_tokens: int = 300
    refiner_max_tokens: int = 400
    # A reply cut off at max_tokens (finish_reason: length) is asked again with twice as many, up to this
    # many; 0 never asks again. Either way a cut-off reply is never read as complete.
    max_tokens_limit: int = 4096
    # The message field earlier turns' reasoning is sent back in ("reasoning_content", "reasoning"), or ""
    # for never: the DeepSeek API rejects it, and Qwen3's and R1's templates drop it anyway.
    resend_reasoning: str = ""
    # auto: the profile the model's name matches (qwen*, deepseek-r1*, llama-3*, mistral*, gpt-oss*); none;
    # or a profile's name. It sets tool_mode, resend_reasoning, max_tokens_limit, temperature and top_p
    # where the user did not (solvegraph.llm's profiles).
    model_profile: str = "auto"
    # -- end of issue 32's block --------------------------------------------------------------------------
    lean_path: str | None = None  # a lean executable
    lean_project: str | None = None  # a Lake project (for Mathlib): runs `lake env lean`
    lean_timeout: float = 60.0
    lean_memory_mb: int = 4096
    db: str | None = None  # SQLAlchemy URL of the memory; default: a SQLite file in the user data folder
    memory: bool = True  # store trajectories and reuse them (retrieval, made tools)
    cache: bool = True  # exact cache: same problem + configuration reuses a verified answer
    # Only verified (cross- or tool-verified) answers teach later runs (examples, cache, made tools) unless this is on.
    reuse_model_accepted: bool = False
    otel: bool = False  # OpenTelemetry spans (solvegraph.tracing); on with --otel or OTEL_EXPORTER_OTLP_ENDPOINT
    sandbox: str = "auto"  # auto | gvisor | bwrap | none: how model-written code is isolated (solvegraph.sandbox)
    mcp_servers: tuple[McpServerConfig, ...] = ()  # [[mcp_servers]] in solvegraph.toml, --mcp NAME=COMMAND
    # Each plugin's own options, as given (validated against the plugin's options model when plugins load):
    # [tools.NAME] in solvegraph.toml, SOLVEGRAPH_TOOL_NAME__KEY, --tool-opt NAME.key=value.
    tool_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    # [prices] in solvegraph.toml: model name or glob pattern → US dollars per million tokens.
    prices: dict[str, Price] = field(default_factory=dict)
    # -- datasets (solvegraph data, bench NAME): a mirror serving URL/<dataset>/<file name> instead of the
    # pinned public URLs, for sites with no internet; the same sha256 check applies.
    data_mirror: str | None = None
    # -- model roles: [models.ROLE] tables and --verifier-model/--verifier-base-url (see the block below)
    role_models: dict[str, RoleModel] = field(default_factory=dict)

    sources: dict[str, str] = field(default_factory=dict)

    @property
    def uses_embedded(self) -> bool:
        return not self.base_url

    def price(self, model: str) -> Price | None:
        """What ``model`` costs: its configured price, or $0 for the embedded model (it runs here)."""
        found = price_for(self.prices, model)
        if found is None and self.uses_embedded:
            return Price(0.0, 0.0)
        return found

    def for_role(self, role: str) -> Settings | None:
        """The settings ``role``'s model client is made from, or None when the role uses the solver's model."""
        given = self.role_models.get(role)
        if given is None or role == "solver":
            return None
        base_url = given.base_url or self.base_url
        # The solver's key goes only to the solver's endpoint: another endpoint gets its own api_key_env.
        api_key = given.api_key if given.api_key is not None or base_url != self.base_url else self.api_key
        return replace(self, base_url=base_url, model=given.model, api_key=api_key, role_models={})

    def role_max_tokens(self) -> dict[str, int]:
        """What each role's turns ask for as max_tokens (the solver's own setting, or max_tokens)."""
        return {
            "planner": self.planner_max_tokens,
            "solver": self.solver_max_tokens or self.max_tokens,
            "verifier": self.verifier_max_tokens,
            "refiner": self.refiner_max_tokens,
        }

    def run_record(self) -> dict[str, Any]:
        """The settings a run is stored with (:data:`RUN_SETTINGS`, the MCP servers' names, and each role's
        endpoint and model, never its key: a resumed solve or chat asks the same models)."""
        return {k: getattr(self, k) for k in RUN_SETTINGS} | {
            "mcp_servers": [c.name for c in self.mcp_servers],
            "roles": self.roles_record(),
        }

    def roles_record(self) -> dict[str, dict[str, str | None]]:
        """Each role's endpoint and model as a run stores them: never its key."""
        return {r: {"base_url": m.base_url, "model": m.model} for r, m in self.role_models.items()}

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
        options: dict[str, object] = {k: getattr(self, k) for k in keys if getattr(self, k) is not None}
        options["tools"] = self.effective_tool_options()
        return options

    def effective_tool_options(self) -> dict[str, dict[str, Any]]:
        """Each plugin's options as given, less any a flat setting overrides from a stronger source.

        ``--cell-timeout 5`` beats ``[tools.python] cell_timeout = 10`` in the TOML, and the reverse holds for
        ``cell_timeout = 5`` at the TOML's top level beside ``--tool-opt python.cell_timeout=10``: the stronger
        source wins (flag over environment over TOML), and at the same strength the plugin's own option does.
        The flat settings themselves reach the tools through :func:`tool_sections`.
        """
        out = {name: dict(values) for name, values in self.tool_options.items()}
        for flat, targets in LEGACY_TOOL_OPTIONS.items():
            for section, key in targets:
                if key in out.get(section, {}) and _rank(self.sources.get(flat)) > _rank(
                    self.sources.get(f"tools.{section}.{key}")
                ):
                    del out[section][key]
        return {name: values for name, values in out.items() if values}


def _rank(source: str | None) -> int:
    """How strong a setting's source is: a flag, then the environment, then a TOML file, then the default."""
    if not source:
        return 0
    return 3 if source == "flag" else 2 if source.startswith("$") else 1


def tool_sections(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each plugin's options from a tool session's flat ``options``: the flat settings that name a plugin's
    option (:data:`LEGACY_TOOL_OPTIONS`), then its own ``options["tools"][NAME]`` over them."""
    sections: dict[str, dict[str, Any]] = {}
    for flat, targets in LEGACY_TOOL_OPTIONS.items():
        if options.get(flat) is not None:
            for section, key in targets:
                sections.setdefault(section, {})[key] = options[flat]
    given = options.get("tools") or {}
    if isinstance(given, Mapping):
        for name, values in given.items():
            if isinstance(values, Mapping):
                sections.setdefault(str(name), {}).update(values)
    return sections


def default_config_paths() -> list[Path]:
    """solvegraph.toml in the working directory wins over the user's config folder."""
    return [
        Path.cwd() / "solvegraph.toml",
        Path(platformdirs.user_config_dir("solvegraph")) / "solvegraph.toml",
    ]


def chat_history_path() -> Path:
    """The file ``solvegraph chat`` keeps the user's questions in (arrow-up recalls them in later sessions).

    In the user data folder (``$XDG_DATA_HOME/solvegraph`` on Linux), beside the default memory database.
    """
    return Path(platformdirs.user_data_dir("solvegraph")) / "chat_history"


def runtime_dir() -> str | None:
    """``$XDG_RUNTIME_DIR``, the user's own folder for sockets, where set: the sandbox keeps its short
    socket aliases there first (see ``sandbox/_sockets.py``)."""
    return os.environ.get("XDG_RUNTIME_DIR") or None


def editor_command(env: Mapping[str, str] | None = None) -> list[str] | None:
    """The user's editor: ``$VISUAL``, else ``$EDITOR``, split as a shell would split it (``code --wait``).

    None when neither is set (or one cannot be split): ``chat --approve`` then edits in a multi-line prompt.
    """
    environment: Mapping[str, str] = os.environ if env is None else env
    for var in ("VISUAL", "EDITOR"):
        value = environment.get(var, "").strip()
        if value:
            try:
                words = shlex.split(value)
            except ValueError:
                continue
            if words:
                return words
    return None


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
    for table in ("prices", "tools", "models"):  # [prices], [tools.NAME], [models.ROLE] beside [solvegraph]
        if section is not data and table in data:
            section = {**section, table: data[table]}
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
    known = {f.name: f for f in fields(Settings) if f.name not in ("sources", "tool_options", "role_models")}

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
            if key == "mcp_servers":
                settings.mcp_servers = _mcp_tables(value, f"{path}")
                settings.sources[key] = f"{path}"
                continue
            if key == "models":
                settings.role_models = _role_tables(value, f"{path}", environment)
                settings.sources[key] = f"{path}"
                solver = settings.role_models.pop("solver", None)  # the run's own model, as TOML sets it
                for name in ("base_url", "model", "api_key"):
                    if solver is not None and getattr(solver, name) is not None:
                        _set(settings, name, getattr(solver, name), f"{path}")
                continue
            if key == "prices":
                settings.prices = _price_table(value, f"{path}")
                settings.sources[key] = f"{path}"
                continue
            if key == "tools":
                for name, table in _tool_tables(value, f"{path}").items():
                    for option, given in table.items():
                        _set_tool_option(settings, name, option, given, f"{path}")
                continue
            if key not in known:
                raise ConfigError(f"{path}: unknown setting '{key}' (known: {', '.join(sorted(known))})")
            _set(settings, key, value, f"{path}")

    for key, var in ENV_VARS.items():
        if environment.get(var):
            _set(settings, key, environment[var], f"${var}")

    for var in sorted(environment):
        if var.startswith(TOOL_ENV_PREFIX) and environment[var]:
            name, sep, option = var[len(TOOL_ENV_PREFIX) :].partition("__")
            if not sep or not _TOOL_KEY.match(name) or not _TOOL_KEY.match(option):
                raise ConfigError(f"${var}: name a plugin's option as {TOOL_ENV_PREFIX}PLUGIN__KEY")
            _set_tool_option(settings, name.lower(), option.lower(), environment[var], f"${var}")

    if environment.get("OTEL_EXPORTER_OTLP_ENDPOINT"):  # the standard switch: a collector is configured
        _set(settings, "otel", True, "$OTEL_EXPORTER_OTLP_ENDPOINT")

    # A resumed run's recorded plugin options come as flags too, before any --tool-opt given now, which wins.
    recorded = (flags or {}).get("tool_options") or {}
    for name, table in _tool_tables(recorded, "the run's recorded settings").items():
        for option, given in table.items():
            _set_tool_option(settings, name, option, given, "flag")

    # A resumed run's recorded roles first, so that --verifier-model/--verifier-base-url given now win.
    for key, value in sorted((flags or {}).items(), key=lambda item: item[0] != "roles"):
        if key == "tool_options":
            continue
        if key == "mcp":
            if value:  # --mcp NAME=COMMAND adds a server, or replaces the configured one of that name
                given = {c.name: c for c in (_mcp_flag(v) for v in value)}
                kept = tuple(c for c in settings.mcp_servers if c.name not in given)
                settings.mcp_servers = kept + tuple(given.values())
                settings.sources["mcp_servers"] = "flag"
            continue
        if key == "roles":  # a resumed run's recorded roles: over the TOML's, under --verifier-* now
            for role, given in (value or {}).items():
                current = settings.role_models.get(role, RoleModel())
                own_key = current.api_key if current.base_url == given.get("base_url") else None  # never moved
                settings.role_models[role] = RoleModel(given.get("base_url"), given.get("model"), own_key)
            continue
        if key in ("verifier_model", "verifier_base_url"):
            if value is not None:  # --verifier-model NAME, --verifier-base-url URL: over [models.verifier]
                field_ = "model" if key == "verifier_model" else "base_url"
                settings.role_models["verifier"] = replace(
                    settings.role_models.get("verifier", RoleModel()), **{field_: value}
                )
            continue
        if key == "tool_opt":
            for given in value or ():  # --tool-opt NAME.key=value, repeatable
                name, option, text = _tool_opt_flag(given)
                _set_tool_option(settings, name, option, text, "flag")
            continue
        if value is not None:
            _set(settings, key, value, "flag")

    _check_model_settings(settings)
    if settings.sandbox not in {"auto", "gvisor", "bwrap", "none"}:
        raise ConfigError(f"sandbox must be auto, gvisor, bwrap or none, not {settings.sandbox!r}")
    for key, (low, open_low, high) in _RANGES.items():
        value = getattr(settings, key)
        if value is None:
            continue
        if not (math.isfinite(value) and (value > low if open_low else value >= low) and value <= high):
            source = settings.sources.get(key, "")
            what = f"--{key.replace('_', '-')}" if source == "flag" else f"{source}: {key}" if source else key
            bound = f"more than {low:g}" if open_low else f"at least {low:g}"
            bound += f" and at most {high:g}" if high != math.inf else ""
            raise ConfigError(f"{what} must be {bound}, not {value:g}")
    return settings


# Each number's allowed range: (low, low excluded, high). "--cell-timeout -5" ran three rounds that each ended
# "ran longer than -5 s" and printed that as the answer; every number is checked once, wherever it was set.
_RANGES: dict[str, tuple[float, bool, float]] = {
    "request_timeout": (0, True, math.inf),
    "max_retries": (0, False, 100),
    "max_connections": (1, False, math.inf),
    "rate_limit_patience": (0, False, math.inf),
    "max_rounds": (1, False, 1000),
    "max_tool_calls": (0, False, 10_000),
    "cell_timeout": (0, True, math.inf),
    "kernel_memory_mb": (64, False, math.inf),
    "temperature": (0, False, 2),
    "samples_temperature": (0, False, 2),
    "max_tokens": (1, False, math.inf),
    "planner_max_tokens": (1, False, math.inf),
    "solver_max_tokens": (0, False, math.inf),
    "verifier_max_tokens": (1, False, math.inf),
    "refiner_max_tokens": (1, False, math.inf),
    "max_tokens_limit": (0, False, math.inf),
    "lean_timeout": (0, True, math.inf),
    "lean_memory_mb": (64, False, math.inf),
}


# -- how the model's replies are read (issue 32) ---------------------------------------------------------
# tool_mode: auto, native (OpenAI tool calls), text (= fenced), or one dialect of calls in the content
# (solvegraph.llm's CONTENT_DIALECTS; listed here because config sits below llm).
TOOL_MODES = ("auto", "native", "text", "hermes", "mistral", "llama", "fenced")
RESEND_REASONING = ("", "reasoning_content", "reasoning")


def _check_model_settings(settings: Settings) -> None:
    if settings.tool_mode not in TOOL_MODES:
        raise ConfigError(f"tool_mode must be one of {', '.join(TOOL_MODES)}, not {settings.tool_mode!r}")
    if settings.resend_reasoning not in RESEND_REASONING:
        raise ConfigError(
            f"resend_reasoning must be reasoning_content, reasoning or empty (never), not {settings.resend_reasoning!r}"
        )


def _price_table(value: Any, source: str) -> dict[str, Price]:
    """``[prices]``: each model (or glob pattern) a table of ``input`` and ``output``, and optionally
    ``cached_input``, dollars per million tokens."""
    if not isinstance(value, dict):
        raise ConfigError(f'{source}: [prices] must be a table, e.g. "gpt-4o-mini" = {{ input = 0.15, output = 0.6 }}')
    prices: dict[str, Price] = {}
    for model, entry in value.items():
        where = f"{source}: [prices] {model!r}"
        if not isinstance(entry, dict) or not {"input", "output"} <= set(entry) <= {"input", "output", "cached_input"}:
            raise ConfigError(
                f"{where}: give input and output (and cached_input if you like), US dollars per million tokens"
            )
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in entry.values()):
            raise ConfigError(f"{where}: prices must be numbers of dollars, zero or more")
        cached = entry.get("cached_input")
        prices[model] = Price(float(entry["input"]), float(entry["output"]), None if cached is None else float(cached))
    return prices


_MCP_NAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_MCP_KEYS = {"name", "command", "args", "env", "url", "headers", "timeout", "sandbox", "network", "paths"}


def _mcp_tables(value: Any, source: str) -> tuple[McpServerConfig, ...]:
    """``[[mcp_servers]]`` tables: each a name and a command (stdio) or a url (streamable HTTP)."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"{source}: mcp_servers must be tables: [[mcp_servers]] with name and command or url")
    servers: dict[str, McpServerConfig] = {}
    for table in value:
        unknown = set(table) - _MCP_KEYS
        if unknown:
            raise ConfigError(f"{source}: [[mcp_servers]] has unknown key(s) {', '.join(sorted(unknown))}")
        name = table.get("name")
        where = f"{source}: [[mcp_servers]] {name!r}"
        if not isinstance(name, str) or not _MCP_NAME.match(name):
            raise ConfigError(f"{where}: name must be letters, digits or '_' (it prefixes the server's tool names)")
        if name in servers:
            raise ConfigError(f"{where}: two servers have this name")
        command, url = table.get("command"), table.get("url")
        if (command is None) == (url is None):
            raise ConfigError(f"{where}: give exactly one of command (stdio) or url (streamable HTTP)")
        args, env, headers = table.get("args", []), table.get("env", {}), table.get("headers", {})
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"{where}: args must be a list of strings")
        for label, mapping in (("env", env), ("headers", headers)):
            if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
                raise ConfigError(f"{where}: {label} must be a table of strings")
        timeout = table.get("timeout")
        if timeout is not None and (not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0):
            raise ConfigError(f"{where}: timeout must be a positive number of seconds")
        flags = {k: table.get(k, d) for k, d in (("sandbox", True), ("network", False))}
        if not all(isinstance(v, bool) for v in flags.values()):
            raise ConfigError(f"{where}: sandbox and network must be true or false")
        paths = table.get("paths", [])
        if not isinstance(paths, list) or not all(isinstance(x, str) and x.startswith("/") for x in paths):
            raise ConfigError(f"{where}: paths must be a list of absolute host paths")
        servers[name] = McpServerConfig(
            name=name,
            command=command,
            args=tuple(args),
            env=tuple(sorted(env.items())),
            url=url,
            headers=tuple(sorted(headers.items())),
            timeout=None if timeout is None else float(timeout),
            sandbox=flags["sandbox"],
            network=flags["network"],
            paths=tuple(paths),
        )
    return tuple(servers.values())


def _mcp_flag(value: str) -> McpServerConfig:
    """``--mcp NAME=COMMAND``: the command is split like a shell would split it, but never run by one."""
    name, sep, command = value.partition("=")
    if not sep or not _MCP_NAME.match(name) or not command.strip():
        raise ConfigError(f"--mcp expects NAME=COMMAND (e.g. --mcp time='mcp-server-time'), got {value!r}")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"--mcp {name}: cannot split the command: {exc}") from None
    if words and words[0].startswith(("http://", "https://")) and len(words) == 1:
        return McpServerConfig(name=name, url=words[0])
    return McpServerConfig(name=name, command=words[0], args=tuple(words[1:]))


def _tool_tables(value: Any, source: str) -> dict[str, dict[str, Any]]:
    """``[tools.NAME]`` tables: one per plugin, its options as keys (checked by the plugin's model later)."""
    if not isinstance(value, dict) or not all(isinstance(t, dict) for t in value.values()):
        raise ConfigError(f"{source}: [tools] must hold one table per plugin, e.g. [tools.lean] with lake_path = ...")
    for name, table in value.items():
        if not _TOOL_KEY.match(name) or not all(isinstance(k, str) and _TOOL_KEY.match(k) for k in table):
            raise ConfigError(f"{source}: [tools.{name}]: plugin and option names are letters, digits, '_' or '-'")
    return value


def _tool_opt_flag(value: str) -> tuple[str, str, str]:
    """``--tool-opt NAME.key=value``: the value stays text; the plugin's options model converts it."""
    target, sep, text = value.partition("=")
    name, dot, option = target.partition(".")
    if not sep or not dot or not _TOOL_KEY.match(name) or not _TOOL_KEY.match(option):
        raise ConfigError(
            f"--tool-opt expects PLUGIN.KEY=VALUE (e.g. --tool-opt lean.lake_path=/opt/lake), got {value!r}"
        )
    return name, option.replace("-", "_"), text


def _set_tool_option(settings: Settings, name: str, option: str, value: Any, source: str) -> None:
    option = option.replace("-", "_")
    settings.tool_options.setdefault(name, {})[option] = value
    settings.sources[f"tools.{name}.{option}"] = source


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


# -- datasets -------------------------------------------------------------------------------------------


def data_cache_dir() -> Path:
    """Where downloaded benchmark datasets are kept: the user cache folder (``XDG_CACHE_HOME`` respected)."""
    return Path(platformdirs.user_cache_dir("solvegraph")) / "datasets"


# -- model roles (issue 28) -------------------------------------------------------------------------------
# [models.planner], [models.verifier], [models.refiner] (and [models.solver], the run's own model): each may
# name another endpoint and model, so a strong verifier can check a small solver. A role not named uses the
# solver's client.
ROLES = ("planner", "solver", "verifier", "refiner")
_ROLE_KEYS = {"base_url", "model", "api_key_env"}


@dataclass(frozen=True)
class RoleModel:
    """One role's endpoint and model; ``api_key`` is read here from the table's ``api_key_env``, never stored."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = None


def _role_tables(value: Any, source: str, environment: Mapping[str, str]) -> dict[str, RoleModel]:
    if not isinstance(value, dict):
        raise ConfigError(f'{source}: [models] must hold tables, e.g. [models.verifier] model = "gpt-4.1"')
    out: dict[str, RoleModel] = {}
    for role, table in value.items():
        where = f"{source}: [models.{role}]"
        if role not in ROLES:
            raise ConfigError(f"{where}: unknown role (known: {', '.join(ROLES)})")
        if not isinstance(table, dict) or not set(table) <= _ROLE_KEYS:
            raise ConfigError(f"{where}: give base_url, model and api_key_env (the variable holding its key)")
        if not all(isinstance(v, str) and v for v in table.values()):
            raise ConfigError(f"{where}: base_url, model and api_key_env are non-empty strings")
        key = None
        if "api_key_env" in table:
            key = environment.get(table["api_key_env"]) or None
            if key is None:
                raise ConfigError(f"{where}: api_key_env names ${table['api_key_env']}, which is not set")
        out[role] = RoleModel(table.get("base_url"), table.get("model"), key)
    return out
