"""Push in every format, read back through the query API.

One server (auth enabled) serves the whole module; every test uses its own tenant, so tests
cannot see each other's data.
"""

import datetime as dt
import json

import pytest
import snappy

from helpers import push as pf

S = 10**9


@pytest.fixture(scope="module")
def srv(module_sluice_factory):
    return module_sluice_factory(["-auth_enabled=true"], name="push-query")


def window(t0, n_seconds=60):
    return t0 - 5 * S, t0 + n_seconds * S


def ten_lines(t0, prefix="line"):
    return [[t0 + i * S, f"{prefix}-{i}"] for i in range(10)]


@pytest.mark.parametrize("fmt", ["json", "proto"])
def test_roundtrip_both_directions_with_limit(srv, fmt):
    tenant = f"rt-{fmt}"
    t0 = pf.now_ns() - 30 * S
    labels = {"app": "roundtrip", "env": "test"}
    push = srv.push_json if fmt == "json" else srv.push_proto
    r = push([{"stream": labels, "values": ten_lines(t0)}], tenant=tenant)
    assert r.status_code == 204, r.text
    assert r.text == ""
    start, end = window(t0)

    fwd = srv.query_streams('{app="roundtrip"}', start, end, limit=3, direction="forward", tenant=tenant)
    assert len(fwd) == 1
    assert fwd[0]["stream"] == labels
    assert fwd[0]["values"] == [[str(t0 + i * S), f"line-{i}"] for i in range(3)]

    bwd = srv.query_streams('{app="roundtrip"}', start, end, limit=3, direction="backward", tenant=tenant)
    assert bwd[0]["values"] == [[str(t0 + i * S), f"line-{i}"] for i in (9, 8, 7)]

    # Default direction is backward; default limit (100) returns everything.
    r = srv.query_range('{app="roundtrip"}', start, end, tenant=tenant)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "streams"
    assert "stats" in body["data"]
    assert [v[1] for v in body["data"]["result"][0]["values"]] == [f"line-{i}" for i in range(9, -1, -1)]

    # Case-insensitive direction.
    assert srv.query_lines('{app="roundtrip"}', start, end, limit=2, direction="FORWARD",
                           tenant=tenant) == ["line-0", "line-1"]


def test_limit_spans_streams_in_time_order(srv):
    tenant = "limit-multi"
    t0 = pf.now_ns() - 30 * S
    streams = [
        {"stream": {"app": "lm", "pod": "a"}, "values": [[t0 + i * S, f"a{i}"] for i in range(0, 10, 2)]},
        {"stream": {"app": "lm", "pod": "b"}, "values": [[t0 + i * S, f"b{i}"] for i in range(1, 10, 2)]},
    ]
    assert srv.push_json(streams, tenant=tenant).status_code == 204
    start, end = window(t0)
    got = srv.query_entries('{app="lm"}', start, end, limit=4, direction="forward", tenant=tenant)
    assert sorted(e[2] for e in got) == ["a0", "a2", "b1", "b3"]
    got = srv.query_entries('{app="lm"}', start, end, limit=3, direction="backward", tenant=tenant)
    assert sorted(e[2] for e in got) == ["a8", "b7", "b9"]


def test_json_and_proto_land_in_the_same_stream(srv):
    tenant = "mixed-formats"
    t0 = pf.now_ns() - 30 * S
    labels = {"app": "mixed"}
    assert srv.push_json([{"stream": labels, "values": [[t0, "from-json"]]}], tenant=tenant).status_code == 204
    assert srv.push_proto([{"stream": labels, "values": [[t0 + S, "from-proto"]]}],
                          tenant=tenant).status_code == 204
    streams = srv.query_streams('{app="mixed"}', *window(t0), tenant=tenant)
    assert len(streams) == 1
    assert [v[1] for v in streams[0]["values"]] == ["from-json", "from-proto"]


@pytest.fixture(scope="module")
def filters_t0(srv):
    t0 = pf.now_ns() - 30 * S
    r = srv.push_json([{"stream": {"app": "filters"}, "values": [[t0 + i * S, l] for i, l in enumerate(LINES)]}],
                      tenant="filters")
    assert r.status_code == 204, r.text
    return t0


LINES = ["GET /api/users 200", "POST /api/users 500", "GET /health 200", "error: disk full",
         "GET /api/orders 503", "DELETE /api/users/7 204"]


@pytest.mark.parametrize("query,expected", [
    ('{app="filters"} |= "GET"', ["GET /api/users 200", "GET /health 200", "GET /api/orders 503"]),
    ('{app="filters"} != "GET"', ["POST /api/users 500", "error: disk full", "DELETE /api/users/7 204"]),
    ('{app="filters"} |~ " 5\\\\d\\\\d$"', ["POST /api/users 500", "GET /api/orders 503"]),
    ('{app="filters"} !~ "GET|POST"', ["error: disk full", "DELETE /api/users/7 204"]),
    ('{app="filters"} |= "GET" != "health"', ["GET /api/users 200", "GET /api/orders 503"]),
    ('{app="filters"} |= "api" |~ "users" != "DELETE"', ["GET /api/users 200", "POST /api/users 500"]),
    ('{app="filters"} |~ "(?i)ERROR"', ["error: disk full"]),
    ('{app="filters"} |= ""', LINES),
    ('{app="filters"} |= "nothing matches this"', []),
])
def test_line_filters(srv, filters_t0, query, expected):
    assert srv.query_lines(query, *window(filters_t0), tenant="filters") == expected


@pytest.fixture(scope="module")
def matchers_t0(srv):
    t0 = pf.now_ns() - 30 * S
    streams = [{"stream": {"app": "matchers", "env": e}, "values": [[t0, f"line from {e}"]]}
               for e in ("prod", "dev", "staging")]
    assert srv.push_proto(streams, tenant="matchers").status_code == 204
    return t0


@pytest.mark.parametrize("selector,envs", [
    ('{app="matchers", env="prod"}', ["prod"]),
    ('{app="matchers", env!="prod"}', ["dev", "staging"]),
    ('{app="matchers", env=~"prod|dev"}', ["dev", "prod"]),
    ('{app="matchers", env=~"d.*"}', ["dev"]),
    ('{app="matchers", env!~"d.*"}', ["prod", "staging"]),
    ('{app="matchers", env=~".*"}', ["dev", "prod", "staging"]),
    ('{app=~"match.*", env!="nope"}', ["dev", "prod", "staging"]),
    ('{app="matchers", env="absent"}', []),
    ('{app="matchers", region=""}', ["dev", "prod", "staging"]),  # a missing label equals ""
])
def test_label_matchers(srv, matchers_t0, selector, envs):
    streams = srv.query_streams(selector, *window(matchers_t0), tenant="matchers")
    assert sorted(s["stream"]["env"] for s in streams) == envs
    for s in streams:
        assert s["values"][0][1] == f"line from {s['stream']['env']}"


def test_labels_values_and_series_endpoints(srv):
    tenant = "meta"
    t0 = pf.now_ns() - 30 * S
    streams = [
        {"stream": {"app": "meta", "env": "prod", "pod": "p1"}, "values": [[t0, "x"]]},
        {"stream": {"app": "meta", "env": "dev"}, "values": [[t0, "y"]]},
        {"stream": {"job": "other"}, "values": [[t0, "z"]]},
    ]
    assert srv.push_json(streams, tenant=tenant).status_code == 204
    start, end = window(t0)
    params = {"start": start, "end": end}

    r = srv.get("/loki/api/v1/labels", params=params, tenant=tenant)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "data": ["app", "env", "job", "pod"]}

    r = srv.get("/loki/api/v1/label/env/values", params=params, tenant=tenant)
    assert r.json() == {"status": "success", "data": ["dev", "prod"]}
    r = srv.get("/loki/api/v1/label/job/values", params=params, tenant=tenant)
    assert r.json() == {"status": "success", "data": ["other"]}
    r = srv.get("/loki/api/v1/label/nosuchlabel/values", params=params, tenant=tenant)
    assert r.status_code == 200
    assert r.json() == {"status": "success", "data": []}
    # Label values restricted by a selector.
    r = srv.get("/loki/api/v1/label/env/values", params={**params, "query": '{pod="p1"}'}, tenant=tenant)
    assert r.json()["data"] == ["prod"]

    r = srv.get("/loki/api/v1/series", params={**params, "match[]": '{app="meta"}'}, tenant=tenant)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    assert sorted(body["data"], key=lambda d: d["env"]) == [
        {"app": "meta", "env": "dev"}, {"app": "meta", "env": "prod", "pod": "p1"}]
    # Several match[] are a union; POST form bodies work as in Loki.
    r = srv.post("/loki/api/v1/series", data={"match[]": ['{env="dev"}', '{job="other"}'], **params},
                 tenant=tenant)
    assert r.status_code == 200, r.text
    assert sorted(r.json()["data"], key=json.dumps) == sorted(
        [{"app": "meta", "env": "dev"}, {"job": "other"}], key=json.dumps)

    # Another tenant sees nothing.
    r = srv.get("/loki/api/v1/labels", params=params, tenant="meta-other")
    assert r.json() == {"status": "success", "data": []}


def _rfc(ns):
    return pf.rfc3339_nano(ns)


def _offset_rfc3339(ns):
    """The same instant written with a +02:00 offset."""
    t = dt.datetime.fromtimestamp(ns / S, tz=dt.timezone(dt.timedelta(hours=2)))
    return t.strftime("%Y-%m-%dT%H:%M:%S+02:00")


@pytest.fixture(scope="module")
def timefmt_t0(srv):
    t0 = (pf.now_ns() // S - 60) * S
    values = [[t0 + i * S + 250_000_000, f"e{i}"] for i in range(10)]
    assert srv.push_json([{"stream": {"app": "timefmt"}, "values": values}], tenant="timefmt").status_code == 204
    return t0


@pytest.mark.parametrize("fmt", ["unix_ns", "unix_seconds", "float_seconds", "rfc3339", "rfc3339_nano",
                                 "rfc3339_offset"])
def test_time_parameter_formats(srv, timefmt_t0, fmt):
    """Entries sit at t0 + i s + 250 ms (t0 a whole second); the window [t0+2s, t0+7s) holds
    entries 2..6 in every format. Fractional seconds shift the start past entry 2."""
    tenant, t0 = "timefmt", timefmt_t0
    start, end = t0 + 2 * S, t0 + 7 * S
    expected = [f"e{i}" for i in range(2, 7)]
    if fmt == "unix_ns":
        s, e = str(start), str(end)
    elif fmt == "unix_seconds":
        s, e = str(start // S), str(end // S)
    elif fmt == "float_seconds":
        s, e = f"{start // S}.5", f"{end // S}.0"
        expected = [f"e{i}" for i in range(3, 7)]
    elif fmt == "rfc3339":
        s, e = pf.rfc3339(start), pf.rfc3339(end)
    elif fmt == "rfc3339_nano":
        s, e = _rfc(start + 300_000_000), _rfc(end + 300_000_000)
        expected = [f"e{i}" for i in range(3, 8)]
    else:
        s, e = _offset_rfc3339(start), _offset_rfc3339(end)
    assert srv.query_lines('{app="timefmt"}', s, e, tenant=tenant) == expected


def test_default_time_range_is_the_last_hour(srv):
    tenant = "default-range"
    now = pf.now_ns()
    values = [[now - 2 * 3600 * S, "two hours ago"], [now - 60 * S, "a minute ago"]]
    assert srv.push_json([{"stream": {"app": "dr"}, "values": values}], tenant=tenant).status_code == 204
    r = srv.query_range('{app="dr"}', tenant=tenant)
    assert r.status_code == 200, r.text
    lines = [v[1] for s in r.json()["data"]["result"] for v in s["values"]]
    assert lines == ["a minute ago"]


@pytest.mark.parametrize("fmt", ["json", "proto"])
def test_structured_metadata_round_trip(srv, fmt):
    tenant = f"sm-{fmt}"
    t0 = pf.now_ns() - 30 * S
    values = [[t0, "with metadata", {"trace_id": "abc123", "user": "u1"}], [t0 + S, "without metadata"]]
    push = srv.push_json if fmt == "json" else srv.push_proto
    r = push([{"stream": {"app": "sm"}, "values": values}], tenant=tenant)
    assert r.status_code == 204, r.text
    start, end = window(t0)

    # Without encoding flags (Loki 2.9 and 3.x alike): metadata is part of the stream labels,
    # streams split by it, values are [ts, line] pairs.
    streams = srv.query_streams('{app="sm"}', start, end, tenant=tenant)
    got = sorted((v[0], s["stream"], v[1:]) for s in streams for v in s["values"])
    assert got == [
        (str(t0), {"app": "sm", "trace_id": "abc123", "user": "u1"}, ["with metadata"]),
        (str(t0 + S), {"app": "sm"}, ["without metadata"]),
    ]
    # Loki 3 categorize-labels encoding: every value has a third element.
    r = srv.query_range('{app="sm"}', start, end, direction="forward", tenant=tenant,
                        headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data.get("encodingFlags") == ["categorize-labels"]
    values = [v for s in data["result"] for v in s["values"]]
    assert values == [
        [str(t0), "with metadata", {"structuredMetadata": {"trace_id": "abc123", "user": "u1"}}],
        [str(t0 + S), "without metadata", {}],
    ]
    for s in data["result"]:
        assert s["stream"] == {"app": "sm"}


def test_api_prom_push_protobuf(srv):
    tenant = "legacy-proto"
    t0 = pf.now_ns() - 30 * S
    r = srv.push_proto([{"stream": {"app": "legacy"}, "values": ten_lines(t0)}], tenant=tenant,
                       path="/api/prom/push")
    assert r.status_code == 204, r.text
    assert srv.query_lines('{app="legacy"}', *window(t0), tenant=tenant) == [f"line-{i}" for i in range(10)]


def test_api_prom_push_legacy_json(srv):
    """Loki decodes JSON on /api/prom/push with the legacy (pre-v1) schema:
    {"streams":[{"labels":"{...}","entries":[{"ts":"<RFC3339Nano>","line":"..."}]}]}."""
    tenant = "legacy-json"
    t0 = pf.now_ns() - 30 * S
    body = pf.legacy_json_body([{"stream": {"app": "legacyjson"}, "values": ten_lines(t0)}])
    r = srv.push_raw(body, "application/json", tenant=tenant, path="/api/prom/push")
    assert r.status_code == 204, r.text
    assert srv.query_lines('{app="legacyjson"}', *window(t0), tenant=tenant) == [f"line-{i}" for i in range(10)]


@pytest.mark.parametrize("fmt,encoding", [
    ("json", "gzip"), ("json", "deflate"), ("json", "raw-deflate"), ("proto", "gzip"), ("proto", "deflate"),
])
def test_compressed_bodies(srv, fmt, encoding):
    tenant = f"enc-{fmt}-{encoding}"
    t0 = pf.now_ns() - 30 * S
    values = [[t0 + i, f"compressed {encoding} {i} " + "x" * 200] for i in range(50)]
    streams = [{"stream": {"app": "enc"}, "values": values}]
    push = srv.push_json if fmt == "json" else srv.push_proto
    r = push(streams, tenant=tenant, encoding=encoding)
    assert r.status_code == 204, r.text
    assert srv.query_lines('{app="enc"}', *window(t0), tenant=tenant) == [v[1] for v in values]


def test_content_type_with_parameters_and_snappy_encoding_header(srv):
    tenant = "ctype"
    t0 = pf.now_ns() - 30 * S
    streams = [{"stream": {"app": "ctype"}, "values": [[t0, "json with charset"]]}]
    r = srv.push_raw(pf.json_body(streams), "application/json; charset=utf-8", tenant=tenant)
    assert r.status_code == 204, r.text
    streams = [{"stream": {"app": "ctype"}, "values": [[t0 + S, "proto with snappy header"]]}]
    r = srv.push_raw(pf.proto_body(streams), "application/x-protobuf", tenant=tenant,
                     headers={"Content-Encoding": "snappy"})
    assert r.status_code == 204, r.text
    assert srv.query_lines('{app="ctype"}', *window(t0), tenant=tenant) == [
        "json with charset", "proto with snappy header"]


def test_empty_push_is_accepted(srv):
    r = srv.push_raw(json.dumps({"streams": []}).encode(), "application/json", tenant="empty")
    assert r.status_code == 204, r.text
    r = srv.push_raw(snappy.compress(b""), "application/x-protobuf", tenant="empty")
    assert r.status_code == 204, r.text
