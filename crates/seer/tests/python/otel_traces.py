"""Produces one trace across three services (frontend -> checkout -> payment) with the
OpenTelemetry Python SDK and exports it to Seer over OTLP (gRPC or HTTP). Prints, as JSON,
what the SDK itself recorded (the ground truth the test compares Seer's answers with).

Usage: otel_traces.py grpc|http <endpoint> <service suffix>
  grpc endpoint: host:port; http endpoint: http://host:port/v1/traces
"""
import json
import sys
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

mode, endpoint, suffix = sys.argv[1], sys.argv[2], sys.argv[3]


def exporter():
    if mode == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, insecure=True)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)


memory = InMemorySpanExporter()
providers = {}
for svc in ("frontend", "checkout", "payment"):
    p = TracerProvider(
        resource=Resource.create({"service.name": svc + suffix, "service.version": "1.2.3", "deployment.environment": "test"})
    )
    p.add_span_processor(SimpleSpanProcessor(exporter()))
    p.add_span_processor(SimpleSpanProcessor(memory))
    providers[svc] = p

front = providers["frontend"].get_tracer("shop.frontend", "0.1.0")
checkout = providers["checkout"].get_tracer("shop.checkout", "0.2.0")
payment = providers["payment"].get_tracer("shop.payment", "0.3.0")

with front.start_as_current_span(
    "GET /checkout", kind=SpanKind.SERVER, attributes={"http.method": "GET", "http.status_code": 200, "http.route": "/checkout"}
) as root:
    with front.start_as_current_span("POST /api/checkout", kind=SpanKind.CLIENT, attributes={"peer.service": "checkout"}):
        with checkout.start_as_current_span(
            "checkout.process", kind=SpanKind.SERVER, attributes={"cart.items": 3, "cart.total": 42.5, "vip": True}
        ) as s2:
            s2.add_event("cart loaded", {"items": 3, "source": "redis"})
            with checkout.start_as_current_span("POST /api/pay", kind=SpanKind.CLIENT):
                with payment.start_as_current_span(
                    "payment.charge",
                    kind=SpanKind.SERVER,
                    attributes={"payment.method": "card", "amount": 42.5, "tags": ["a", "b"]},
                    links=[Link(root.get_span_context(), {"link.reason": "audit"})],
                ) as s3:
                    time.sleep(0.15)
                    s3.add_event("exception", {"exception.type": "CardDeclined", "exception.message": "card declined"})
                    s3.set_status(Status(StatusCode.ERROR, "card declined"))

for p in providers.values():
    p.force_flush()
    p.shutdown()


def value(v):
    return list(v) if isinstance(v, tuple) else v


spans = []
for s in memory.get_finished_spans():
    spans.append(
        {
            "trace_id": format(s.context.trace_id, "032x"),
            "span_id": format(s.context.span_id, "016x"),
            "parent_span_id": format(s.parent.span_id, "016x") if s.parent else "",
            "name": s.name,
            "kind": s.kind.value + 1,  # Python's SpanKind starts at INTERNAL = 0; OTLP's at 1
            "service": s.resource.attributes["service.name"],
            "scope": s.instrumentation_scope.name,
            "start": s.start_time,
            "end": s.end_time,
            "attributes": {k: value(v) for k, v in s.attributes.items()},
            "events": [{"name": e.name, "time": e.timestamp, "attributes": {k: value(v) for k, v in e.attributes.items()}} for e in s.events],
            "links": [
                {"trace_id": format(l.context.trace_id, "032x"), "span_id": format(l.context.span_id, "016x"), "attributes": dict(l.attributes)}
                for l in s.links
            ],
            "status": {"UNSET": 0, "OK": 1, "ERROR": 2}[s.status.status_code.name],
            "status_message": s.status.description or "",
        }
    )
print(json.dumps({"trace_id": spans[0]["trace_id"], "spans": spans}))
