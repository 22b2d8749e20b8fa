"""Loki's response shapes and query semantics against the real binary (issue 10, point 2):
structured metadata and parsed labels folded into stream labels by default and categorized on
request (query_range, query, tail), metric range queries aligned to the step, instant window
edges, index stats' chunk count, query statistics per component, buildinfo and format_query."""

import json

from helpers import push as pf
from helpers.server import wait_until
from .test_read_api_extra import WsClient

S = 10**9
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def push_metadata_fixture(srv, app, t0):
    r = srv.push_json([{"stream": {"app": app}, "values": [
        [t0, "level=info msg=a", {"trace_id": "t1"}],
        [t0 + 1, "level=warn msg=b", {"trace_id": "t2"}],
        [t0 + 2, "level=info msg=c"],
    ]}])
    assert r.status_code == 204, r.text


def test_default_folds_metadata_into_stream_labels(sluice):
    t0 = pf.now_ns() - 60 * S
    push_metadata_fixture(sluice, "fold", t0)
    r = sluice.query_range('{app="fold"}', t0 - S, t0 + S, direction="forward")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert "encodingFlags" not in data
    got = sorted((json.dumps(s["stream"], sort_keys=True), s["values"]) for s in data["result"])
    assert got == sorted([
        (json.dumps({"app": "fold", "trace_id": "t1"}), [[str(t0), "level=info msg=a"]]),
        (json.dumps({"app": "fold", "trace_id": "t2"}), [[str(t0 + 1), "level=warn msg=b"]]),
        (json.dumps({"app": "fold"}), [[str(t0 + 2), "level=info msg=c"]]),
    ])
    # Parsed labels are folded in too.
    r = sluice.query_range('{app="fold"} | logfmt | level="info"', t0 - S, t0 + S,
                           direction="forward")
    streams = {json.dumps(s["stream"], sort_keys=True): s["values"] for s in r.json()["data"]["result"]}
    assert streams == {
        json.dumps({"app": "fold", "level": "info", "msg": "a", "trace_id": "t1"}, sort_keys=True):
            [[str(t0), "level=info msg=a"]],
        json.dumps({"app": "fold", "level": "info", "msg": "c"}, sort_keys=True):
            [[str(t0 + 2), "level=info msg=c"]],
    }


def test_categorize_labels_keeps_stream_labels_and_splits_entries(sluice):
    t0 = pf.now_ns() - 60 * S
    push_metadata_fixture(sluice, "cat", t0)
    r = sluice.query_range('{app="cat"} | logfmt', t0 - S, t0 + S, direction="forward",
                           headers=CATEGORIZE)
    assert r.status_code == 200, r.text
    # Loki writes the flags right after resultType.
    assert r.text.startswith('{"status":"success","data":{"resultType":"streams",'
                             '"encodingFlags":["categorize-labels"],"result":['), r.text[:120]
    result = r.json()["data"]["result"]
    assert [s["stream"] for s in result] == [{"app": "cat"}]
    assert result[0]["values"] == [
        [str(t0), "level=info msg=a",
         {"structuredMetadata": {"trace_id": "t1"}, "parsed": {"level": "info", "msg": "a"}}],
        [str(t0 + 1), "level=warn msg=b",
         {"structuredMetadata": {"trace_id": "t2"}, "parsed": {"level": "warn", "msg": "b"}}],
        [str(t0 + 2), "level=info msg=c", {"parsed": {"level": "info", "msg": "c"}}],
    ]
    # No stages: metadata only, and {} for an entry without.
    r = sluice.query_range('{app="cat"}', t0 - S, t0 + S, direction="forward", headers=CATEGORIZE)
    values = r.json()["data"]["result"][0]["values"]
    assert [v[2] for v in values] == [{"structuredMetadata": {"trace_id": "t1"}},
                                      {"structuredMetadata": {"trace_id": "t2"}}, {}]
    # Metric responses carry the flags too; their shape is otherwise unchanged.
    r = sluice.get("/loki/api/v1/query", params={"query": 'count_over_time({app="cat"}[5m])',
                                                 "time": str(t0 + S)}, headers=CATEGORIZE)
    data = r.json()["data"]
    assert data["encodingFlags"] == ["categorize-labels"]
    # (Structured metadata is part of a sample's labels, as in Loki.)
    assert sorted((json.dumps(s["metric"], sort_keys=True), s["value"][1])
                  for s in data["result"]) == sorted([
        (json.dumps({"app": "cat", "trace_id": "t1"}), "1"),
        (json.dumps({"app": "cat", "trace_id": "t2"}), "1"),
        (json.dumps({"app": "cat"}), "1")])


def test_tail_frames_follow_the_same_rule(sluice):
    t0 = pf.now_ns() - 10 * S
    push_metadata_fixture(sluice, "tailshape", t0)
    params = {"query": '{app="tailshape"}', "start": str(t0 - S), "limit": "10"}

    def first_frame(headers):
        ws = WsClient(sluice.port, "/loki/api/v1/tail", params, headers=headers)
        try:
            assert ws.status_line.startswith("HTTP/1.1 101"), ws.status_line
            op, payload = ws.recv()
            assert op == 1, (op, payload)
            return json.loads(payload)
        finally:
            ws.close()

    plain = first_frame(None)
    assert "encodingFlags" not in plain
    assert sorted((json.dumps(s["stream"], sort_keys=True), len(v))
                  for s in plain["streams"] for v in s["values"]) == sorted([
        (json.dumps({"app": "tailshape", "trace_id": "t1"}), 2),
        (json.dumps({"app": "tailshape", "trace_id": "t2"}), 2),
        (json.dumps({"app": "tailshape"}), 2)])
    cat = first_frame(CATEGORIZE)
    assert cat["encodingFlags"] == ["categorize-labels"]
    assert [s["stream"] for s in cat["streams"]] == [{"app": "tailshape"}]
    assert [v[2] for v in cat["streams"][0]["values"]] == [
        {"structuredMetadata": {"trace_id": "t1"}}, {"structuredMetadata": {"trace_id": "t2"}}, {}]


def test_metric_range_steps_are_aligned_to_the_step(sluice):
    step = 60
    base = (pf.now_ns() // S - 3600) // step * step  # a multiple of the step, an hour ago
    values = [[(base + i) * S, f"line {i}"] for i in range(0, 600, 10)]
    assert sluice.push_json([{"stream": {"app": "align"}, "values": values}]).status_code == 204
    q = 'count_over_time({app="align"}[1m])'

    def points(start, end):
        r = sluice.query_range(q, start, end, step=f"{step}s")
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        assert len(result) == 1, result
        return [(float(t), v) for t, v in result[0]["values"]]

    odd = points((base + 17) * S, (base + 437) * S)  # neither end on a step
    assert [t for t, _ in odd] == [float(base + k * step) for k in range(0, 9)]
    assert odd == points(base * S, (base + 480) * S)  # the aligned range answers the same
    assert all(v == "6" for t, v in odd[1:]), odd


def test_instant_window_is_open_at_start_closed_at_time(sluice):
    t = (pf.now_ns() // S - 600) // 60 * 60 * S  # on a step, so the range query evaluates at t
    r = sluice.push_json([{"stream": {"app": "edges"}, "values": [
        [t - 300 * S, "at start: out"], [t - 300 * S + 1, "just after start: in"],
        [t, "at time: in"], [t + 1, "after time: out"]]}])
    assert r.status_code == 204, r.text
    for q, want in (('count_over_time({app="edges"}[5m])', "2"),
                    ('sum by (app) (count_over_time({app="edges"}[5m]))', "2")):
        r = sluice.get("/loki/api/v1/query", params={"query": q, "time": str(t)})
        assert r.status_code == 200, r.text
        assert [s["value"][1] for s in r.json()["data"]["result"]] == [want], (q, r.text)
        # A range query evaluated at the same instant counts the same.
        r = sluice.query_range(q, t, t, step="60s")
        assert [s["values"][-1][1] for s in r.json()["data"]["result"]] == [want], (q, r.text)


def test_index_stats_counts_chunks_in_memory_and_in_the_store(sluice_factory):
    srv = sluice_factory(["-ingester.flush-check-period=30s"])
    t0 = pf.now_ns() - 60 * S
    r = srv.push_json([
        {"stream": {"app": "ch", "pod": "a"}, "values": [[t0, "x"], [t0 + S, "y"]]},
        {"stream": {"app": "ch", "pod": "b"}, "values": [[t0, "z"]]},
        {"stream": {"app": "other"}, "values": [[t0, "o"]]},
    ])
    assert r.status_code == 204, r.text
    params = {"query": '{app="ch"}', "start": str(t0 - S), "end": str(t0 + 10 * S)}

    def chunks():
        r = srv.get("/loki/api/v1/index/stats", params=params)
        assert r.status_code == 200, r.text
        return r.json()["chunks"]

    assert chunks() == 2
    assert srv.post("/flush").status_code == 204
    wait_until(lambda: srv.metric("loki_ingester_chunks_flushed_total", reason="forced") >= 3,
               timeout=10, what="3 forced flushes")
    assert chunks() == 2  # now the store's; the flushed copies in memory are not counted again
    r = srv.push_json([{"stream": {"app": "ch", "pod": "a"}, "values": [[t0 + 2 * S, "new"]]}])
    assert r.status_code == 204, r.text
    assert chunks() == 3  # a new chunk in memory beside the flushed ones
    empty = srv.get("/loki/api/v1/index/stats",
                    params={**params, "start": str(t0 + 5 * S)}).json()
    assert empty["chunks"] == 0, empty


def test_query_stats_report_ingester_and_store_reads(sluice_factory):
    srv = sluice_factory(["-ingester.flush-check-period=30s"])
    t0 = pf.now_ns() - 60 * S
    # 7 + 7 + 9 line bytes, 8 + 3 bytes of structured metadata.
    r = srv.push_json([{"stream": {"app": "st"}, "values": [
        [t0, "alpha 1"], [t0 + 1, "beta 22", {"trace_id": "abc"}], [t0 + 2, "gamma 333"]]}])
    assert r.status_code == 204, r.text

    def stats():
        r = srv.query_range('{app="st"} != "beta"', t0 - S, t0 + S)
        assert r.status_code == 200, r.text
        return r.json()["data"]["stats"]

    s = stats()
    ing, store = s["ingester"], s["querier"]["store"]
    assert ing["totalReached"] == 1 and ing["totalChunksMatched"] == 1, ing
    assert ing["totalLinesSent"] == 2, ing
    assert ing["store"]["chunk"]["headChunkLines"] == 3, ing
    assert ing["store"]["chunk"]["headChunkBytes"] == 23 + 11, ing
    assert ing["store"]["chunk"]["headChunkStructuredMetadataBytes"] == 11, ing
    assert ing["store"]["chunk"]["postFilterLines"] == 2, ing
    assert store["totalChunksRef"] == 0 and store["chunk"]["decompressedLines"] == 0, store
    assert s["index"]["totalChunks"] == 0, s["index"]
    assert s["summary"]["totalLinesProcessed"] == 3, s["summary"]

    assert srv.post("/flush").status_code == 204
    wait_until(lambda: srv.metric("loki_ingester_chunks_flushed_total", reason="forced") >= 1,
               timeout=10, what="a forced flush")
    # The flushed chunk is read from the store now; memory keeps its copy until the retain
    # period is over, so the ingester still sends it (the querier's merge drops the duplicates).
    s = stats()
    store = s["querier"]["store"]
    assert store["totalChunksRef"] == 1 and store["totalChunksDownloaded"] == 1, store
    assert store["chunk"]["decompressedLines"] == 3, store
    assert store["chunk"]["decompressedBytes"] == 23 + 11, store
    assert store["chunk"]["decompressedStructuredMetadataBytes"] == 11, store
    assert store["chunk"]["compressedBytes"] > 0, store
    assert store["chunk"]["postFilterLines"] == 2, store
    assert s["index"]["totalChunks"] == 1 and s["index"]["postFilterChunks"] == 1, s["index"]
    ing = s["ingester"]["store"]["chunk"]
    assert ing["headChunkLines"] + ing["decompressedLines"] + store["chunk"]["decompressedLines"] \
        == s["summary"]["totalLinesProcessed"], s


def test_format_query(sluice):
    r = sluice.get("/loki/api/v1/format_query",
                   params={"query": 'sum  by(job)(rate({app="x"}|="e"[5m]))'})
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "data": 'sum by (job)(rate({app="x"} |= "e"[5m]))'}
    r = sluice.post("/loki/api/v1/format_query", data={"query": '{app="x"}   | json'})
    assert r.json() == {"status": "success", "data": '{app="x"} | json'}
    r = sluice.get("/loki/api/v1/format_query", params={"query": '{app="x"'})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "invalid-query" and body["error"].startswith("parse error"), body
