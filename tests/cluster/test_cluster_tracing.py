"""A trace across processes: the front door (distributor and query frontend), two ingesters
and a querier all export to one OTLP receiver, and the W3C trace context travels over gRPC, so
one push is one tree from the HTTP request down to each ingester's WAL, and one query one tree
from the frontend's split to each querier's reads."""

from helpers import push as pf
from helpers.otlp_receiver import OtlpReceiver, children, one

S = 10**9
PUSH_TRACE = "5bf92f3577b34da6a3ce929d0e0e4736"
QUERY_TRACE = "1af7651916cd43dd8448eb211c80319c"
PARENT = "00f067aa0ba902b7"


def test_push_and_query_traces_cross_grpc(cluster_factory):
    with OtlpReceiver() as rx:
        cluster = cluster_factory(ingesters=2, rf=2, queriers=1,
                                  flags=["-tracing.enabled=true",
                                         f"-tracing.otlp-endpoint={rx.url}",
                                         "-tracing.sampling-ratio=0",
                                         "-querier.split-queries-by-interval=1h"])
        front = cluster.front
        now = pf.now_ns()
        r = front.push_proto([{"stream": {"app": "traced"}, "values": [[now - 10 * S, "x"]]}],
                             headers={"traceparent": f"00-{PUSH_TRACE}-{PARENT}-01"})
        assert r.status_code == 204, r.text
        # Each process exports on its own schedule: wait for the whole tree.
        want = {"POST /loki/api/v1/push": 1, "push.decode": 1, "push.validate": 1,
                "push.replicate": 2, "ingester.Push": 2, "ingester.wal": 2}
        spans = rx.wait_trace(PUSH_TRACE, lambda sp: all(
            sum(x["name"] == name for x in sp) >= n for name, n in want.items()))
        root = one(spans, "POST /loki/api/v1/push")
        validate = one(spans, "push.validate")
        assert validate["parent_span_id"] == root["span_id"]
        sends = [x for x in spans if x["name"] == "push.replicate"]
        assert len(sends) == 2 and all(x["kind"] == "client" for x in sends), sends
        assert all(x["parent_span_id"] == root["span_id"] for x in sends)
        assert len({x["attributes"]["ingester"] for x in sends}) == 2
        for send in sends:
            (server,) = children(spans, send)
            assert server["name"] == "ingester.Push" and server["kind"] == "server"
            assert server["resource"]["sluice.target"] == "ingester"
            assert [x["name"] for x in children(spans, server)] == ["ingester.wal"]
        assert root["resource"]["sluice.target"] == "distributor,query-frontend"

        r = front.query_range('{app="traced"}', start=now - 2 * 3600 * S, end=now, limit=10,
                              headers={"traceparent": f"00-{QUERY_TRACE}-{PARENT}-01"})
        assert r.status_code == 200, r.text
        def query_tree_complete(sp):
            # A querier exports its reads before the run they belong to, and the frontend its
            # split before the root: once every split's run and the root are in, so are those.
            splits = [x["attributes"]["splits"] for x in sp if x["name"] == "query.split"]
            return (splits and any(x["name"] == "GET /loki/api/v1/query_range" for x in sp)
                    and sum(x["name"] == "querier.exec" for x in sp) == splits[0]
                    and sum(x["name"] == "ingester.SelectStreams" for x in sp) >= 2)

        spans = rx.wait_trace(QUERY_TRACE, query_tree_complete)
        root = one(spans, "GET /loki/api/v1/query_range")
        runs = [x for x in spans if x["name"] == "querier.exec"]
        assert runs and all(x["resource"]["sluice.target"] == "querier" for x in runs)
        assert all(x["parent_span_id"] == root["span_id"] for x in runs)
        reads = [x for x in spans if x["name"] == "query.read"]
        assert {x["parent_span_id"] for x in reads} <= {x["span_id"] for x in runs}
        ingester_side = [x for x in spans if x["name"] == "ingester.SelectStreams"]
        assert {x["parent_span_id"] for x in ingester_side} <= {x["span_id"] for x in reads}
        assert all(x["resource"]["sluice.target"] == "ingester" for x in ingester_side)
