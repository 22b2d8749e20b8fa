"""An OTLP/HTTP trace receiver on 127.0.0.1 for tests: sluice posts its spans here (protobuf,
POST /v1/traces) and the test reads them back as plain dicts to check a trace's span tree.

    with OtlpReceiver() as rx:
        start sluice with -tracing.otlp-endpoint=rx.url
        spans = rx.wait_trace(trace_id_hex, lambda spans: len(spans) >= 5)
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from helpers.protos import load_proto
from helpers.server import wait_until

_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client"}


def _value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class OtlpReceiver:
    def __init__(self):
        self._pb2 = load_proto("otlp_trace")
        self._lock = threading.Lock()
        self._spans = []
        self.bad_requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces" or \
                        self.headers.get("Content-Type") != "application/x-protobuf":
                    receiver.bad_requests.append((self.path, self.headers.get("Content-Type")))
                    self.send_response(400)
                    self.end_headers()
                    return
                receiver._add(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1/traces"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def _add(self, body):
        request = self._pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        spans = []
        for rs in request.resource_spans:
            resource = {kv.key: _value(kv.value) for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append({
                        "name": s.name,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "kind": _KINDS.get(s.kind, str(s.kind)),
                        "start": s.start_time_unix_nano,
                        "end": s.end_time_unix_nano,
                        "attributes": {kv.key: _value(kv.value) for kv in s.attributes},
                        "error": s.status.code == 2,
                        "service": resource.get("service.name"),
                        "resource": resource,
                    })
        with self._lock:
            self._spans.extend(spans)

    def spans(self, trace_id=None):
        with self._lock:
            return [s for s in self._spans if trace_id is None or s["trace_id"] == trace_id]

    def wait_trace(self, trace_id, done, timeout=15):
        """The spans of `trace_id` once done(spans) holds (spans are exported in batches)."""
        wait_until(lambda: done(self.spans(trace_id)), timeout=timeout,
                   what=f"spans of trace {trace_id}")
        return self.spans(trace_id)


def children(spans, parent):
    """The spans whose parent is `parent` (a span dict), by name."""
    return sorted((s for s in spans if s["parent_span_id"] == parent["span_id"]),
                  key=lambda s: s["name"])


def one(spans, name):
    """The single span called `name`; fails naming what is there otherwise."""
    found = [s for s in spans if s["name"] == name]
    assert len(found) == 1, (name, sorted(s["name"] for s in spans))
    return found[0]
