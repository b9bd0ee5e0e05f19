"""OpenTelemetry spans for solves, graph nodes, model calls and tool calls; off, and free, unless turned on.

Turned on by ``--otel`` or by ``OTEL_EXPORTER_OTLP_ENDPOINT`` being set (``config.Settings.otel``): the
CLI then calls :func:`enable`, which installs the official SDK's tracer provider with an OTLP/HTTP
exporter (the ``solvegraph[otel]`` extra; its own ``OTEL_*`` variables say where and how). A caller
that already set up OpenTelemetry (a tracer provider of its own) can call :func:`enable` with
``provider=None, exporter=None`` to have solvegraph's spans join it.

Names and attributes follow the GenAI semantic conventions:

- ``invoke_agent solvegraph`` per solve (``gen_ai.operation.name = invoke_agent``);
- ``solvegraph.node <name>`` per graph node run (planner, solver, verifier, refiner, finish);
- ``chat <model>`` per model call (``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
  ``gen_ai.usage.output_tokens``, ``server.address``);
- ``execute_tool <name>`` per tool call (``gen_ai.tool.name``, ``solvegraph.tool.ok``,
  ``solvegraph.tool.duration_s``).

When tracing is off, :func:`span` is one global check and a shared no-op context manager: nothing
is imported from OpenTelemetry and nothing is allocated per call.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

_tracer: Any = None
_NOTHING = contextlib.nullcontext(None)

F = TypeVar("F", bound=Callable[..., Any])


def enabled() -> bool:
    return _tracer is not None


def enable(exporter: Any = "otlp", provider: Any = "sdk") -> None:
    """Start emitting spans: to ``exporter`` (default: OTLP over HTTP) through a new SDK provider.

    ``provider=None`` uses the tracer provider already set globally (the caller's own set-up).
    """
    global _tracer
    try:
        from opentelemetry import trace
    except ImportError:
        from .errors import ConfigError

        raise ConfigError(
            "tracing (--otel, OTEL_EXPORTER_OTLP_ENDPOINT) needs: pip install 'solvegraph[otel]'"
        ) from None
    if provider == "sdk":
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        sdk = TracerProvider(resource=Resource.create({"service.name": "solvegraph"}))
        atexit.register(sdk.shutdown)  # the batch of spans still queued is sent before the process ends
        if exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            sdk.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif exporter is not None:
            sdk.add_span_processor(SimpleSpanProcessor(exporter))
        _tracer = sdk.get_tracer("solvegraph")
    else:
        _tracer = trace.get_tracer("solvegraph")


def disable() -> None:
    global _tracer
    _tracer = None


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[Any]:
    """A span around a block (current for what runs inside it), or nothing at all when tracing is off."""
    if _tracer is None:
        return _NOTHING
    return _tracer.start_as_current_span(name, attributes={k: v for k, v in attributes.items() if v is not None})


def set_attributes(current: Any, **attributes: Any) -> None:
    """Attributes learned inside the block (tokens, ok); ``current`` is what :func:`span` gave (None when off)."""
    if current is not None:
        current.set_attributes({k: v for k, v in attributes.items() if v is not None})


def traced(name: str) -> Callable[[F], F]:
    """Decorate a function (a graph node) so each call is a span; its signature is kept for LangGraph."""

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                with span(name):
                    return await fn(*args, **kwargs)

            return awrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with span(name):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


@contextlib.contextmanager
def solve_span(problem: str, model: str) -> Iterator[Any]:
    attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "solvegraph",
        "gen_ai.request.model": model,
        "solvegraph.problem.chars": len(problem),
    }
    with span("invoke_agent solvegraph", **attributes) as current:
        yield current
