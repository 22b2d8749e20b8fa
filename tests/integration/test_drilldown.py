"""Grafana Logs Drilldown's discovery endpoints against the real binary, with Loki 3's shapes
(docs/sources/reference/loki-http-api.md "Detected fields" / "Detected field values";
pkg/logproto DetectedLabelsResponse for detected_labels):

  /loki/api/v1/detected_fields              {"fields":[{label,type,cardinality,parsers[,jsonPath]}],"limit":N}
  /loki/api/v1/detected_field/{name}/values {"values":[...],"limit":N}
  /loki/api/v1/detected_labels              {"detectedLabels":[{label,cardinality}]}

The data has known content: json lines, logfmt lines and plain lines with structured metadata,
so every name, type, cardinality and value below is computed from what was pushed.
"""

import datetime as dt
import json
import time

import pytest

S = 10**9

# Shop: json lines (one nested object) and logfmt lines, in two streams.
SHOP_JSON = [
    {"level": "info", "status": 200, "latency": "15ms", "user": {"id": "u1"}, "size": "1.5KB",
     "ok": True},
    {"level": "info", "status": 404, "latency": "2s", "user": {"id": "u2"}, "size": "3KB",
     "ok": False},
    {"level": "error", "status": 500, "latency": "1m", "user": {"id": "u1"}, "size": "1.5KB",
     "ok": True},
]
SHOP_LOGFMT = [
    "level=warn method=GET ratio=0.5",
    "level=info method=POST ratio=0.25",
    "level=warn method=GET ratio=1.5",
    "level=debug method=PUT ratio=2.5",
]
# Auth: plain lines whose fields are structured metadata only.
AUTH = [("login ok", {"trace_id": "t-1", "region": "eu"}),
        ("login failed", {"trace_id": "t-2", "region": "eu"}),
        ("logout", {"trace_id": "t-3", "region": "us"})]

SHOP = '{app="shop"}'
AUTH_SEL = '{app="auth"}'


@pytest.fixture(scope="module")
def server(module_sluice_factory):
    s = module_sluice_factory()
    now = time.time_ns()
    t0 = now - 120 * S
    streams = [
        {"stream": {"app": "shop", "env": "prod", "pod": "p1", "instance": "1", "build": "101"},
         "values": [[t0 + i * S, json.dumps(obj)] for i, obj in enumerate(SHOP_JSON)]},
        {"stream": {"app": "shop", "env": "prod", "pod": "p2", "instance": "2", "build": "102"},
         "values": [[t0 + (10 + i) * S, line] for i, line in enumerate(SHOP_LOGFMT)]},
        {"stream": {"app": "auth", "env": "dev", "pod": "p3", "instance": "3", "build": "103"},
         "values": [[t0 + (20 + i) * S, line, md] for i, (line, md) in enumerate(AUTH)]},
    ]
    r = s.push_json(streams)
    assert r.status_code == 204, r.text
    s.window = {"start": str(t0 - S), "end": str(now + S)}
    return s


def get(server, path, **params):
    p = dict(server.window)
    p.update({k: str(v) for k, v in params.items()})
    return server.get(path, params=p)


def fields_of(server, query, **params):
    r = get(server, "/loki/api/v1/detected_fields", query=query, **params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"fields", "limit"}, body
    out = {}
    for f in body["fields"]:
        # Loki's DetectedField: label, type, cardinality, parsers (null for metadata-only),
        # jsonPath when the field came from json.
        assert {"label", "type", "cardinality", "parsers"} <= set(f) <= {
            "label", "type", "cardinality", "parsers", "jsonPath"}, f
        assert f["type"] in ("string", "int", "float", "boolean", "duration", "bytes"), f
        out[f["label"]] = f
    return body, out


def test_detected_fields_of_json_and_logfmt_lines(server):
    body, fields = fields_of(server, SHOP)
    assert body["limit"] == 1000
    assert set(fields) == {"level", "status", "latency", "user_id", "size", "ok", "method", "ratio"}

    def distinct(key, rows):
        return len({str(r[key]) for r in rows if key in r})

    logfmt_rows = [dict(kv.split("=", 1) for kv in line.split()) for line in SHOP_LOGFMT]
    levels = {r["level"] for r in SHOP_JSON} | {r["level"] for r in logfmt_rows}
    assert fields["level"]["cardinality"] == len(levels) == 4
    assert sorted(fields["level"]["parsers"]) == ["json", "logfmt"]
    assert fields["level"]["type"] == "string"
    assert fields["level"]["jsonPath"] == ["level"]

    assert fields["status"] == {"label": "status", "type": "int",
                                "cardinality": distinct("status", SHOP_JSON),
                                "parsers": ["json"], "jsonPath": ["status"]}
    assert fields["latency"]["type"] == "duration"
    assert fields["latency"]["cardinality"] == 3
    assert fields["user_id"]["jsonPath"] == ["user", "id"]
    assert fields["user_id"]["cardinality"] == len({r["user"]["id"] for r in SHOP_JSON}) == 2
    assert fields["size"]["type"] == "bytes"
    assert fields["size"]["cardinality"] == 2
    assert fields["ok"]["type"] == "boolean"
    assert fields["ok"]["cardinality"] == 2

    assert fields["method"] == {"label": "method", "type": "string",
                                "cardinality": distinct("method", logfmt_rows),
                                "parsers": ["logfmt"]}
    assert fields["ratio"]["type"] == "float"
    assert fields["ratio"]["cardinality"] == 4


def test_detected_fields_of_structured_metadata(server):
    _, fields = fields_of(server, AUTH_SEL)
    assert fields == {
        "trace_id": {"label": "trace_id", "type": "string", "cardinality": 3, "parsers": None},
        "region": {"label": "region", "type": "string", "cardinality": 2, "parsers": None},
    }


def test_detected_fields_as_drilldown_asks(server):
    # Drilldown sends its whole expression, parsers included, and RFC3339 times.
    now = dt.datetime.now(dt.timezone.utc)
    r = server.get("/loki/api/v1/detected_fields", params={
        "query": SHOP + " | json | logfmt | drop __error__, __error_details__",
        "start": (now - dt.timedelta(minutes=10)).isoformat().replace("+00:00", "Z"),
        "end": now.isoformat().replace("+00:00", "Z")})
    assert r.status_code == 200, r.text
    names = {f["label"] for f in r.json()["fields"]}
    assert names == {"level", "status", "latency", "user_id", "size", "ok", "method", "ratio"}

    # A filter narrows the lines read; `since` alone gives the range.
    r = server.get("/loki/api/v1/detected_fields",
                   params={"query": SHOP + ' | logfmt | method="GET"', "since": "1h"})
    assert r.status_code == 200, r.text
    got = {f["label"]: f for f in r.json()["fields"]}
    assert set(got) == {"level", "method", "ratio"}
    assert got["method"]["cardinality"] == 1
    assert got["ratio"]["cardinality"] == 2


def test_line_limit_and_field_limit(server):
    # The two newest shop lines are logfmt lines: debug/PUT and warn/GET.
    _, fields = fields_of(server, SHOP, line_limit=2)
    assert set(fields) == {"level", "method", "ratio"}
    assert fields["level"]["cardinality"] == 2
    body, fields = fields_of(server, SHOP, limit=2)
    assert body["limit"] == 2 and len(fields) == 2
    body, fields = fields_of(server, SHOP, field_limit=3)
    assert body["limit"] == 3 and len(fields) == 3


def test_detected_field_values(server):
    r = get(server, "/loki/api/v1/detected_field/level/values", query=SHOP)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"values", "limit"}
    assert body["limit"] == 1000
    want = {r["level"] for r in SHOP_JSON} | {l.split()[0].split("=")[1] for l in SHOP_LOGFMT}
    assert sorted(body["values"]) == sorted(want)

    r = get(server, "/loki/api/v1/detected_field/trace_id/values", query=AUTH_SEL)
    assert sorted(r.json()["values"]) == sorted(md["trace_id"] for _, md in AUTH)

    # Byte sizes come back in go-humanize's form, ready to paste into a query.
    r = get(server, "/loki/api/v1/detected_field/size/values", query=SHOP)
    assert sorted(r.json()["values"]) == ["1.5kB", "3.0kB"]

    r = get(server, "/loki/api/v1/detected_field/level/values", query=SHOP, limit=2)
    assert r.json()["limit"] == 2 and len(r.json()["values"]) == 2

    r = get(server, "/loki/api/v1/detected_field/absent/values", query=SHOP)
    assert r.status_code == 200 and r.json() == {}


def test_detected_labels(server):
    r = get(server, "/loki/api/v1/detected_labels")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"detectedLabels"}
    got = {l["label"]: l["cardinality"] for l in body["detectedLabels"]}
    for l in body["detectedLabels"]:
        assert set(l) == {"label", "cardinality"}
    # build holds only numbers (ids) and is left out; instance does too, but Loki always keeps
    # its static labels (cluster, namespace, instance, pod).
    assert got == {"app": 2, "env": 2, "pod": 3, "instance": 3}

    r = get(server, "/loki/api/v1/detected_labels", query=SHOP)
    got = {l["label"]: l["cardinality"] for l in r.json()["detectedLabels"]}
    assert got == {"app": 1, "env": 1, "pod": 2, "instance": 2}

    # Drilldown's POST form and an empty query.
    r = server.post("/loki/api/v1/detected_labels", data={**server.window, "query": ""})
    assert r.status_code == 200, r.text
    assert len(r.json()["detectedLabels"]) == 4

    r = get(server, "/loki/api/v1/detected_labels", query='{app="nothing"}')
    assert r.status_code == 200 and r.json() == {}


@pytest.mark.parametrize("path,params,text", [
    ("/loki/api/v1/detected_fields", {"query": SHOP, "line_limit": "0"},
     "limit must be a positive value"),
    ("/loki/api/v1/detected_fields", {"query": SHOP, "line_limit": "many"},
     'strconv.Atoi: parsing "many": invalid syntax'),
    ("/loki/api/v1/detected_fields", {"query": SHOP, "limit": "0"},
     "limit must be a positive value"),
    ("/loki/api/v1/detected_field/level/values", {"query": SHOP, "limit": "99999999999"},
     "limit value 99999999999 is out of range [0, 4294967295]"),
    ("/loki/api/v1/detected_fields", {"query": SHOP, "step": "-1"},
     "zero or negative query resolution step widths are not accepted. Try a positive integer"),
    ("/loki/api/v1/detected_fields", {"query": SHOP, "start": "200", "end": "100"},
     "end timestamp must not be before or equal to start time"),
    ("/loki/api/v1/detected_labels", {"start": "200", "end": "100"},
     "end timestamp must not be before or equal to start time"),
    ("/loki/api/v1/detected_fields", {"query": "rate(" + SHOP + "[1m])"},
     "only log selector is supported"),
    ("/loki/api/v1/detected_fields", {"query": SHOP, "since": "forever"},
     "could not parse 'since' parameter"),
])
def test_bad_parameters(server, path, params, text):
    r = server.get(path, params=params)
    assert r.status_code == 400, r.text
    assert text in r.text


def test_missing_query_is_a_400(server):
    r = server.get("/loki/api/v1/detected_fields")
    assert r.status_code == 400
    assert "parse error" in r.text
