"""discover_service_name on Loki pushes, as Loki 3 does it (pkg/loghttp/push/push.go): a stream
without service_name gets the value of the first label of the tenant's list it has, else
unknown_service; an explicit service_name is kept; an empty list turns it off. The runtime
override file changes the list per tenant.

The shared test harness (helpers/server.py BASE_FLAGS) turns discovery off so other tests see
exactly the labels they push; this module turns it back on.
"""

import datetime

import pytest
import yaml

from helpers import push as pf

S = 10**9
DEFAULT_LIST = ("service,app,application,app_name,name,app_kubernetes_io_name,container,"
                "container_name,k8s_container_name,component,workload,job,k8s_job_name")


@pytest.fixture(scope="module")
def srv(module_sluice_factory, tmp_path_factory):
    overrides = tmp_path_factory.mktemp("svc") / "overrides.yaml"
    overrides.write_text("overrides:\n  tenant-off:\n    discover_service_name: []\n"
                         "  tenant-custom:\n    discover_service_name: [team]\n")
    return module_sluice_factory(
        ["-auth_enabled=true", f"-limits_config.discover_service_name={DEFAULT_LIST}",
         f"-runtime_config.file={overrides}"], name="service-name")


def streams(srv, tenant, t0):
    r = srv.query_range('{run="svc"}', start=t0 - 5 * S, end=t0 + 60 * S, limit=100,
                        tenant=tenant)
    assert r.status_code == 200, r.text
    return sorted((s["values"][0][1], s["stream"].get("service_name"))
                  for s in r.json()["data"]["result"])


def push(srv, tenant, t0):
    r = srv.push_json([
        {"stream": {"run": "svc", "job": "varlogs", "app": "shop"}, "values": [[t0, "a"]]},
        {"stream": {"run": "svc", "job": "varlogs"}, "values": [[t0, "b"]]},
        {"stream": {"run": "svc", "service_name": "given", "app": "x"}, "values": [[t0, "c"]]},
        {"stream": {"run": "svc", "team": "core"}, "values": [[t0, "d"]]},
    ], tenant=tenant)
    assert r.status_code == 204, r.text


def test_default_list_first_match_then_unknown(srv):
    t0 = pf.now_ns() - 10 * S
    push(srv, "tenant-default", t0)
    assert streams(srv, "tenant-default", t0) == [
        ("a", "shop"), ("b", "varlogs"), ("c", "given"), ("d", "unknown_service")]
    # The label is a real stream label: selectable, listed by the labels API.
    r = srv.query_range('{service_name="shop"}', start=t0 - 5 * S, end=t0 + 60 * S, limit=10,
                        tenant="tenant-default")
    assert [s["values"][0][1] for s in r.json()["data"]["result"]] == ["a"]


def test_per_tenant_override(srv):
    t0 = pf.now_ns() - 10 * S
    push(srv, "tenant-off", t0)
    assert streams(srv, "tenant-off", t0) == [("a", None), ("b", None), ("c", "given"), ("d", None)]
    push(srv, "tenant-custom", t0)
    assert streams(srv, "tenant-custom", t0) == [
        ("a", "unknown_service"), ("b", "unknown_service"), ("c", "given"), ("d", "core")]


def test_tenant_limits_endpoints_publish_each_tenants_limits(srv):
    # Grafana's Logs Drilldown reads /loki/api/v1/drilldown-limits (Loki's shape: limits filtered
    # by tenant_limits_allow_publish, pattern_ingester_enabled, version).
    r = srv.get("/loki/api/v1/drilldown-limits", tenant="tenant-custom")
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"limits", "pattern_ingester_enabled", "version"}
    assert body["version"] == srv.get("/loki/api/v1/status/buildinfo").json()["version"]
    limits = body["limits"]
    assert limits["discover_service_name"] == ["team"]
    assert limits["max_entries_limit_per_query"] == 5000
    assert limits["max_query_length"] == "30d1h"
    assert limits["max_line_size_truncate"] is False
    assert limits["volume_enabled"] is True
    assert limits["retention_period"] == "0s"
    # Only published limits: nothing about ingestion rates.
    assert "ingestion_rate_mb" not in limits
    default = srv.get("/loki/api/v1/drilldown-limits", tenant="tenant-default").json()["limits"]
    assert default["discover_service_name"] == DEFAULT_LIST.split(",")
    # The YAML form has every limit; auth applies to both.
    r = srv.get("/config/tenant/v1/limits", tenant="tenant-off")
    assert r.status_code == 200
    assert yaml.safe_load(r.text)["discover_service_name"] == []
    assert yaml.safe_load(r.text)["ingestion_rate_mb"] == 4
    assert srv.get("/loki/api/v1/drilldown-limits").status_code == 401


def test_volume_as_logs_drilldown_asks(srv):
    # Drilldown's service list: index/volume with RFC 3339 times (JavaScript's toISOString),
    # limit 5000 and `{service_name=~".+"}`; it reads metric[service_name] and value[1].
    t0 = pf.now_ns() - 10 * S
    push(srv, "tenant-volume", t0)
    iso = lambda ns: datetime.datetime.fromtimestamp(ns / S, datetime.timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    r = srv.get("/loki/api/v1/index/volume", tenant="tenant-volume",
                params={"query": '{service_name=~".+"}', "limit": 5000,
                        "start": iso(t0 - 60 * S), "end": iso(t0 + 60 * S)})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "vector"
    volumes = {s["metric"]["service_name"]: s["value"][1] for s in data["result"]}
    assert volumes == {"shop": "1", "varlogs": "1", "given": "1", "unknown_service": "1"}
