"""The official Elasticsearch JavaScript client (@elastic/elasticsearch 8 from npm, pinned in
node/package.json) indexes documents into sluice with its bulk helper, client.helpers.bulk, at
VictoriaLogs' path /insert/elasticsearch; LogQL then finds the lines, stream labels and
structured metadata.

What the client needs, checked here through the real client: every 2xx answer carries
`X-Elastic-Product: Elasticsearch` (the client refuses an answer without it), GET on the node's
root answers the cluster's version, and the bulk answer has `took`, `errors` and one item per
document with its status. The client puts the node URL's path before /_bulk, sends the actions and
documents as NDJSON (gzip with `compression: true`), and sends helper options it does not know as
query parameters, which is how `_stream_fields` and friends reach sluice.
"""

import time
import uuid

import pytest

from e2e_support import e2e_run_node, e2e_wait_until
from e2e_wire import streams_of

CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def query(sluice, q, t0_ns, tenant, categorize=True):
    r = sluice.query_range(q, t0_ns - 60 * 10**9, time.time_ns() + 60 * 10**9, 1000,
                           tenant=tenant, extra_headers=CATEGORIZE if categorize else None)
    return streams_of(r)


def lines(result):
    return sorted(v[1] for s in result for v in s["values"])


@pytest.mark.parametrize("how", ["query", "headers"])
def test_elasticsearch_js_bulk_helper(e2e_sluice_mt, e2e_node_modules, how):
    sluice, n = e2e_sluice_mt, 150
    run = uuid.uuid4().hex[:8]
    tenant = f"tenant-es-{how}"
    service = f"es-{how}-{run}"
    t0_ms = int(time.time() * 1000) - 30_000
    cfg = {"url": sluice.url + "/insert/elasticsearch", "tenant": tenant, "count": n,
           "prefix": service, "service": service, "index": "app-logs", "t0Ms": t0_ms}
    params = {"_stream_fields": "service.name,host.name", "_msg_field": "message",
              "_time_field": "@timestamp", "ignore_fields": "tags"}
    if how == "query":
        cfg.update(compression="none", query=params)
    else:
        cfg.update(compression="gzip", headers={
            "VL-Stream-Fields": params["_stream_fields"], "VL-Msg-Field": params["_msg_field"],
            "VL-Time-Field": params["_time_field"], "VL-Ignore-Fields": params["ignore_fields"]})
    summary, stderr = e2e_run_node("push_elasticsearch.js", cfg)
    assert summary["version"].startswith("8."), summary
    assert summary["stats"] == {"total": n, "successful": n, "failed": 0, "aborted": False}, \
        (summary, stderr)
    assert summary["dropped"] == []

    # What the client sent (paths as the client names them, before it puts the node URL's path in
    # front): GET on the root, then several bulk requests (flushBytes splits them).
    sent = summary["requests"]
    assert sent[0]["method"] == "GET" and sent[0]["path"] == "/", sent[0]
    bulks = [r for r in sent if r["path"] == "/_bulk"]
    assert len(bulks) >= 2 and all(r["method"] == "POST" and r["error"] is None for r in bulks), sent
    assert len(sent) == len(bulks) + 1, sent
    # sluice served them at /insert/elasticsearch/ and /insert/elasticsearch/_bulk.
    def served(method, route):
        return sluice.metric_value("loki_request_duration_seconds_count", {
            "method": method, "route": route, "status_code": "200", "ws": "false"})
    assert served("GET", "insert_elasticsearch") == 1
    assert served("POST", "insert_elasticsearch_bulk") == len(bulks)
    for r in bulks:
        headers = {k.lower(): v for k, v in r["headers"].items()}
        assert "x-ndjson" in headers["content-type"], headers
        if how == "query":
            assert "_stream_fields=service.name%2Chost.name" in r["querystring"], r
        else:
            assert headers.get("content-encoding") == "gzip", headers
            assert r["querystring"] == "", r

    # Lines, timestamps and labels: service.name and host.name became the stream labels.
    sel = f'{{service_name="{service}"}}'
    result = query(sluice, sel, t0_ms * 10**6, tenant)
    assert len(result) == 1, result
    assert result[0]["stream"] == {"service_name": service, "host_name": "es-host"}
    values = sorted(result[0]["values"], key=lambda v: int(v[0]))
    assert [v[1] for v in values] == [f"{service} {i}" for i in range(n)]
    assert [int(v[0]) for v in values] == [(t0_ms + i) * 10**6 for i in range(n)]
    # Every other field is structured metadata (nested names flattened, dots as underscores);
    # the message, the time and the ignored tags are not.
    assert values[7][2]["structuredMetadata"] == {"log_level": "info", "seq": "7"}, values[7]
    got = lines(query(sluice, sel + ' | log_level="error"', t0_ms * 10**6, tenant))
    assert got == sorted(f"{service} {i}" for i in range(0, n, 10))
    assert lines(query(sluice, sel + ' | seq="42"', t0_ms * 10**6, tenant)) == [f"{service} 42"]
    assert lines(query(sluice, sel + ' | tags!=""', t0_ms * 10**6, tenant)) == []

    # The other tenant sees nothing; every line went through the distributor's accounting.
    assert query(sluice, sel, t0_ms * 10**6, tenant + "-other") == []
    e2e_wait_until(
        lambda: sluice.metric_value("loki_distributor_lines_received_total",
                                    {"tenant": tenant}) == n,
        timeout=5, what="lines received")
