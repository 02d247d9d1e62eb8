"""Emits OpenTelemetry log records inside a span with the OpenTelemetry Python SDK and
exports them to Seer over OTLP (gRPC or HTTP). Prints the span's trace id (hex).

Usage: otel_logs.py grpc|http <endpoint> <service name>
  grpc endpoint: host:port; http endpoint: http://host:port/v1/logs
"""
import logging
import sys

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

mode, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    exporter = OTLPLogExporter(endpoint=endpoint)

resource = Resource.create({"service.name": service, "deployment.environment": "test", "host.name": "h1"})
trace.set_tracer_provider(TracerProvider(resource=resource))
provider = LoggerProvider(resource=resource)
provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
log = logging.getLogger("checkout")
log.setLevel(logging.INFO)
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=provider))

tracer = trace.get_tracer("seer-test")
with tracer.start_as_current_span("checkout") as span:
    trace_id = format(span.get_span_context().trace_id, "032x")
    log.info("order placed trace_id=%s", trace_id, extra={"order.id": "o-17"})
    log.error("payment declined trace_id=%s", trace_id)
log.info("outside any span")
provider.force_flush()
provider.shutdown()
print(trace_id)
