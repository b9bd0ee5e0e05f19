"""The tool contract every plugin implements, and the ``@tool`` decorator.

A tool is a name, a description, a JSON-schema input and a run function. Running a
tool never raises: bad arguments, exceptions, timeouts and oversized output all
come back as a :class:`ToolResult`, because the agents must turn any failure into
feedback for the refiner rather than into a crash.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import inspect
import re
import threading
import time
import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonschema

from ..types import ToolResult

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
    # runs in), by name, so that no tool imports another: name -> factory(session).
    _services: typing.ClassVar[dict[str, Callable[[ToolSession], Any]]] = {}

    @classmethod
    def provide(cls, name: str, factory: Callable[[ToolSession], Any]) -> None:
        """Offer a per-session service under ``name`` (a plugin does this when it is loaded)."""
        cls._services[name] = factory

    def service(self, name: str) -> Any:
        """This session's ``name`` service, e.g. ``"python.kernel"``; LookupError when no loaded plugin offers it."""
        factory = self._services.get(name)
        if factory is None:
            raise LookupError(f"no plugin offers the '{name}' service (is the plugin that provides it installed?)")
        return factory(self)

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


@dataclass
class Tool:
    """A callable capability offered to the agents.

    ``run(arguments, session)`` validates the arguments, enforces the timeout and
    the output cap, and always returns a :class:`ToolResult`.
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

    def validate(self, arguments: Any) -> str | None:
        if not isinstance(arguments, dict):
            return f"arguments must be a JSON object, got {type(arguments).__name__}"
        try:
            error = jsonschema.exceptions.best_match(self._validator.iter_errors(arguments))
            if error is not None:
                raise error
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            return f"invalid arguments at {where}: {exc.message}"
        return None

    def run(self, arguments: Any, session: ToolSession | None = None) -> ToolResult:
        started = time.perf_counter()
        problem = self.validate(arguments)
        if problem is not None:
            result = ToolResult.failure(problem)
        else:
            own_session = session is None
            session = session or ToolSession()
            try:
                result = self._invoke(arguments, session)
            finally:
                if own_session:
                    session.close()
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


_JSON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _type_schema(annotation: Any) -> dict[str, Any]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation in _JSON_TYPES:
        return {"type": _JSON_TYPES[annotation]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, tuple, set) or annotation in (list, tuple, set):
        return {"type": "array", "items": _type_schema(args[0])} if args else {"type": "array"}
    if origin is dict or annotation is dict:
        return {"type": "object"}
    if origin in (typing.Union, types.UnionType):
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1:
            return _type_schema(non_null[0])
        return {"anyOf": [_type_schema(a) for a in non_null]}
    return {}


def _param_docs(doc: str) -> dict[str, str]:
    """Parse a Google-style ``Args:`` section into {name: description}."""
    match = re.search(r"^\s*Args:\s*$(.*?)(?=^\s*\w+:\s*$|\Z)", doc, re.M | re.S)
    if not match:
        return {}
    out: dict[str, str] = {}
    current = None
    for line in match.group(1).splitlines():
        m = re.match(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
        if m:
            current = m.group(1)
            out[current] = m.group(2).strip()
        elif current and line.strip():
            out[current] += " " + line.strip()
    return out


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

    The docstring's first paragraph becomes the description and its ``Args:``
    section the parameter descriptions; the type hints become the JSON schema. A
    ``session`` parameter, if declared, receives the :class:`ToolSession`.
    """

    def decorate(fn: RunFn) -> Tool:
        doc = inspect.getdoc(fn) or ""
        description = doc.split("\n\n", 1)[0].strip()
        schema = input_schema
        if schema is None:
            hints = typing.get_type_hints(fn)
            docs = _param_docs(doc)
            props: dict[str, Any] = {}
            required: list[str] = []
            for pname, param in inspect.signature(fn).parameters.items():
                if pname == "session":
                    continue
                prop = _type_schema(hints.get(pname, Any))
                if pname in docs:
                    prop["description"] = docs[pname]
                if param.default is inspect.Parameter.empty:
                    required.append(pname)
                else:
                    prop["default"] = param.default
                props[pname] = prop
            schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        return Tool(
            name=name or fn.__name__,
            description=description,
            input_schema=schema,
            fn=fn,
            timeout=timeout,
            output_cap=output_cap,
            prompt_hint=prompt_hint,
            enforces_timeout=enforces_timeout,
            timeout_option=timeout_option,
        )

    return decorate
