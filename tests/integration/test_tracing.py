"""Tracing in the single binary: a W3C traceparent on a push and a query is continued, each
stage's span is exported over OTLP/HTTP (protobuf) to a receiver run by the test, and the
request's log line carries the trace id. (tests/cluster/test_cluster_tracing.py follows a trace
across processes over gRPC.)"""

import re

from helpers import push as pf
from helpers.otlp_receiver import OtlpReceiver, children, one
from helpers.server import wait_until

S = 10**9
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
QUERY_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "00f067aa0ba902b7"


def _flags(rx, ratio):
    return ["-tracing.enabled=true", f"-tracing.otlp-endpoint={rx.url}",
            f"-tracing.sampling-ratio={ratio}", "-log.level=debug",
            "-querier.split-queries-by-interval=1h"]


def test_push_and_query_span_trees(sluice_factory):
    with OtlpReceiver() as rx:
        # Ratio 0: only requests whose caller sampled the trace are recorded.
        s = sluice_factory(flags=_flags(rx, 0))
        now = pf.now_ns()
        streams = [{"stream": {"app": "traced"}, "values": [[now - 3600 * S, "old"],
                                                             [now - 10 * S, "new"]]}]
        r = s.push_proto(streams, headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        assert r.status_code == 204, r.text
        # The request's span ends last: once it is in, the whole tree is.
        spans = rx.wait_trace(TRACE_ID, lambda sp: any(
            x["name"] == "POST /loki/api/v1/push" for x in sp))
        root = one(spans, "POST /loki/api/v1/push")
        assert root["parent_span_id"] == PARENT_ID and root["kind"] == "server"
        assert root["attributes"]["http.response.status_code"] == 204
        assert root["attributes"]["http.route"] == "loki_api_v1_push"
        assert root["service"] == "sluice"
        stages = [x["name"] for x in children(spans, root)]
        assert stages == ["ingester.wal", "push.decode", "push.validate"], stages
        assert one(spans, "push.decode")["attributes"]["streams"] == 1
        assert one(spans, "push.validate")["attributes"]["lines"] == 2
        assert one(spans, "ingester.wal")["attributes"]["entries"] == 2
        for x in spans:
            assert root["start"] <= x["start"] <= x["end"] <= root["end"], x

        # The request's log line names the trace.
        log = wait_until(lambda: [l for l in s.stderr_path.read_text().splitlines()
                                  if f"traceID={TRACE_ID}" in l], timeout=5, what="log line")
        assert re.search(r'method=POST path=/loki/api/v1/push status=204 ', log[0]), log[0]

        # An unsampled push (no traceparent, ratio 0) records nothing.
        assert s.push_proto([{"stream": {"app": "untraced"},
                              "values": [[now - 5 * S, "x"]]}]).status_code == 204

        r = s.query_range('sum(count_over_time({app="traced"}[1m]))', start=now - 3 * 3600 * S,
                          end=now, step="60s",
                          headers={"traceparent": f"00-{QUERY_TRACE_ID}-{PARENT_ID}-01"})
        assert r.status_code == 200, r.text
        spans = rx.wait_trace(QUERY_TRACE_ID, lambda sp: any(
            x["name"] == "GET /loki/api/v1/query_range" for x in sp))
        root = one(spans, "GET /loki/api/v1/query_range")
        split = one(spans, "query.split")
        n = split["attributes"]["splits"]
        assert n >= 3  # three hours cut at 1h
        by_parent = [x["name"] for x in children(spans, root)]
        assert by_parent == ["query.exec"] * n + ["query.merge"] + ["query.queue"] * n + \
            ["query.split"], by_parent
        for run in (x for x in spans if x["name"] == "query.exec"):
            reads = children(spans, run)
            sources = sorted(x["attributes"]["source"] for x in reads if x["name"] == "query.read")
            assert sources == ["ingester", "store"], [x["name"] for x in reads]
        assert all(x["trace_id"] == QUERY_TRACE_ID for x in spans)
        # Nothing but the two sampled requests' traces was exported.
        assert {x["trace_id"] for x in rx.spans()} == {TRACE_ID, QUERY_TRACE_ID}
        assert rx.bad_requests == []


def test_tracing_without_an_endpoint_warns_and_serves(sluice_factory):
    # Loki's `tracing: {enabled: true}` alone: sluice has nowhere to send spans, says so, runs.
    s = sluice_factory(flags=["-tracing.enabled=true"])
    assert "no OTLP endpoint" in s.stderr_path.read_text()
    assert s.push_json([{"stream": {"app": "x"}, "values": [[pf.now_ns(), "x"]]}]).status_code == 204


def test_bad_sampling_ratio_is_refused(sluice_factory):
    s = sluice_factory(flags=["-tracing.enabled=true", "-tracing.sampling-ratio=2"], start=False)
    s.spawn()
    assert s.wait_exit(timeout=15) != 0
    assert "tracing.sampling_ratio: 2 is not between 0 and 1" in s.stderr_path.read_text()
