"""The OpenTelemetry JS logs SDK pushes to sluice's /otlp/v1/logs through its real OTLP/HTTP
exporters (npm, pinned in node/package.json), then LogQL finds the records by their attributes.

What the exporters send (0.223.1, checked through the recording proxy):
- @opentelemetry/exporter-logs-otlp-http: `Content-Type: application/json`, OTLP's JSON encoding
  (hex trace/span ids, nanosecond timestamps as strings); with `compression: 'gzip'`,
  `Content-Encoding: gzip`.
- @opentelemetry/exporter-logs-otlp-proto: `Content-Type: application/x-protobuf`, a serialized
  ExportLogsServiceRequest.
Loki 3's mapping applies: service.name, service.namespace, k8s.pod.name and
deployment.environment become the stream labels service_name, service_namespace, k8s_pod_name and
deployment_environment; host.name and the record attributes become structured metadata with dots
turned into underscores, next to severity_text/severity_number, trace_id/span_id and
scope_name/scope_version.
"""

import gzip
import time
import uuid

import pytest
import requests

from e2e_support import e2e_run_node, e2e_wait_until
from e2e_wire import streams_of

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"


def window(t0_ns):
    return t0_ns - 60 * 10**9, time.time_ns() + 60 * 10**9


def lines(sluice, query, t0, tenant, categorize=True):
    """Lines and streams of a query. Categorized (Loki 3's categorize-labels), streams keep their
    index labels; by default Loki folds structured metadata into them, a stream per label set."""
    start, end = window(t0)
    headers = {"X-Loki-Response-Encoding-Flags": "categorize-labels"} if categorize else None
    result = streams_of(sluice.query_range(query, start, end, 1000, tenant=tenant,
                                           extra_headers=headers))
    return sorted(v[1] for s in result for v in s["values"]), result


@pytest.mark.parametrize("exporter,compression,content_type", [
    ("json", "gzip", "application/json"),
    ("proto", "none", "application/x-protobuf"),
])
def test_otel_js_sdk_exporters(e2e_sluice_mt, e2e_node_modules, e2e_proxy_factory, exporter,
                               compression, content_type):
    sluice, n = e2e_sluice_mt, 120
    tenant = f"tenant-otel-{exporter}"
    run = uuid.uuid4().hex[:8]
    service = f"otel-{exporter}-{run}"
    proxy = e2e_proxy_factory(sluice.url)
    t0 = time.time_ns()
    summary, stderr = e2e_run_node("push_otel.js", {
        "url": proxy.url + "/otlp/v1/logs", "tenant": tenant, "exporter": exporter,
        "compression": compression, "count": n, "prefix": service,
        "resource": {"service.name": service, "service.namespace": "e2e",
                     "k8s.pod.name": "pod-1", "deployment.environment": "test",
                     "host.name": "host-a"},
        "attributes": {"http.route": "/api/items", "user.id": "u-7"},
        "traceId": TRACE_ID, "spanId": SPAN_ID})
    assert summary["sent"] == n and summary["errors"] == [], (summary, stderr)

    # What went over the wire is what this test claims to exercise.
    posts = [r for r in proxy.requests if r["path"] == "/otlp/v1/logs"]
    assert posts
    for p in posts:
        headers = {k.lower(): v for k, v in p["headers"].items()}
        assert headers["content-type"].startswith(content_type), headers
        assert headers["x-scope-orgid"] == tenant
        if compression == "gzip":
            assert headers.get("content-encoding") == "gzip"
            body = gzip.decompress(p["body"])
        else:
            assert "content-encoding" not in headers
            body = p["body"]
        if exporter == "json":
            assert body.startswith(b'{"resourceLogs"'), body[:80]
            assert TRACE_ID.encode() in body  # hex, as OTLP JSON spells ids

    want = sorted(f"{service} {i}" for i in range(n))
    got, result = lines(sluice, f'{{service_name="{service}"}}', t0, tenant)
    assert got == want
    assert len(result) == 1
    assert result[0]["stream"] == {
        "service_name": service, "service_namespace": "e2e", "k8s_pod_name": "pod-1",
        "deployment_environment": "test"}, result[0]["stream"]
    # Without the flag, each line's metadata is part of its stream's labels (seq differs per line).
    folded_lines, folded = lines(sluice, f'{{service_name="{service}"}}', t0, tenant,
                                 categorize=False)
    assert folded_lines == want
    assert len(folded) == n
    assert all(s["stream"]["service_name"] == service and "seq" in s["stream"] for s in folded)

    # Structured metadata: resource attributes outside the default list, record attributes,
    # severity, ids and the scope.
    sel = f'{{service_name="{service}"}}'
    got, _ = lines(sluice, sel + ' | host_name="host-a" | http_route="/api/items" '
                   '| severity_text="ERROR" | severity_number="17"', t0, tenant)
    assert got == sorted(f"{service} {i}" for i in range(0, n, 10))
    got, _ = lines(sluice, sel + f' | trace_id="{TRACE_ID}" | span_id="{SPAN_ID}" '
                   '| scope_name="sluice-e2e" | scope_version="1.2.3" | user_id="u-7"',
                   t0, tenant)
    assert got == want
    got, _ = lines(sluice, sel + ' | seq="7"', t0, tenant)
    assert got == [f"{service} 7"]

    # The other tenant sees none of it; every line was counted as received.
    assert lines(sluice, sel, t0, tenant + "-other")[0] == []
    e2e_wait_until(
        lambda: sluice.metric_value("loki_distributor_lines_received_total",
                                    {"tenant": tenant}) == n,
        timeout=5, what="lines received")


def test_otlp_errors_as_loki_answers(e2e_sluice):
    url = e2e_sluice.url + "/otlp/v1/logs"

    def body_at(ts_ns):
        return (b'{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":'
                b'{"stringValue":"curl"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"'
                + str(ts_ns).encode() + b'","body":{"stringValue":"hello"}}]}]}]}')

    # Success: 204, as Loki's OTLP handler answers.
    body = body_at(time.time_ns())
    r = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 204, r.content
    # A bad body: 400 with a google.rpc.Status whose message names the problem.
    r = requests.post(url, data=b'{"resourceLogs":{}}',
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.content[0] == 0x12 and b"resourceLogs: expected an array" in r.content
    r = requests.post(url, data=b"x", headers={"Content-Type": "text/plain"}, timeout=5)
    assert r.status_code == 400 and b"content type: text/plain is not supported" in r.content
    # A record too old for reject_old_samples: the distributor's 400, in the same envelope.
    r = requests.post(url, data=body_at(10**18), headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 400 and b"timestamp too old" in r.content, r.content
