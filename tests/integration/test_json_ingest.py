"""POST /insert/jsonline and /insert/elasticsearch/_bulk with plain HTTP requests, as curl or an
agent's HTTP output sends them (VictoriaLogs' paths and parameters: _msg_field, _time_field,
_stream_fields, ignore_fields as query parameters or VL-* headers). The documents go through the
Loki push's validation, limits and discard counting; queries then find their lines, stream labels
and structured metadata.
"""

import gzip
import json

import pytest

from helpers import push as pf

S = 10**9
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


@pytest.fixture(scope="module")
def srv(module_sluice_factory):
    return module_sluice_factory(["-auth_enabled=true", "-limits_config.max_line_size=100"],
                                 name="json-ingest")


def ndjson(docs):
    return "".join(json.dumps(d) + "\n" for d in docs).encode()


def entries(srv, query, t0, tenant):
    """(stream labels, ts, line, structured metadata) of every entry, categorized as Loki 3 does."""
    r = srv.query_range(query, start=t0 - 3600 * S, end=pf.now_ns() + 60 * S, limit=1000,
                        direction="forward", tenant=tenant, headers=CATEGORIZE)
    assert r.status_code == 200, r.text
    out = []
    for s in r.json()["data"]["result"]:
        for v in s["values"]:
            meta = v[2].get("structuredMetadata", {}) if len(v) > 2 else {}
            out.append((s["stream"], int(v[0]), v[1], meta))
    return sorted(out, key=lambda e: (e[1], e[2]))


def test_jsonline_query_parameters(srv):
    # Whole milliseconds, so the fractional seconds below survive a float exactly.
    t0 = (pf.now_ns() - 600 * S) // 10**6 * 10**6
    tenant = "jsonline-params"
    docs = [
        {"date": pf.rfc3339_nano(t0), "log": {"message": "started", "level": "info"},
         "stream": "s1", "host": {"name": "h1"}, "pid": 42},
        {"date": str(t0 // 10**6 + 1), "log": {"message": "failed", "level": "error"},
         "stream": "s1", "host": {"name": "h1"}, "offset": 9},
        {"date": (t0 + 2 * S) / S, "log": {"message": "other", "level": "info"},
         "stream": "s2", "host": {"name": "h2"}},
    ]
    r = srv.post("/insert/jsonline?_stream_fields=stream,host.name&_time_field=date"
                 "&_msg_field=log.message&ignore_fields=offset",
                 data=ndjson(docs), tenant=tenant,
                 headers={"Content-Type": "application/stream+json"})
    assert r.status_code == 204, r.text

    got = entries(srv, '{stream=~"s.+"}', t0, tenant)
    assert [(e[0], e[1], e[2]) for e in got] == [
        ({"stream": "s1", "host_name": "h1"}, t0, "started"),
        ({"stream": "s1", "host_name": "h1"}, t0 // 10**6 * 10**6 + 10**6, "failed"),
        ({"stream": "s2", "host_name": "h2"}, t0 + 2 * S, "other"),
    ]
    assert got[0][3] == {"log_level": "info", "pid": "42"}
    assert got[1][3] == {"log_level": "error"}  # offset was ignored
    # Structured metadata filters, with Loki's default (folded) response shape too.
    r = srv.query_range('{stream="s1"} | log_level="error"', start=t0 - S, end=pf.now_ns(),
                        limit=10, tenant=tenant)
    result = r.json()["data"]["result"]
    assert [v[1] for s in result for v in s["values"]] == ["failed"]
    assert result[0]["stream"] == {"stream": "s1", "host_name": "h1", "log_level": "error"}


def test_jsonline_headers_and_gzip(srv):
    t0 = pf.now_ns() - 500 * S
    tenant = "jsonline-headers"
    body = ndjson([{"_time": t0 + i * S, "message": f"gz {i}", "app": "zip", "n": i}
                   for i in range(5)])
    r = srv.post("/insert/jsonline", data=gzip.compress(body), tenant=tenant,
                 headers={"Content-Encoding": "gzip", "VL-Msg-Field": "message",
                          "VL-Stream-Fields": "app", "VL-Ignore-Fields": "n"})
    assert r.status_code == 204, r.text
    got = entries(srv, '{app="zip"}', t0, tenant)
    assert [(e[0], e[1], e[2], e[3]) for e in got] == [
        ({"app": "zip"}, t0 + i * S, f"gz {i}", {}) for i in range(5)]
    # Another tenant sees none of it.
    assert entries(srv, '{app="zip"}', t0, "someone-else") == []


def test_jsonline_bad_input_names_the_line_and_stores_nothing(srv):
    t0 = pf.now_ns() - 400 * S
    tenant = "jsonline-bad"
    cases = [
        (b'{"app":"bad","_msg":"ok"}\n{"app":"bad","_msg":\n', "line 2: invalid JSON"),
        (b'{"app":"bad","_msg":"ok","_time":"noon"}\n',
         'line 1: cannot parse the time field "_time" value "noon"'),
        (b'{"app":"bad"}\n["x"]\n', "line 2: a document must be a JSON object"),
        (b'{"_msg":"no stream"}\n', "line 1: the document has none of the stream fields"),
    ]
    for body, want in cases:
        r = srv.post("/insert/jsonline?_stream_fields=app", data=body, tenant=tenant)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert want in r.text, (body, r.text)
    r = srv.post("/insert/jsonline?_stream_fields=app", data=b'{"app":"a","_msg":"x"}\n',
                 tenant=tenant, headers={"Content-Encoding": "br"})
    assert r.status_code == 400 and 'unsupported Content-Encoding "br"' in r.text, r.text
    assert entries(srv, '{app=~".+"}', t0, tenant) == []
    # Without a tenant, as the Loki push answers.
    r = srv.post("/insert/jsonline?_stream_fields=app", data=b'{"app":"a","_msg":"x"}\n')
    assert r.status_code == 401, r.text
    assert srv.get("/insert/jsonline", tenant=tenant).status_code == 405


def test_jsonline_limits_and_discards_as_the_loki_push(srv):
    t0 = pf.now_ns() - 300 * S
    tenant = "jsonline-limits"
    long_line = "x" * 150
    r = srv.post("/insert/jsonline?_stream_fields=app",
                 data=ndjson([{"app": "lim", "_msg": "short", "_time": t0},
                              {"app": "lim", "_msg": long_line, "_time": t0 + S}]),
                 tenant=tenant)
    assert r.status_code == 400, r.text
    assert ("Max entry size '100' bytes exceeded for stream '{app=\"lim\"}' while adding an entry "
            "with length '150' bytes") in r.text, r.text
    m = srv.metrics()
    assert m.value("loki_discarded_samples_total", reason="line_too_long", tenant=tenant) == 1
    assert m.value("loki_discarded_bytes_total", reason="line_too_long", tenant=tenant) == 150
    # The valid line of the request is stored, as Loki's partial success does.
    assert [e[2] for e in entries(srv, '{app="lim"}', t0, tenant)] == ["short"]
    assert m.value("loki_distributor_lines_received_total", tenant=tenant) == 2


def test_elasticsearch_endpoints_over_plain_http(srv):
    t0 = pf.now_ns() - 200 * S
    tenant = "es-plain"
    info = srv.get("/insert/elasticsearch/", tenant=tenant)
    assert info.status_code == 200
    assert info.headers["X-Elastic-Product"] == "Elasticsearch"
    assert info.json()["version"]["number"].startswith("8.")
    assert srv.request("HEAD", "/insert/elasticsearch").status_code == 200

    body = (json.dumps({"create": {"_index": "app-logs"}}) + "\n" +
            json.dumps({"_msg": "cannot open file", "_time": str(t0 // S),
                        "host.name": "host123", "file": {"path": "/etc/x"}}) + "\n")
    r = srv.post("/insert/elasticsearch/_bulk?_stream_fields=host.name", data=body,
                 tenant=tenant, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.headers["X-Elastic-Product"] == "Elasticsearch"
    reply = r.json()
    assert reply["errors"] is False and isinstance(reply["took"], int)
    assert reply["items"] == [{"create": {"_index": "app-logs", "_version": 1,
                                          "result": "created", "status": 201}}]
    got = entries(srv, '{host_name="host123"}', t0, tenant)
    assert got == [({"host_name": "host123"}, t0 // S * S, "cannot open file",
                    {"file_path": "/etc/x"})]

    # /<index>/_bulk names the index of actions that name none; PUT is accepted as by Elasticsearch.
    body = (b'{"index":{}}\n{"_msg":"a","host.name":"host123"}\n'
            b'{"create":{"_index":"other"}}\n{"_msg":"b","host.name":"host123"}\n')
    r = srv.request("PUT", "/insert/elasticsearch/my-index/_bulk?_stream_fields=host.name",
                    data=body, tenant=tenant)
    assert r.status_code == 200, r.text
    assert [(list(i)[0], i[list(i)[0]]["_index"]) for i in r.json()["items"]] == [
        ("index", "my-index"), ("create", "other")]
    assert [e[2] for e in entries(srv, '{host_name="host123"}', t0, tenant)][-2:] == ["a", "b"]

    bad = srv.post("/insert/elasticsearch/_bulk", data=b'{"delete":{"_id":"1"}}\n',
                   tenant=tenant)
    assert bad.status_code == 400
    assert bad.headers["X-Elastic-Product"] == "Elasticsearch"
    err = bad.json()
    assert err["status"] == 400
    assert err["error"]["type"] == "illegal_argument_exception"
    assert 'line 1: bulk action "delete" is not supported' in err["error"]["reason"]
