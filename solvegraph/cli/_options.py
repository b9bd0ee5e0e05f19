"""The options every model-calling command shares, declared once.

``solve``, ``chat``, ``bench`` and ``mcp serve`` take the same solving options (endpoint, model, budgets,
tools, sandbox, memory) under the same names. They were a 17-parameter block written out in each
command; now a command names one parameter ``opts: SolvingOptions`` where they go, and
:func:`solving_options` puts the flags there in its signature (what typer reads) and hands the command
their values as one :class:`SolvingOptions`. A flag added here is on every such command at once.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

try:  # typer from 0.2x carries its own copy of click, whose exceptions and enums are not click's
    from typer._click import exceptions as click_errors
    from typer._click.core import ParameterSource
except ImportError:  # an older typer drives click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]
    from click.core import ParameterSource  # type: ignore[assignment]

F = TypeVar("F", bound=Callable[..., Any])

Model = Annotated[str | None, typer.Option("--model", help="Model name [env SOLVEGRAPH_MODEL].", show_default=False)]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 "
        "[env SOLVEGRAPH_BASE_URL]. Unset: the embedded model.",
        show_default=False,
    ),
]
ApiKey = Annotated[str | None, typer.Option("--api-key", help="API key [env OPENAI_API_KEY].", show_default=False)]
ModelPath = Annotated[
    str | None, typer.Option("--model-path", help="GGUF file for the embedded server instead of SmolLM2.")
]
ConfigFile = Annotated[str | None, typer.Option("--config", help="Settings file (default: ./solvegraph.toml).")]
MaxRounds = Annotated[int | None, typer.Option("--max-rounds", help="Solver/verifier rounds before giving up [3].")]
MaxToolCalls = Annotated[int | None, typer.Option("--max-tool-calls", help="Tool calls per problem [8].")]
CellTimeout = Annotated[float | None, typer.Option("--cell-timeout", help="Seconds per Python cell [30].")]
LeanProject = Annotated[
    str | None,
    typer.Option("--lean-project", help="Lake project with Mathlib for the lean tool [env SOLVEGRAPH_LEAN_PROJECT]."),
]
LeanPath = Annotated[
    str | None, typer.Option("--lean-path", help="lean executable for the lean tool [env SOLVEGRAPH_LEAN].")
]
Db = Annotated[
    str | None,
    typer.Option("--db", help="Memory database URL (sqlite:///file or postgresql://...) [env SOLVEGRAPH_DB]."),
]
NoMemory = Annotated[bool, typer.Option("--no-memory", help="Neither store this run nor use past ones.")]
NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not reuse a verified answer to the same problem.")]
SandboxOpt = Annotated[
    str | None,
    typer.Option(
        "--sandbox",
        help="How model-written code is isolated: auto (bubblewrap, else gVisor, else a warning), "
        "gvisor or bwrap (fail if it cannot), none [env SOLVEGRAPH_SANDBOX; "
        "default auto]. `solvegraph sandbox check` shows what each isolates.",
    ),
]
ReuseModelAccepted = Annotated[
    bool,
    typer.Option(
        "--reuse-model-accepted",
        help="Let answers only the verifier model accepted become worked examples, cache answers and made "
        "tools (by default only tool-verified ones do) [toml reuse_model_accepted].",
    ),
]
Otel = Annotated[
    bool,
    typer.Option(
        "--otel",
        help="Send OpenTelemetry spans (solve, node, model call, tool call) over OTLP/HTTP; also on when "
        "OTEL_EXPORTER_OTLP_ENDPOINT is set. Needs solvegraph[otel].",
    ),
]
ModelProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--model-profile",
        help="The model's profile (dialect of its tool calls, reasoning, sampling): auto (from the model's name), "
        "none, qwen, deepseek-r1, llama-3, mistral or gpt-oss [toml model_profile; default auto].",
    ),
]
McpOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--mcp",
        metavar="NAME=COMMAND",
        help="Use an MCP server's tools, as NAME=COMMAND (e.g. --mcp time='mcp-server-time'); repeatable. "
        "Its tools are named NAME-TOOL. [[mcp_servers]] in solvegraph.toml configures them for good.",
        show_default=False,
    ),
]
ToolOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--tool-opt",
        metavar="PLUGIN.KEY=VALUE",
        help="Set a plugin's option for this run (e.g. --tool-opt lean.lake_path=/opt/lake); repeatable. "
        "[tools.PLUGIN] in solvegraph.toml sets them for good; `solvegraph plugins list` shows each with its default.",
        show_default=False,
    ),
]
# Model roles: the verifier on its own model ([models.ROLE] in solvegraph.toml does any role, for good).
VerifierModelOpt = Annotated[
    str | None,
    typer.Option(
        "--verifier-model", help="The verifier's model [toml [models.verifier] model; default: the solver's]."
    ),
]
VerifierBaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--verifier-base-url",
        help="The verifier's OpenAI-compatible endpoint [toml [models.verifier] base_url; default: the solver's].",
    ),
]
SwitchModel = Annotated[
    bool,
    typer.Option(
        "--switch-model",
        help="With --resume: go on with the --model given instead of the run's own; the switch is recorded, "
        "and each step records the model that answered it.",
    ),
]


@dataclass
class SolvingOptions:
    """The shared flags' values as one command was given them (None / False: not given)."""

    model: Model = None
    mcp: McpOpt = None
    tool_opt: ToolOpt = None
    verifier_model: VerifierModelOpt = None
    verifier_base_url: VerifierBaseUrlOpt = None
    base_url: BaseUrl = None
    api_key: ApiKey = None
    model_path: ModelPath = None
    config: ConfigFile = None
    max_rounds: MaxRounds = None
    max_tool_calls: MaxToolCalls = None
    cell_timeout: CellTimeout = None
    lean_project: LeanProject = None
    lean_path: LeanPath = None
    sandbox: SandboxOpt = None
    model_profile: ModelProfileOpt = None
    db: Db = None
    no_memory: NoMemory = False
    no_cache: NoCache = False
    reuse_model_accepted: ReuseModelAccepted = False
    otel: Otel = False


# What a command writes as its ``opts`` parameter's default: a placeholder, never read, that lets ``opts``
# stand among parameters with defaults; :func:`solving_options` puts the flags in its place.
SHARED_OPTIONS = SolvingOptions()

# The options in the order the commands show them, each with its flag's annotation.
_SHARED = [(f.name, f.default) for f in fields(SolvingOptions)]
_HINTS = get_type_hints(SolvingOptions, include_extras=True)


def solving_options(*, without: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Give a command the shared solving flags (but ``without``) where its ``opts: SolvingOptions =
    SHARED_OPTIONS`` is.

    Typer reads a command's flags from its signature; the decorated command gets a signature with the
    flags in place of ``opts``, and is called with their values gathered into one :class:`SolvingOptions`
    (the left-out ones at their defaults). ``bench`` leaves out ``--no-memory`` (a run is always stored),
    ``--no-cache`` (a sample never reads the exact cache: it would not measure the model) and
    ``--max-tool-calls`` (its own is a per-sample limit that defines the run).
    """
    unknown = set(without) - {name for name, _ in _SHARED}
    if unknown:
        raise ValueError(f"not shared options: {sorted(unknown)}")
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=_HINTS[name])
        for name, default in _SHARED
        if name not in without
    ]

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        if "opts" not in signature.parameters:
            raise TypeError(f"{command.__name__} has no opts: SolvingOptions parameter")
        params: list[inspect.Parameter] = []
        for param in signature.parameters.values():
            if param.name == "opts":
                params.extend(shared)
            else:
                params.append(param.replace(kind=inspect.Parameter.KEYWORD_ONLY))
        names = {p.name for p in shared}

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            opts = SolvingOptions(**{name: kwargs.pop(name) for name in names})
            return command(*args, opts=opts, **kwargs)

        run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in params} | {"return": signature.return_annotation}
        return run  # type: ignore[return-value]

    return decorate


def given(ctx: typer.Context, name: str) -> bool:
    """Whether the user wrote the parameter ``name`` on the command line (not its default or an env var)."""
    return ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE


def one_of(*values: str) -> Callable[[str | None], str | None]:
    """A flag's callback that accepts only ``values``: a usage error naming them (exit 2), never a silent no-op."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in values:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(values)}")
        return value

    return check


__all__ = [
    "SHARED_OPTIONS", "ApiKey", "BaseUrl", "CellTimeout", "ConfigFile", "Db", "LeanPath", "LeanProject", "MaxRounds",
    "MaxToolCalls", "McpOpt", "Model", "ModelPath", "ModelProfileOpt", "NoCache", "NoMemory", "Otel", "ParameterSource",
    "ReuseModelAccepted", "SandboxOpt", "SolvingOptions", "SwitchModel", "ToolOpt", "VerifierBaseUrlOpt",
    "VerifierModelOpt", "click_errors", "given", "one_of", "solving_options",
]  # fmt: skip
