"""OpenTelemetry spans: their parent/child structure and GenAI attributes, in memory and over real OTLP/HTTP."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from solvegraph import tracing
from solvegraph.agents import SolveRunner
from solvegraph.llm import ModelClient
from tests.conftest import run_cli

pytest.importorskip("opentelemetry.sdk", reason="solvegraph[otel] is part of the test install")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SCRIPT = {
    "planner": ["1. Compute 6 * 3."],
    "solver": [{"tool_calls": [{"name": "python", "arguments": {"code": "print(6 * 3)"}}]}, "ANSWER: 18"],
    "verifier": ["VERDICT: ACCEPT\nThe program printed 18."],
}


@pytest.fixture
def memory_exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.enable(exporter=exporter)
    try:
        yield exporter
    finally:
        tracing.disable()


def test_a_solve_is_a_tree_of_node_model_and_tool_spans(scripted, memory_exporter) -> None:
    with scripted(SCRIPT) as model:
        t = SolveRunner(ModelClient(model.base_url)).solve("What is 6 * 3?")
    assert t.answer == "18"
    spans = memory_exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}

    def parent(s):
        return by_id.get(s.parent.span_id) if s.parent else None

    (root,) = [s for s in spans if s.name == "invoke_agent solvegraph"]
    assert root.parent is None and root.attributes["gen_ai.operation.name"] == "invoke_agent"
    nodes = [s for s in spans if s.name.startswith("solvegraph.node ")]
    assert [n.name.split()[-1] for n in sorted(nodes, key=lambda s: s.start_time)] == [
        "planner", "solver", "solver", "verifier", "finish",
    ]  # fmt: skip
    assert all(parent(n) is root for n in nodes)
    chats = [s for s in spans if s.name == "chat scripted"]
    assert len(chats) == 4 and all(parent(c).name.startswith("solvegraph.node ") for c in chats)
    assert all(c.attributes["gen_ai.request.model"] == "scripted" for c in chats)
    assert all(c.attributes["gen_ai.usage.input_tokens"] > 0 for c in chats)
    (tool,) = [s for s in spans if s.name == "execute_tool python"]
    assert parent(tool).name == "solvegraph.node solver"
    assert tool.attributes["gen_ai.tool.name"] == "python" and tool.attributes["solvegraph.tool.ok"] is True


def test_off_by_default_and_free() -> None:
    assert not tracing.enabled()
    assert tracing.span("x") is tracing.span("y"), "one shared no-op, nothing made per call"


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.received.extend(s.name for s in scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_solve_with_otel_sends_spans_to_an_otlp_collector(scripted) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with scripted(SCRIPT) as model:
            proc = run_cli("solve", "What is 6 * 3?", "--base-url", model.base_url, "--no-memory", "--otel",
                           env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})  # fmt: skip
        assert proc.returncode == 3, proc.stderr  # solved, model-accepted (see exit_code)
    finally:
        server.shutdown()
    names = _Collector.received
    assert "invoke_agent solvegraph" in names and "execute_tool python" in names
    assert names.count("chat scripted") == 4 and "solvegraph.node verifier" in names
