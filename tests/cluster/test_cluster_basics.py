"""A cluster from scripts/cluster.sh (etcd ring, 3 ingesters at RF 3, queriers pulling from the
query frontend) answers as the single binary does, and each process serves its role."""

import time

from helpers.server import wait_until

QUERIES_LOGS = [
    '{app="web"}',
    '{app="web"} |= "GET"',
    '{app=~"web|api"} | logfmt | status >= 500',
    '{app="api"} | json | line_format "{{.msg}}"',
]
QUERIES_METRIC = [
    'sum by (app) (count_over_time({app=~".+"}[1m]))',
    'rate({app="web"} |= "GET" [5m])',
    'sum(bytes_over_time({app="api"}[10m]))',
    'topk(2, sum by (level) (count_over_time({app=~".+"} | logfmt [5m])))',
]


def _corpus(t0):
    web, api = [], []
    for i in range(400):
        ts = t0 + i * 1_000_000_000
        web.append([str(ts), f'level={"error" if i % 7 == 0 else "info"} method={"GET" if i % 2 else "POST"} '
                             f'status={500 if i % 11 == 0 else 200} i={i}'])
        api.append([str(ts + 1), '{"msg":"call %d","level":"%s"}' % (i, "warn" if i % 5 == 0 else "info")])
    return [{"stream": {"app": "web", "env": "prod"}, "values": web},
            {"stream": {"app": "api", "env": "prod"}, "values": api}]


def _normalized(resp):
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    if data["resultType"] == "streams":
        return sorted((tuple(sorted(s["stream"].items())), tuple(map(tuple, s["values"])))
                      for s in data["result"])
    return sorted((tuple(sorted(s["metric"].items())), tuple(map(tuple, s["values"])))
                  for s in data["result"])


def test_cluster_answers_as_the_single_binary(cluster_factory, sluice_factory):
    cluster = cluster_factory(ingesters=3, rf=3)
    single = sluice_factory()
    t0 = (time.time_ns() // 60_000_000_000 - 30) * 60_000_000_000
    for target in (cluster.front, single):
        r = target.push_json(_corpus(t0))
        assert r.status_code == 204, r.text
    start, end = t0 - 60_000_000_000, t0 + 900_000_000_000
    for q in QUERIES_LOGS:
        for direction in ("forward", "backward"):
            a = _normalized(cluster.front.query_range(q, start, end, limit=1000, direction=direction))
            b = _normalized(single.query_range(q, start, end, limit=1000, direction=direction))
            assert a == b, f"{q} {direction}"
            assert a, f"{q} returned nothing"
    for q in QUERIES_METRIC:
        a = _normalized(cluster.front.query_range(q, start, end, step="60s"))
        b = _normalized(single.query_range(q, start, end, step="60s"))
        assert a == b, q
        assert a, f"{q} returned nothing"
    for path, params in (("/loki/api/v1/labels", {}), ("/loki/api/v1/label/app/values", {}),
                         ("/loki/api/v1/series", {"match[]": '{env="prod"}'})):
        params = dict(params, start=str(start), end=str(end))
        a = cluster.front.get(path, params=params)
        b = single.get(path, params=params)
        assert a.status_code == b.status_code == 200, (a.text, b.text)
        key = (lambda d: sorted(map(lambda x: sorted(x.items()) if isinstance(x, dict) else x, d)))
        assert key(a.json()["data"]) == key(b.json()["data"]), path

    # RF 3: every ingester holds both streams.
    for name in ("ingester-1", "ingester-2", "ingester-3"):
        m = cluster.get(name, "/metrics").text
        line = [l for l in m.splitlines() if l.startswith("loki_ingester_memory_streams")]
        assert line and float(line[0].split()[-1]) == 2, (name, line)


def test_each_process_serves_its_role(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, distributors=2, queriers=1)
    ring = cluster.ring()
    assert sorted(ring) == ["ingester-1", "ingester-2", "ingester-3"]
    for shard in ring.values():
        assert shard["state"] == "ACTIVE"
        assert len(shard["tokens"]) == 128

    # A distributor takes pushes and answers 404 to queries, saying where they go.
    t = time.time_ns()
    r = cluster.post("distributor-2", "/loki/api/v1/push",
                     json={"streams": [{"stream": {"app": "d2"}, "values": [[str(t), "via d2"]]}]})
    assert r.status_code == 204, r.text
    r = cluster.get("distributor-2", "/loki/api/v1/query_range", params={"query": '{app="d2"}'})
    assert r.status_code == 404
    assert "distributor" in r.text and "querier" in r.text
    # A querier answers queries (what distributor-2 stored, through the ingesters) but no pushes.
    wait_until(lambda: cluster.front.query_lines('{app="d2"}', t - 10**9, t + 10**9) == ["via d2"],
               timeout=10, what="the line pushed through distributor-2")
    r = cluster.get("querier-1", "/loki/api/v1/query_range",
                    params={"query": '{app="d2"}', "start": str(t - 10**9), "end": str(t + 10**9)})
    assert r.status_code == 200 and r.json()["data"]["result"], r.text
    r = cluster.post("querier-1", "/loki/api/v1/push",
                     json={"streams": [{"stream": {"app": "q"}, "values": [[str(t), "x"]]}]})
    assert r.status_code == 404 and "distributor" in r.text
    # Ingesters are ready, and say nothing about queries.
    for name in ("ingester-1", "ingester-2", "ingester-3"):
        assert cluster.get(name, "/ready").status_code == 200
        assert cluster.get(name, "/loki/api/v1/labels").status_code == 404
    # Both distributors are in the distributor ring: a global rate is split between them.
    assert "loki_ring_members" in cluster.get("frontdoor", "/metrics").text


def test_two_of_three_ingesters_down_fails_pushes_and_loses_nothing(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1)
    t = time.time_ns()
    ok = cluster.front.push_json([{"stream": {"app": "q"}, "values": [[str(t), "before"]]}])
    assert ok.status_code == 204, ok.text
    cluster.kill("ingester-1")
    cluster.kill("ingester-2")
    for i in range(5):
        r = cluster.front.push_json([{"stream": {"app": "q"}, "values": [[str(t + i + 1), f"down {i}"]]}])
        assert r.status_code >= 500, (r.status_code, r.text)
        assert "replica" in r.text or "live replicas" in r.text, r.text
    cluster.restart("ingester-1")
    cluster.restart("ingester-2")
    wait_until(lambda: all(s["state"] == "ACTIVE" for s in cluster.ring().values()), timeout=30,
               what="every ingester ACTIVE again")
    lines = cluster.front.query_lines('{app="q"}', t - 10**9, t + 10**10)
    assert "before" in lines
    r = cluster.front.push_json([{"stream": {"app": "q"}, "values": [[str(t + 100), "after"]]}])
    assert r.status_code == 204, r.text
