"""Real Loki client libraries (winston-loki, pino-loki from npm) push to the real sluice binary.

Each test runs the client in a Node process against a recording pass-through proxy in front of
sluice, checks what the client actually sent (so a silent fallback, say from protobuf to JSON,
cannot go unnoticed), then reads everything back with query_range and checks that every line
arrived exactly once, in order, with the client's labels.

What the clients send (pinned versions in node/package.json):
- winston-loki 6.1.7: POST /loki/api/v1/push, `Content-Type: application/x-protobuf`, body =
  snappy block-compressed logproto.PushRequest (no Content-Encoding header), labels as the string
  `{level="info",k="v",...}` (level first, values unescaped), one stream per label set per batch,
  timestamps = Date.now() in milliseconds (so many lines share a timestamp), no structured
  metadata. With `json: true`: `Content-Type: application/json`, every value is a 3-tuple
  `[ns, line, {meta...}]` where the metadata is the winston info minus message (it includes
  `level`). Custom headers (X-Scope-OrgID) pass through `headers`. Batches every `interval` s.
- pino-loki 3.0.0 (via fetch): `Content-Type: application/json`; ONE stream object PER LINE (a
  batch of N lines is N stream objects with identical labels, one value each); labels
  {level, hostname, ...labels option}; timestamp = pino `time` (ms) * 1e6 as a string; line = the
  pino record as JSON without hostname; the `meta` object becomes structured metadata (3rd value
  element, values stringified). Push failures are only printed to stderr.
"""

import json
import time
import uuid

import snappy

from e2e_support import e2e_run_node, e2e_wait_until
from e2e_wire import assert_exact_sequence, decode_push_request, streams_of

CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def expected_lines(prefix, n):
    # Unpadded numbers: emission order differs from byte order ("x 10" < "x 2"), so a server
    # that reorders lines sharing a timestamp (the clients send milliseconds) is caught.
    return [f"{prefix} {i}" for i in range(n)]


def window(t0_ns):
    return t0_ns - 60 * 10**9, time.time_ns() + 60 * 10**9


def assert_tenant_isolation(sluice, query, t0_ns, owner):
    start, end = window(t0_ns)
    assert streams_of(sluice.query_range(query, start, end, 1000, tenant=owner + "-other")) == []
    r = sluice.query_range(query, start, end, 1000, tenant=None)
    assert r.status_code == 401, (r.status_code, r.text)
    assert r.text.strip() == "no org id"


def assert_no_pino_loki_errors(stderr):
    # pino-loki swallows push failures after printing one of these (src/log_pusher.ts).
    assert "Got error when trying to send log to loki" not in stderr, stderr
    assert "Got unknown error when trying to send log to Loki" not in stderr, stderr


def assert_lines_received(sluice, tenant, n):
    # The distributor counts every accepted line per tenant.
    e2e_wait_until(
        lambda: sluice.metric_value("loki_distributor_lines_received_total", {"tenant": tenant}) == n,
        timeout=5, what=f"loki_distributor_lines_received_total{{tenant={tenant!r}}} == {n}")


def test_winston_loki_protobuf_snappy_multi_tenant(e2e_sluice_mt, e2e_node_modules,
                                                   e2e_proxy_factory):
    sluice, tenant, n = e2e_sluice_mt, "tenant-winston", 500
    run = uuid.uuid4().hex[:12]
    labels = {"app": "winston-e2e", "run": run}
    proxy = e2e_proxy_factory(sluice.url)
    t0 = time.time_ns()
    summary, stderr = e2e_run_node("push_winston.js", {
        "url": proxy.url, "tenant": tenant, "count": n, "prefix": "winston", "labels": labels,
        "json": False, "interval": 0.2, "meta": False, "groups": 4})
    t1 = time.time_ns()
    assert summary == {"sent": n, "json": False, "errors": []}, (summary, stderr)

    # On the wire: snappy-compressed protobuf, several batches, tenant header on each.
    pushes = proxy.pushes()
    assert len(pushes) >= 2, f"expected several batches, got {len(pushes)}"
    wire_lines = []
    for p in pushes:
        headers = {k.lower(): v for k, v in p["headers"].items()}
        assert headers["content-type"] == "application/x-protobuf"
        assert "content-encoding" not in headers
        assert headers["x-scope-orgid"] == tenant
        streams = decode_push_request(snappy.uncompress(p["body"]))
        for s in streams:
            assert s["labels"] == f'{{level="info",app="winston-e2e",run="{run}"}}'
            for ts, line, sm in s["entries"]:
                assert ts % 1_000_000 == 0, "winston-loki sends millisecond timestamps"
                assert sm == {}
                wire_lines.append(line)
    assert wire_lines == expected_lines("winston", n)

    start, end = window(t0)
    result = streams_of(sluice.query_range(f'{{app="winston-e2e", run="{run}"}}', start, end,
                                           1000, tenant=tenant))
    assert len(result) == 1, [r["stream"] for r in result]
    assert result[0]["stream"] == {"level": "info", **labels}
    values = result[0]["values"]
    assert all(len(v) == 2 for v in values), values[:3]
    assert_exact_sequence([v[1] for v in values], expected_lines("winston", n))
    stamps = [int(v[0]) for v in values]
    assert stamps == sorted(stamps)
    assert t0 // 10**6 * 10**6 <= stamps[0] and stamps[-1] <= t1

    assert_tenant_isolation(sluice, '{app="winston-e2e"}', t0, tenant)
    assert_lines_received(sluice, tenant, n)


def test_winston_loki_json_structured_metadata(e2e_sluice, e2e_node_modules, e2e_proxy_factory):
    sluice, n = e2e_sluice, 200
    run = uuid.uuid4().hex[:12]
    labels = {"app": "winston-json-e2e", "run": run}
    proxy = e2e_proxy_factory(sluice.url)
    t0 = time.time_ns()
    summary, stderr = e2e_run_node("push_winston.js", {
        "url": proxy.url, "count": n, "prefix": "winston-json", "labels": labels, "json": True,
        "interval": 0.2, "meta": True, "groups": 2})
    assert summary == {"sent": n, "json": True, "errors": []}, (summary, stderr)

    pushes = proxy.pushes()
    assert pushes
    for p in pushes:
        headers = {k.lower(): v for k, v in p["headers"].items()}
        assert headers["content-type"] == "application/json"
        assert "x-scope-orgid" not in headers
        body = json.loads(p["body"])
        for s in body["streams"]:
            assert s["stream"] == {"level": "info", **labels}
            assert all(len(v) == 3 and isinstance(v[2], dict) for v in s["values"])

    start, end = window(t0)
    result = streams_of(sluice.query_range(f'{{run="{run}"}}', start, end, 1000,
                                           extra_headers=CATEGORIZE))
    assert len(result) == 1, [r["stream"] for r in result]
    assert result[0]["stream"] == {"level": "info", **labels}
    values = result[0]["values"]
    # Each line keeps its own metadata (checked before order so a reordering shows up alone).
    for v in values:
        seq = v[1].rsplit(" ", 1)[1]
        # `level` is a stream label too: Loki renames the metadata one (LabelsBuilder.Add).
        assert v[2] == {"structuredMetadata": {"seq": seq, "level_extracted": "info"}}, v
    assert_exact_sequence([v[1] for v in values], expected_lines("winston-json", n))
    assert_lines_received(sluice, "fake", n)


def test_pino_loki_json_multi_tenant(e2e_sluice_mt, e2e_node_modules, e2e_proxy_factory):
    sluice, tenant, n = e2e_sluice_mt, "tenant-pino", 500
    run = uuid.uuid4().hex[:12]
    labels = {"app": "pino-e2e", "run": run}
    proxy = e2e_proxy_factory(sluice.url)
    t0 = time.time_ns()
    summary, stderr = e2e_run_node("push_pino.js", {
        "url": proxy.url, "tenant": tenant, "count": n, "prefix": "pino", "labels": labels,
        "interval": 0.2, "meta": True, "groups": 3})
    assert summary == {"sent": n}
    assert_no_pino_loki_errors(stderr)

    pushes = proxy.pushes()
    assert len(pushes) >= 2, f"expected several batches, got {len(pushes)}"
    wire_streams = 0
    for p in pushes:
        headers = {k.lower(): v for k, v in p["headers"].items()}
        assert headers["content-type"] == "application/json"
        assert headers["x-scope-orgid"] == tenant
        body = json.loads(p["body"])
        for s in body["streams"]:
            assert s["stream"] == {"level": "info", "hostname": "e2e-host", **labels}
            assert len(s["values"]) == 1
            wire_streams += 1
    assert wire_streams == n, "pino-loki sends one stream object per line"

    start, end = window(t0)
    result = streams_of(sluice.query_range(f'{{app="pino-e2e", run="{run}"}}', start, end, 1000,
                                           tenant=tenant, extra_headers=CATEGORIZE))
    assert len(result) == 1, [r["stream"] for r in result]
    assert result[0]["stream"] == {"level": "info", "hostname": "e2e-host", **labels}
    values = result[0]["values"]
    records = [json.loads(v[1]) for v in values]
    for v, rec in zip(values, records):
        assert rec["level"] == 30 and "hostname" not in rec
        assert int(v[0]) == rec["time"] * 10**6, "timestamp is pino's time in ns"
        assert rec["msg"] == f"pino {rec['meta']['seq']}"
        assert v[2] == {"structuredMetadata": {"seq": str(rec["meta"]["seq"]), "tag": "e2e"}}, v
    assert_exact_sequence([r["msg"] for r in records], expected_lines("pino", n))
    stamps = [int(v[0]) for v in values]
    assert stamps == sorted(stamps)

    assert_tenant_isolation(sluice, '{app="pino-e2e"}', t0, tenant)
    assert_lines_received(sluice, tenant, n)


def test_winston_and_pino_share_a_tenant(e2e_sluice_mt, e2e_node_modules):
    """Both clients write to one tenant at once; a selector spanning both sees both, apart."""
    import concurrent.futures

    sluice, tenant, n = e2e_sluice_mt, "shared", 300
    run = uuid.uuid4().hex[:12]
    t0 = time.time_ns()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        w = pool.submit(e2e_run_node, "push_winston.js", {
            "url": sluice.url, "tenant": tenant, "count": n, "prefix": "w", "json": False,
            "labels": {"app": "mixed", "client": "winston", "run": run}, "interval": 0.2,
            "meta": False, "groups": 3})
        p = pool.submit(e2e_run_node, "push_pino.js", {
            "url": sluice.url, "tenant": tenant, "count": n, "prefix": "p",
            "labels": {"app": "mixed", "client": "pino", "run": run}, "interval": 0.2,
            "meta": False, "groups": 3})
        assert w.result()[0]["errors"] == []
        assert_no_pino_loki_errors(p.result()[1])

    start, end = window(t0)
    result = streams_of(sluice.query_range(f'{{app="mixed", run="{run}"}}', start, end, 2000,
                                           tenant=tenant))
    by_client = {r["stream"]["client"]: r for r in result}
    assert sorted(by_client) == ["pino", "winston"], [r["stream"] for r in result]
    assert_exact_sequence([v[1] for v in by_client["winston"]["values"]], expected_lines("w", n))
    assert_exact_sequence([json.loads(v[1])["msg"] for v in by_client["pino"]["values"]],
                          expected_lines("p", n))
    assert_lines_received(sluice, tenant, 2 * n)


def test_lines_sharing_a_timestamp_keep_push_order(e2e_sluice):
    """The minimal form of what the clients above rely on (they send millisecond timestamps).

    Loki keeps write order for entries of one stream with the same timestamp (unordered head
    block: "preserve write ordering of entries with the same ts"; mergeEntryIterator: "we want to
    preserve their original order"), forward in push order and backward in reverse push order,
    dropping only exact (timestamp, line) duplicates.
    """
    sluice = e2e_sluice
    ts = time.time_ns()
    sluice.push_json([{"stream": {"app": "same-ts"},
                       "values": [[str(ts), "b"], [str(ts), "a"], [str(ts), "c"], [str(ts), "a"]]}])
    sluice.push_json([{"stream": {"app": "same-ts"}, "values": [[str(ts), "0"]]}])

    def lines(direction):
        result = streams_of(sluice.query_range('{app="same-ts"}', ts - 10**9, ts + 10**9, 100,
                                               direction=direction))
        return [v[1] for r in result for v in r["values"]]

    assert lines("forward") == ["b", "a", "c", "0"]
    assert lines("backward") == ["0", "c", "a", "b"]
