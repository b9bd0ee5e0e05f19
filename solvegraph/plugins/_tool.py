"""The tool contract every plugin implements, and the ``@tool`` decorator.

A tool is a name, a description, a JSON-schema input and a run function. Running a
tool never raises: bad arguments, exceptions, timeouts and oversized output all
come back as a :class:`ToolResult`, because the agents must turn any failure into
feedback for the refiner rather than into a crash.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import json
import sys
import threading
import time
import types
import typing
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import docstring_parser
import jsonschema
import pydantic
import typing_extensions

from .. import tracing
from ..config import tool_sections
from ..types import ToolResult
from ._options import OptionsT, build_options
from ._services import SERVICE_NAMES

DEFAULT_OUTPUT_CAP = 20_000


def truncate(text: str, cap: int) -> tuple[str, bool]:
    """Keep head and tail of ``text`` within ``cap`` characters, with a visible marker."""
    if len(text) <= cap:
        return text, False
    head = cap * 2 // 3
    tail = cap - head
    dropped = len(text) - head - tail
    return f"{text[:head]}\n... [truncated {dropped} characters] ...\n{text[-tail:]}", True


class ToolSession:
    """Per-problem state shared by the tools of one solve (e.g. its Python kernel).

    Tools keep resources here so that a second session (another problem, another
    benchmark worker) never sees the first one's variables.
    """

    def __init__(self, session_id: str | None = None, options: dict[str, Any] | None = None) -> None:
        self.id = session_id or uuid.uuid4().hex[:12]
        # Run settings a tool may read (cell_timeout, kernel_memory_mb, ...).
        self.options: dict[str, Any] = dict(options or {})
        self._resources: dict[str, Any] = {}
        self._typed: dict[type, Any] = {}  # tool_options(): each plugin's options model, checked once
        # Insertion-ordered, so resources close in reverse order of creation.
        self._closers: dict[str, Callable[[], None]] = {}
        self._lock = threading.Lock()

    def resource(
        self,
        key: str,
        factory: Callable[[], Any],
        close: Callable[[Any], None] | None = None,
        alive: Callable[[Any], bool] | None = None,
    ) -> Any:
        """The session's ``key`` resource, made on first use; one that ``alive`` rejects is closed and remade."""
        with self._lock:
            if key in self._resources and alive is not None and not alive(self._resources[key]):
                del self._resources[key]
                closer = self._closers.pop(key, None)
                if closer is not None:
                    with contextlib.suppress(Exception):
                        closer()
            if key not in self._resources:
                value = factory()
                self._resources[key] = value
                if close is not None:
                    self._closers[key] = lambda: close(value)
            return self._resources[key]

    # Services one plugin offers another's tools (the python plugin's kernel, which the solvers' code mode
    # runs in), by their typed interface, so that no tool imports another: interface -> factory(session).
    # Filled by the plugin manager from each plugin's ``solvegraph_services()``.
    _services: typing.ClassVar[dict[Any, Callable[[ToolSession], Any]]] = {}
    # Every loaded plugin's ``solvegraph_interrupt(session)``: what stops this session's running work.
    _interrupters: typing.ClassVar[dict[str, Callable[[ToolSession], None]]] = {}

    @classmethod
    def provide(cls, interface: Any, factory: Callable[[ToolSession], Any]) -> None:
        """Offer a per-session service of ``interface`` (the manager does this for a plugin's services)."""
        cls._services[SERVICE_NAMES.get(interface, interface) if isinstance(interface, str) else interface] = factory

    def service(self, interface: Callable[..., T]) -> T:
        """This session's service of ``interface`` (e.g. :class:`CodeKernel`); LookupError when no plugin offers it.

        When no plugin manager has registered one yet (a tool called on its own), the installed plugins are
        loaded once to find it.
        """
        # A protocol class is typed as Callable here: mypy refuses an abstract class where type[T] is expected.
        key: Any = SERVICE_NAMES.get(interface, interface) if isinstance(interface, str) else interface
        factory = self._services.get(key)
        if factory is None and not ToolSession._loaded_services:
            ToolSession._loaded_services = True
            from .manager import PluginManager

            PluginManager()  # registers every installed plugin's services
            factory = self._services.get(key)
        if factory is None:
            shown = getattr(key, "__name__", str(key))
            raise LookupError(f"no plugin offers the {shown} service (is the plugin that provides it installed?)")
        return typing.cast(T, factory(self))

    _loaded_services: typing.ClassVar[bool] = False

    def tool_options(self, model: type[OptionsT]) -> OptionsT:
        """This session's options of a plugin, as its typed ``model``: the plugin's ``[tools.NAME]`` section
        (and the flat settings that name one of its options) checked and converted; made once per session."""
        with self._lock:
            cached = self._typed.get(model)
        if cached is None:
            cached = build_options(model, tool_sections(self.options).get(model.section, {}))
            with self._lock:
                self._typed[model] = cached
        return typing.cast(OptionsT, cached)

    @property
    def sandbox(self) -> str:
        """How model-written code and solvers are isolated in this run: auto, gvisor, bwrap or none."""
        return str(self.options.get("sandbox") or "auto")

    def interrupt(self) -> None:
        """Stop what this session's tools are running now (a kernel's cell), through every plugin's
        ``solvegraph_interrupt`` hook; the session and its resources stay usable. Never raises."""
        for stop in list(self._interrupters.values()):
            with contextlib.suppress(Exception):
                stop(self)

    def existing(self, key: str) -> Any:
        """The ``key`` resource if it was made, else None (never makes one)."""
        with self._lock:
            return self._resources.get(key)

    def close(self) -> None:
        with self._lock:
            closers, self._closers = list(self._closers.values()), {}
            self._resources.clear()
        for closer in reversed(closers):
            with contextlib.suppress(Exception):  # closing must not mask the run's own outcome
                closer()

    def __enter__(self) -> ToolSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


RunFn = Callable[..., "ToolResult | str"]
AsyncRunFn = Callable[..., Awaitable["ToolResult | str"]]
T = typing.TypeVar("T")
# How a caller on an event loop runs blocking work: ``await blocking(fn, *args)`` in some thread pool.
Blocking = Callable[..., Awaitable[Any]]


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """The default :data:`Blocking`: the running loop's default thread pool, in a copy of this context
    (so a tool's tracing span stays the child of the node that called it)."""
    return await asyncio.to_thread(fn, *args)


@dataclass
class Tool:
    """A callable capability offered to the agents.

    ``run(arguments, session)`` validates the arguments, enforces the timeout and
    the output cap, and always returns a :class:`ToolResult`. ``await arun(...)`` is the
    same for a caller on an event loop: a tool with an asyncio implementation
    (``afn``, set with :meth:`asynchronous`) runs it there; any other runs ``run``
    through the caller's ``blocking`` (a thread pool).
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    fn: RunFn
    timeout: float | None = 60.0
    output_cap: int = DEFAULT_OUTPUT_CAP
    prompt_hint: str = ""
    # Tools that enforce their own timeout (e.g. by killing a kernel) set this so
    # the generic thread-based guard is not layered on top.
    enforces_timeout: bool = False
    # For such tools: the session option that holds their time limit (e.g. "cell_timeout").
    timeout_option: str | None = None
    plugin: str = ""
    # For a decorated tool: the TypedDict of its parameters, which validates and converts the arguments.
    arguments_type: Any = None
    # The same function as ``fn`` written for asyncio (same parameters, same results), if the tool has one.
    afn: AsyncRunFn | None = None

    def asynchronous(self, afn: AsyncRunFn) -> AsyncRunFn:
        """Give the tool an asyncio implementation of ``fn``, used by :meth:`arun`. As a decorator:
        ``@python.asynchronous`` over ``async def python_async(code: str, session: ToolSession)``."""
        self.afn = afn
        return afn

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.input_schema},
        }

    @functools.cached_property
    def _validator(self) -> Any:
        # Built once: jsonschema.validate() would re-check the schema itself on every call.
        return jsonschema.validators.validator_for(self.input_schema)(self.input_schema)

    @functools.cached_property
    def _wants_session(self) -> bool:
        return "session" in inspect.signature(self.fn).parameters

    @functools.cached_property
    def _adapter(self) -> pydantic.TypeAdapter[Any] | None:
        return None if self.arguments_type is None else pydantic.TypeAdapter(self.arguments_type)

    def check_arguments(self, arguments: Any) -> dict[str, Any] | ToolResult:
        """The arguments the function will get (converted to its declared types), or why the call is refused.

        A decorated tool checks them with pydantic against its signature; a tool given a hand-made
        ``input_schema`` checks them with that schema.
        """
        if not isinstance(arguments, dict):
            return invalid_arguments(
                [{"field": "(root)", "message": f"arguments must be a JSON object, got {type(arguments).__name__}",
                  "type": "dict_type"}]
            )  # fmt: skip
        if self._adapter is not None:
            try:
                return dict(self._adapter.validate_python(arguments))
            except pydantic.ValidationError as exc:
                return invalid_arguments(_field_errors(exc))
        errors = sorted(self._validator.iter_errors(arguments), key=jsonschema.exceptions.relevance)
        if not errors:
            return arguments
        best = jsonschema.exceptions.best_match(errors)
        ordered = [best] + [e for e in errors if e is not best]
        return invalid_arguments(
            [{"field": ".".join(str(p) for p in e.absolute_path) or "(root)", "message": e.message,
              "type": str(e.validator)} for e in ordered]
        )  # fmt: skip

    def validate(self, arguments: Any) -> str | None:
        """Why ``arguments`` would be refused, or None when the call may run."""
        checked = self.check_arguments(arguments)
        return checked.error if isinstance(checked, ToolResult) else None

    def run(self, arguments: Any, session: ToolSession | None = None) -> ToolResult:
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": self.name}
        with tracing.span(f"execute_tool {self.name}", **attributes) as current:
            result = self._run(arguments, session)
            tracing.set_attributes(
                current, **{"solvegraph.tool.ok": result.ok, "solvegraph.tool.duration_s": result.duration_s}
            )
            return result

    async def arun(
        self, arguments: Any, session: ToolSession | None = None, blocking: Blocking | None = None
    ) -> ToolResult:
        """:meth:`run` on the running event loop: the asyncio implementation if the tool has one, else
        ``run`` through ``blocking`` (default: the loop's thread pool)."""
        if self.afn is None:
            result: ToolResult = await (blocking or in_thread)(self.run, arguments, session)
            return result
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": self.name}
        with tracing.span(f"execute_tool {self.name}", **attributes) as current:
            started = time.perf_counter()
            checked = self.check_arguments(arguments)
            if isinstance(checked, ToolResult):
                result = checked
            elif session is None:  # a session of its own, closed (its kernel stopped) off the loop
                own = ToolSession()
                try:
                    result = await self._acall(checked, own)
                finally:
                    await asyncio.to_thread(own.close)
            else:
                result = await self._acall(checked, session)
            result = self._capped(result, started)
            tracing.set_attributes(
                current, **{"solvegraph.tool.ok": result.ok, "solvegraph.tool.duration_s": result.duration_s}
            )
            return result

    async def _acall(self, arguments: dict[str, Any], session: ToolSession) -> ToolResult:
        assert self.afn is not None
        kwargs = dict(arguments)
        if self._wants_session:
            kwargs["session"] = session
        try:
            if self.timeout is None or self.enforces_timeout:
                value = await self.afn(**kwargs)
            else:  # unlike a thread, a coroutine can be stopped at its timeout
                value = await asyncio.wait_for(self.afn(**kwargs), self.timeout)
        except TimeoutError:
            return ToolResult.failure(f"timeout: {self.name} did not finish within {self.timeout:g} s")
        except Exception as exc:
            return ToolResult.failure(f"{type(exc).__name__}: {exc}")
        if isinstance(value, ToolResult):
            return value
        return ToolResult.success("" if value is None else str(value))

    def _run(self, arguments: Any, session: ToolSession | None) -> ToolResult:
        started = time.perf_counter()
        checked = self.check_arguments(arguments)
        if isinstance(checked, ToolResult):
            result = checked
        else:
            own_session = session is None
            session = session or ToolSession()
            try:
                result = self._invoke(checked, session)
            finally:
                if own_session:
                    session.close()
        return self._capped(result, started)

    def _capped(self, result: ToolResult, started: float) -> ToolResult:
        """The output cap, and the duration, as every caller sees them."""
        result.output, cut_out = truncate(result.output, self.output_cap)
        result.error, cut_err = truncate(result.error, self.output_cap)
        result.truncated = result.truncated or cut_out or cut_err
        result.duration_s = time.perf_counter() - started
        return result

    def _invoke(self, arguments: dict[str, Any], session: ToolSession) -> ToolResult:
        if self.timeout is None or self.enforces_timeout:
            return self._call(arguments, session)
        # A thread cannot be killed: past the timeout the caller gets a result and
        # the worker is abandoned. Tools with real side processes should enforce
        # their own timeout (see the Python kernel) and set enforces_timeout.
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"tool-{self.name}")
        future = pool.submit(self._call, arguments, session)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            return ToolResult.failure(f"timeout: {self.name} did not finish within {self.timeout:g} s")
        finally:
            pool.shutdown(wait=False)

    def _call(self, arguments: dict[str, Any], session: ToolSession) -> ToolResult:
        try:
            kwargs = dict(arguments)
            if self._wants_session:
                kwargs["session"] = session
            value = self.fn(**kwargs)
        except Exception as exc:
            return ToolResult.failure(f"{type(exc).__name__}: {exc}")
        if isinstance(value, ToolResult):
            return value
        return ToolResult.success("" if value is None else str(value))


_PYDANTIC_TAKES_TYPING_TYPEDDICT = sys.version_info >= (3, 12)


def _pydantic_ready(annotation: Any) -> Any:
    """``annotation`` with every ``typing.TypedDict`` rebuilt as a ``typing_extensions`` one.

    Pydantic refuses ``typing.TypedDict`` before Python 3.12, and a plugin author who writes
    ``from typing import TypedDict`` on 3.11 should not have to know that.
    """
    if typing.is_typeddict(annotation) and not _PYDANTIC_TAKES_TYPING_TYPEDDICT:
        return _rebuilt_typeddict(annotation)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is None or not args or origin is typing.Literal:
        return annotation
    if origin is typing.Annotated:
        return typing.Annotated[(_pydantic_ready(args[0]), *annotation.__metadata__)]
    ready = tuple(_pydantic_ready(a) for a in args)
    if ready == args:
        return annotation
    if origin in (typing.Union, types.UnionType):
        return typing.Union[ready]  # noqa: UP007 - a Union built from a tuple
    return origin[ready[0] if len(ready) == 1 else ready]


@functools.cache
def _rebuilt_typeddict(cls: Any) -> Any:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {}
    for key, hint in hints.items():
        # A written Required/NotRequired decides; __required_keys__ misses it under string annotations on 3.11.
        wrapper = typing.get_origin(hint)
        if wrapper not in (typing.Required, typing.NotRequired):
            wrapper = typing.Required if key in cls.__required_keys__ else typing.NotRequired
        required = wrapper is typing.Required
        fields[key] = (typing_extensions.Required if required else typing_extensions.NotRequired)[
            _pydantic_ready(_bare(hint))
        ]
    rebuilt = typing_extensions.TypedDict(cls.__name__, fields)  # type: ignore[misc]
    rebuilt.__doc__ = cls.__doc__
    return rebuilt


def _bare(hint: Any) -> Any:
    """``hint`` without a ``Required``/``NotRequired`` wrapper (the rebuilt TypedDict adds its own)."""
    while typing.get_origin(hint) in (typing.Required, typing.NotRequired):
        hint = typing.get_args(hint)[0]
    return hint


def _tidy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic's JSON schema as a model should read it: refs inlined, and no generated titles.

    Small models follow an inline schema far better than ``$ref`` chains, and the titles pydantic derives
    from field names only cost tokens. A recursive type keeps its ``$defs``.
    """
    defs = schema.get("$defs", {})

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [walk(n, seen) for n in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            name = ref.removeprefix("#/$defs/")
            if name in defs and name not in seen:
                return walk(defs[name], (*seen, name))
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$defs" or (key == "title" and isinstance(value, str)):
                continue
            if key == "properties" and isinstance(value, dict):  # its keys are field names, not keywords
                out[key] = {name: walk(sub, seen) for name, sub in value.items()}
            else:
                out[key] = walk(value, seen)
        return out

    tidy = walk(schema, ())
    if "$ref" in json.dumps(tidy):  # recursive: keep what the refs point at
        tidy["$defs"] = {name: walk(d, (name,)) for name, d in defs.items()}
    return typing.cast(dict[str, Any], tidy)


def _arguments_type(fn: Callable[..., Any], tool_name: str, param_docs: dict[str, str]) -> Any:
    """A TypedDict of ``fn``'s parameters (not ``session``), each with its docstring description.

    A TypedDict rather than a pydantic model, so that no parameter name clashes with a model
    attribute (``json``, ``copy``, ``model_...``), and an argument the model left out stays out:
    the function applies its own default.
    """
    hints = typing.get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for pname, param in inspect.signature(fn).parameters.items():
        if pname == "session":
            continue
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"tool '{tool_name}': *{pname} cannot be described to a model; name each parameter")
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise TypeError(f"tool '{tool_name}': parameter '{pname}' is positional-only; tools are called by name")
        extra: dict[str, Any] = {}
        if pname in param_docs:
            extra["description"] = param_docs[pname]
        if param.default is not inspect.Parameter.empty:
            extra["default"] = param.default
        hint = typing.Annotated[_pydantic_ready(hints.get(pname, Any)), pydantic.Field(**extra)]  # type: ignore[valid-type]
        wrap = typing_extensions.Required if param.default is inspect.Parameter.empty else typing_extensions.NotRequired
        fields[pname] = wrap[hint]
    arguments = typing_extensions.TypedDict(f"{tool_name}_arguments", fields)  # type: ignore[misc]
    arguments.__pydantic_config__ = pydantic.ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return arguments


def _field_errors(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    """Each problem of a bad call as {field, message, type}, the field a dotted path (``rows.0.coef``)."""
    out = []
    for err in exc.errors(include_url=False, include_context=False):
        where = ".".join(str(part) for part in err["loc"]) or "(root)"
        out.append({"field": where, "message": err["msg"], "type": err["type"]})
    return out


def invalid_arguments(errors: list[dict[str, Any]]) -> ToolResult:
    """The structured result of a call whose arguments failed validation; the tool did not run."""
    shown = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ToolResult.failure(f"invalid arguments: {shown}{more}", error_kind="invalid_arguments", errors=errors)


def tool(
    name: str | None = None,
    *,
    timeout: float | None = 60.0,
    output_cap: int = DEFAULT_OUTPUT_CAP,
    input_schema: dict[str, Any] | None = None,
    prompt_hint: str = "",
    enforces_timeout: bool = False,
    timeout_option: str | None = None,
) -> Callable[[RunFn], Tool]:
    """Turn a typed, documented function into a :class:`Tool`.

    The docstring's summary (and any further description) becomes the tool's description and
    its ``Args:`` section the parameter descriptions (Google, NumPy or reST style, parsed by
    docstring-parser). The type hints become the JSON schema through pydantic, and every
    call is validated against them before the function runs: a wrong type, a missing or an
    unknown field comes back as an ``invalid_arguments`` result naming the field, and the
    function receives converted values (a ``Path`` as a Path, a float given as "2" as 2.0).
    Any type pydantic knows works, nested ones included (TypedDict, pydantic models,
    ``list[...]``, ``Literal``). A ``session`` parameter, if declared, receives the
    :class:`ToolSession`. Pass ``input_schema`` to use a hand-made JSON schema instead.
    """

    def decorate(fn: RunFn) -> Tool:
        tool_name = name or fn.__name__
        doc = docstring_parser.parse(inspect.getdoc(fn) or "")
        description = "\n\n".join(p for p in (doc.short_description, doc.long_description) if p)
        arguments_type = None
        schema = input_schema
        if schema is None:
            params = {p.arg_name: " ".join(p.description.split()) for p in doc.params if p.description}
            arguments_type = _arguments_type(fn, tool_name, params)
            try:
                schema = _tidy_schema(pydantic.TypeAdapter(arguments_type).json_schema())
            except pydantic.PydanticUserError as exc:
                raise TypeError(f"tool '{tool_name}': its parameter types cannot be described: {exc}") from exc
        return Tool(
            name=tool_name,
            description=description,
            input_schema=schema,
            fn=fn,
            timeout=timeout,
            output_cap=output_cap,
            prompt_hint=prompt_hint,
            enforces_timeout=enforces_timeout,
            timeout_option=timeout_option,
            arguments_type=arguments_type,
        )

    return decorate
