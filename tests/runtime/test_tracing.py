"""An OpenTelemetry span per action on every transport, current while the action runs."""
from __future__ import annotations

import json
import socket

import pytest
import requests
import websocket
from opentelemetry import trace
from opentelemetry.sdk import trace as sdk
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from hero.process import Process
from hero.runtime.tracing import OTelTracer, build_tracer
from tests.support.apps import write_app

ACTIONS = {
    "actions/traced.py": '''
from opentelemetry import trace

from hero import Action


class Traced(Action):
    name = "traced"

    def run(self, data):
        # the action's span is the current one: spans opened here are its children
        return {"span": format(trace.get_current_span().get_span_context().span_id, "016x")}


class Broken(Action):
    name = "broken"

    def run(self, data):
        raise RuntimeError("broken on purpose")
''',
}


@pytest.fixture
def traced_app(tmp_path):
    exporter = InMemorySpanExporter()
    provider = sdk.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    process = Process(write_app(tmp_path, ACTIONS), env="test", environ={},
                      overrides={"web": {"port": 0}, "socket": {"port": 0}, "general": {"shutdown_timeout": 2.0}})
    api = process.initialize()
    assert api.processor.tracer is not None  # on by default: opentelemetry-api is installed
    api.processor.tracer = OTelTracer("hero", provider=provider)
    process.start()
    yield api, exporter
    process.stop()


def test_every_transport_gets_a_span_per_action_current_while_it_runs(traced_app):
    api, exporter = traced_app
    web = api.servers["web"].url
    answers = [requests.get(f"{web}/api/traced", timeout=5).json()]
    ws = websocket.create_connection(web.replace("http", "ws") + "/ws", timeout=5)
    ws.recv()
    ws.send(json.dumps({"event": "action", "params": {"action": "traced"}, "messageId": 7}))
    answers.append(json.loads(ws.recv()))
    ws.close()
    host, port = api.servers["socket"].url.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as tcp:
        reader = tcp.makefile("rb")
        reader.readline()
        tcp.sendall(b"traced\r\n")
        answers.append(json.loads(reader.readline()))
        reader.close()
    spans = {span.attributes["hero.transport"]: span for span in exporter.get_finished_spans() if span.name == "traced"}
    assert set(spans) == {"web", "websocket", "socket"}
    for answer in answers:
        span = next(span for span in spans.values() if format(span.context.span_id, "016x") == answer["span"])
        assert span.kind == trace.SpanKind.SERVER and span.attributes["hero.status"] == 200
    assert spans["websocket"].attributes["hero.message_id"] == "7"


def test_an_unexpected_error_marks_the_span(traced_app):
    api, exporter = traced_app
    assert requests.get(f"{api.servers['web'].url}/api/broken", timeout=5).status_code == 500
    [span] = [span for span in exporter.get_finished_spans() if span.name == "broken"]
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.attributes["hero.status"] == 500 and len(span.attributes["hero.error_id"]) == 16
    assert any(event.name == "exception" for event in span.events)


def test_tracing_off_leaves_nothing_on_the_path():
    assert build_tracer({"enabled": False, "tracer": "hero"}) is None
    assert build_tracer({"enabled": None, "tracer": "hero"}) is not None


def test_an_http_request_carrying_a_traceparent_joins_the_callers_trace(traced_app):
    api, exporter = traced_app
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = requests.get(f"{api.servers['web'].url}/api/traced", timeout=5,
                            headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert response.status_code == 200
    [span] = [span for span in exporter.get_finished_spans() if span.name == "traced"]
    assert format(span.context.trace_id, "032x") == trace_id
    assert format(span.parent.span_id, "016x") == parent_id
