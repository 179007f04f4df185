"""gunicorn configuration (`gunicorn -c otel_gunicorn.py`) that traces Kinto with OpenTelemetry's
own Python instrumentation (PyPI: opentelemetry-instrumentation-pyramid for the requests,
-sqlalchemy for PostgreSQL's queries) and writes the spans to a file, one OTLP
`ExportTraceServiceRequest` a line as the collector's file exporter does.

Each worker sets up its tracer after the fork (the SDK's batch thread does not survive a
fork) and writes its own file, `$TWIN_OTEL_FILE.<pid>.jsonl`, so no two processes append to
one file. The lines are protobuf's JSON mapping of the OTLP message (`MessageToJson`), which
writes trace and span ids in base64: the form a collector receiving OTLP/JSON from some SDKs
passes on, and one of the two `twin calibrate --traces` reads.
"""

import os


def post_fork(server, worker):
    from google.protobuf.json_format import MessageToJson
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.instrumentation.pyramid import PyramidInstrumentor
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class FileExporter(SpanExporter):
        def __init__(self, path):
            self.file = open(path, "a", encoding="utf-8")

        def export(self, spans):
            self.file.write(MessageToJson(encode_spans(spans), indent=None) + "\n")
            self.file.flush()
            return SpanExportResult.SUCCESS

        def shutdown(self):
            self.file.close()

    path = f"{os.environ['TWIN_OTEL_FILE']}.{os.getpid()}.jsonl"
    provider = TracerProvider(resource=Resource.create({"service.name": "kinto"}))
    provider.add_span_processor(BatchSpanProcessor(FileExporter(path)))
    trace.set_tracer_provider(provider)
    PyramidInstrumentor().instrument()
    # Its release declares SQLAlchemy < 2.1 and refuses Kinto's 2.1.9 (logging an error and
    # instrumenting nothing); the event API it hooks is unchanged in 2.1, and it traces.
    SQLAlchemyInstrumentor().instrument(skip_dep_check=True)
    worker.twin_tracer_provider = provider


def worker_exit(server, worker):
    provider = getattr(worker, "twin_tracer_provider", None)
    if provider is not None:
        provider.shutdown()  # flushes the batch still in memory
