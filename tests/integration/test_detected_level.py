"""discover_log_levels and the rest of Loki 3's service discovery on the real binary (issue 10,
point 4): every pushed entry gets the structured metadata detected_level, from a level label, the
OTLP severity, or the line's json/logfmt level field or text, normalised (pkg/distributor/
field_detection.go); a stream pushed as `{}` is stored as service_name="unknown_service".

The shared harness (helpers/server.py BASE_FLAGS) turns both discoveries off; this module turns
them on, and a per-tenant override turns level discovery off again for one tenant.
"""

import json

import pytest

from helpers import push as pf

S = 10**9
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


@pytest.fixture(scope="module")
def srv(module_sluice_factory, tmp_path_factory):
    overrides = tmp_path_factory.mktemp("lvl") / "overrides.yaml"
    overrides.write_text("overrides:\n  tenant-off:\n    discover_log_levels: false\n")
    return module_sluice_factory(
        ["-auth_enabled=true", "-limits_config.discover_log_levels=true",
         "-limits_config.discover_service_name=service,app,job",
         f"-runtime_config.file={overrides}"], name="detected-level")


def otlp_body(t0, run):
    def record(ts, number, text, body):
        r = {"timeUnixNano": str(ts), "severityNumber": number, "body": {"stringValue": body}}
        if text:
            r["severityText"] = text
        return r
    return {"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "otel-svc"}},
            {"key": "deployment.environment", "value": {"stringValue": run}}]},
        "scopeLogs": [{"logRecords": [
            record(t0 + 10, 17, "", "otlp number 17"),
            record(t0 + 11, 9, "", "otlp number 9, body says error"),
            record(t0 + 12, 9, "ERROR", "otlp text wins over number"),
        ]}]}]}


def push_fixture(srv, tenant, t0, run):
    r = srv.push_json([
        {"stream": {"run": run, "app": "lab", "level": "ERR"},
         "values": [[t0, "label says error; line says level=info"]]},
        {"stream": {"run": run, "app": "line"}, "values": [
            [t0 + 1, json.dumps({"level": "Error", "msg": "json"})],
            [t0 + 2, json.dumps({"level": "info", "msg": "json info"})],
            [t0 + 3, "ts=1 lvl=err msg=logfmt"],
            [t0 + 4, "ts=1 level=WARNING msg=logfmt"],
            [t0 + 5, "2024-01-01 [ERROR] free text"],
            [t0 + 6, "no level here"],
            [t0 + 7, "keeps its own", {"detected_level": "ERR"}],
        ]},
    ], tenant=tenant)
    assert r.status_code == 204, r.text
    r = srv.post("/otlp/v1/logs", data=json.dumps(otlp_body(t0, run)),
                 headers={"Content-Type": "application/json"}, tenant=tenant)
    assert r.status_code in (200, 204), r.text


def entries(srv, query, t0, tenant):
    """[(line, detected_level or None)] in time order, read in the categorized form."""
    r = srv.query_range(query, start=t0 - 5 * S, end=t0 + 60 * S, limit=100,
                        direction="forward", tenant=tenant, headers=CATEGORIZE)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["encodingFlags"] == ["categorize-labels"]
    out = []
    for s in data["result"]:
        assert "detected_level" not in s["stream"], s["stream"]  # metadata, not a stream label
        for ts, line, cats in s["values"]:
            out.append((int(ts), line, cats.get("structuredMetadata", {}).get("detected_level")))
    return [(line, level) for _, line, level in sorted(out)]


def test_levels_from_every_source(srv):
    t0 = pf.now_ns() - 30 * S
    push_fixture(srv, "tenant-on", t0, "all")
    run = '{run="all"}'
    otel = '{service_name="otel-svc", deployment_environment="all"}'
    assert entries(srv, run, t0, "tenant-on") + entries(srv, otel, t0, "tenant-on") == [
        ("label says error; line says level=info", "error"),
        ('{"level": "Error", "msg": "json"}', "error"),
        ('{"level": "info", "msg": "json info"}', "info"),
        ("ts=1 lvl=err msg=logfmt", "error"),
        ("ts=1 level=WARNING msg=logfmt", "warn"),
        ("2024-01-01 [ERROR] free text", "error"),
        ("no level here", "unknown"),
        ("keeps its own", "error"),
        ("otlp number 17", "error"),
        ("otlp number 9, body says error", "info"),
        ("otlp text wins over number", "error"),
    ]
    # The label filter Drilldown sends selects on it.
    got = sorted(e[2] for e in srv.query_entries(run + ' | detected_level="error"', t0 - 5 * S,
                                                  t0 + 60 * S, tenant="tenant-on"))
    assert got == sorted(["label says error; line says level=info",
                          '{"level": "Error", "msg": "json"}', "ts=1 lvl=err msg=logfmt",
                          "2024-01-01 [ERROR] free text", "keeps its own"])
    got = [e[2] for e in srv.query_entries(otel + ' | detected_level="error"', t0 - 5 * S,
                                           t0 + 60 * S, tenant="tenant-on")]
    assert got == ["otlp number 17", "otlp text wins over number"]


def test_per_tenant_override_turns_it_off(srv):
    t0 = pf.now_ns() - 30 * S
    push_fixture(srv, "tenant-off", t0, "off")
    got = entries(srv, '{run="off"}', t0, "tenant-off")
    assert [level for _, level in got] == [None] * 7 + ["ERR"], got


def test_empty_label_set_is_the_unknown_service(srv):
    t0 = pf.now_ns() - 30 * S
    r = srv.push_json([{"stream": {}, "values": [[t0, "a line with no labels"]]}],
                      tenant="tenant-empty")
    assert r.status_code == 204, r.text
    got = srv.query_entries('{service_name="unknown_service"}', t0 - 5 * S, t0 + 60 * S,
                            tenant="tenant-empty")
    assert [(e[0], e[2]) for e in got] == [
        ({"service_name": "unknown_service", "detected_level": "unknown"}, "a line with no labels")]
