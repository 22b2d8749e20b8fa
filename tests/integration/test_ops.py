"""Operations: /metrics, /config, configuration errors, log formats, /ready."""

import json
import pathlib
import re
import subprocess

import pytest
import yaml

from helpers import push as pf

S = 10**9


def test_metrics_parse_and_count_received_lines(sluice):
    t0 = pf.now_ns() - 10 * S
    pushes = [
        [{"stream": {"app": "m1"}, "values": [[t0 + i, f"line {i}"] for i in range(10)]}],
        [{"stream": {"app": "m2"}, "values": [[t0 + i, "é" * i, {"k": "v" * i}] for i in range(5)]},
         {"stream": {"app": "m3"}, "values": [[t0, "x"]]}],
    ]
    lines = bytes_ = 0
    for p in pushes:
        assert sluice.push_json(p).status_code == 204
        assert sluice.push_proto([{"stream": {"app": "m4"}, "values": [[t0 + 100, "proto"]]}]).status_code == 204
        for s in p:
            for v in s["values"]:
                lines += 1
                bytes_ += len(v[1].encode()) + sum(len(k) + len(x) for k, x in (v[2] if len(v) > 2 else {}).items())
        lines += 1
        bytes_ += len("proto")
    m = sluice.metrics()  # parses strictly
    assert m.value("loki_distributor_lines_received_total", tenant="fake") == lines
    assert m.value("loki_distributor_bytes_received_total", tenant="fake") == bytes_
    assert m.value("loki_ingester_memory_streams", tenant="fake") == 4
    assert m.types.get("loki_distributor_lines_received_total") == "counter"
    assert m.types.get("loki_ingester_memory_streams") == "gauge"
    assert m.types.get("loki_request_duration_seconds") == "histogram"
    assert m.value("loki_ingester_wal_records_logged_total") > 0
    assert m.value("loki_ingester_wal_logged_bytes_total") > 0
    # A second scrape parses too, and counters do not go backwards.
    m2 = sluice.metrics()
    assert m2.value("loki_distributor_lines_received_total", tenant="fake") == lines


def test_discarded_counters_have_reason_and_tenant(sluice):
    ts = pf.now_ns()
    r = sluice.push_proto([{"labels": "{}", "values": [[ts, "abc"]]}])
    assert r.status_code == 400
    m = sluice.metrics()
    assert m.value("loki_discarded_samples_total", reason="missing_labels", tenant="fake") == 1
    assert m.value("loki_discarded_bytes_total", reason="missing_labels", tenant="fake") == 3
    for labels, _ in m.series("loki_discarded_samples_total"):
        assert set(labels) >= {"reason", "tenant"}, labels


def test_request_duration_histogram(sluice):
    ts = pf.now_ns()
    assert sluice.push_json([{"stream": {"app": "h"}, "values": [[ts, "x"]]}]).status_code == 204
    assert sluice.push_json([{"stream": {}, "values": [[ts, "x"]]}]).status_code == 400
    assert sluice.push_proto([{"stream": {"app": "h"}, "values": [[ts + 1, "y"]]}], path="/api/prom/push"
                             ).status_code == 204
    assert sluice.query_range('{app="h"}', ts - S, ts + S).status_code == 200
    assert sluice.get("/loki/api/v1/label/app/values").status_code == 200
    m = sluice.metrics()
    name = "loki_request_duration_seconds"
    push_ok = dict(method="POST", route="loki_api_v1_push", status_code="204", ws="false")
    assert m.value(name + "_count", **push_ok) == 1
    assert m.value(name + "_bucket", le="+Inf", **push_ok) == 1
    assert m.value(name + "_sum", default=None, **push_ok) is not None
    buckets = sorted((float(l["le"]), v) for l, v in m.series(name + "_bucket", **push_ok))
    assert len(buckets) >= 5 and all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    assert m.value(name + "_count", method="POST", route="loki_api_v1_push", status_code="400") == 1
    assert m.value(name + "_count", method="POST", route="api_prom_push", status_code="204") == 1
    assert m.value(name + "_count", method="GET", route="loki_api_v1_query_range", status_code="200") == 1
    assert m.value(name + "_count", method="GET", route="loki_api_v1_label_name_values", status_code="200") == 1
    assert m.value(name + "_count", route="ready", status_code="200") >= 1


def test_config_endpoint_reflects_flags_and_file(sluice_factory):
    config = {"limits_config": {"max_label_names_per_series": 9}, "ingester": {"chunk_idle_period": "7m"}}
    srv = sluice_factory(["-limits_config.ingestion_rate_mb=7.5", "-limits_config.max_line_size=12345",
                          "-ingester.chunk-encoding=snappy", "-server.log-level=warn", "-auth_enabled=true"],
                         config=config)
    r = srv.get("/config")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain") or "yaml" in r.headers["Content-Type"]
    c = yaml.safe_load(r.text)
    assert c["limits_config"]["ingestion_rate_mb"] == 7.5
    assert c["limits_config"]["max_line_size"] in (12345, "12345", "12345B")
    assert c["limits_config"]["max_label_names_per_series"] == 9
    assert c["ingester"]["chunk_encoding"] == "snappy"
    assert c["ingester"]["chunk_idle_period"] == "7m"
    assert c["server"]["log_level"] == "warn"
    assert c["server"]["http_listen_port"] == srv.port
    assert c["server"]["http_listen_address"] == "127.0.0.1"
    assert c["common"]["path_prefix"] == str(srv.data_dir)
    assert c["auth_enabled"] is True


@pytest.mark.parametrize("max_line_size", [262144, 12345, 1536, 100])
def test_config_dump_round_trips(sluice_factory, max_line_size):
    """GET /config fed back as the config file gives the same configuration and, above all,
    the same limits in force (a byte size must print in a form that parses back exactly)."""
    first = sluice_factory([f"-limits_config.max_line_size={max_line_size}"])
    dumped = first.get("/config").text
    second = sluice_factory(config=dumped, start=False)
    # Same port and data directory, so the two configurations can be compared whole.
    second.port, second.data_dir = first.port, first.data_dir
    assert first.stop() == 0
    second.start(timeout=20)
    assert yaml.safe_load(second.get("/config").text) == yaml.safe_load(dumped)
    ts = pf.now_ns()
    ok = second.push_json([{"stream": {"app": "rt"}, "values": [[ts, "x" * max_line_size]]}])
    assert ok.status_code == 204, f"/config said {yaml.safe_load(dumped)['limits_config']['max_line_size']!r}: {ok.text}"
    r = second.push_json([{"stream": {"app": "rt"}, "values": [[ts + 1, "x" * (max_line_size + 1)]]}])
    assert r.status_code == 400
    assert f"Max entry size '{max_line_size}' bytes exceeded" in r.text, r.text


def start_expecting_exit(sluice_factory, flags=(), config=None):
    srv = sluice_factory(flags, config=config, start=False)
    srv.spawn()
    code = srv.wait_exit(timeout=15)
    return code, srv.stderr_text().split("=== start")[-1]


@pytest.mark.parametrize("config,key", [
    ({"limits_config": {"no_such_key": 1}}, "no_such_key"),
    ({"nosuchsection": {"a": 1}}, "nosuchsection"),
    ({"ingester": {"wal": {"fsink": "never"}}}, "fsink"),
    ({"server": {"http_listen_prot": 3100}}, "http_listen_prot"),
])
def test_unknown_config_key_exits_1(sluice_factory, config, key):
    code, err = start_expecting_exit(sluice_factory, config=config)
    assert code == 1, err
    assert key in err, err


@pytest.mark.parametrize("flag,word", [
    ("-limits_config.no_such_flag=1", "no_such_flag"),
    ("-nosuch.flag=1", "nosuch"),
    ("-limits_config.max_line_size=abc", "max_line_size"),
    ("-limits_config.reject_old_samples=maybe", "reject_old_samples"),
    ("-ingester.wal.fsync=sometimes", "fsync"),
    ("-server.log-format=xml", "log_format"),
    ("-ingester.max-chunk-age=forever", "max_chunk_age"),
])
def test_bad_flags_exit_1(sluice_factory, flag, word):
    code, err = start_expecting_exit(sluice_factory, [flag])
    assert code == 1, err
    assert word in err.replace("-", "_"), err


def test_unreadable_config_file_exits_1(sluice_factory):
    code, err = start_expecting_exit(sluice_factory, ["-config.file=/nonexistent/sluice.yaml"])
    assert code == 1
    assert "/nonexistent/sluice.yaml" in err


def test_invalid_yaml_exits_1(sluice_factory):
    code, err = start_expecting_exit(sluice_factory, config="server: [unclosed\n")
    assert code == 1
    assert err.strip()


def test_port_in_use_exits_nonzero(sluice_factory, sluice):
    srv = sluice_factory(start=False)
    srv.port = sluice.port
    srv.spawn()
    code = srv.wait_exit(timeout=15)
    assert code != 0
    assert str(sluice.port) in srv.stderr_text()


LOG_KEY = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.]*$")


def server_log_lines(srv):
    return [l for l in srv.stderr_text().splitlines() if l.strip() and not l.startswith("=== start")]


def exercise(srv):
    t0 = pf.now_ns() - 10 * S
    assert srv.push_json([{"stream": {"app": "log"}, "values": [[t0, "x"]]}]).status_code == 204
    srv.post("/flush")
    assert srv.stop() == 0


def test_log_format_json(sluice_factory):
    srv = sluice_factory(["-server.log-format=json", "-ingester.wal.checkpoint-duration=1s"])
    exercise(srv)
    lines = server_log_lines(srv)
    assert len(lines) >= 3
    bad = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            bad.append(("not JSON", line))
            continue
        if not isinstance(obj, dict) or not {"level", "ts", "msg"} <= set(obj):
            bad.append(("missing level/ts/msg", line))
        elif not all(LOG_KEY.match(k) for k in obj):
            bad.append(("odd key", line))
    assert not bad, "\n".join(f"{why}: {line}" for why, line in bad)


def test_log_format_logfmt(sluice_factory):
    srv = sluice_factory(["-ingester.wal.checkpoint-duration=1s"])
    exercise(srv)
    lines = server_log_lines(srv)
    pair = r'[a-zA-Z_][a-zA-Z0-9_.]*=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
    logfmt = re.compile(rf"^{pair}(?: {pair})*$")
    bad = [l for l in lines if not (l.startswith("level=") and " msg=" in l and logfmt.match(l))]
    assert not bad, "lines that are not logfmt with level and msg:\n" + "\n".join(bad)


def test_log_level_warn_hides_info(sluice_factory):
    srv = sluice_factory(["-server.log-level=warn"])
    exercise(srv)
    assert not [l for l in server_log_lines(srv) if l.startswith("level=info")]


def test_ready(sluice):
    r = sluice.get("/ready")
    assert r.status_code == 200
    assert r.text.strip() == "ready"


def test_buildinfo_reports_the_build(sluice):
    """Loki's fields in Loki's order; the version is the project's, the revision a commit of the
    tree the binary was configured from (or "unknown" outside a git checkout)."""
    r = sluice.get("/loki/api/v1/status/buildinfo")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"]
    root = pathlib.Path(__file__).resolve().parents[2]
    version = re.search(r"project\(sluice VERSION (\S+)", (root / "CMakeLists.txt").read_text())
    assert body["version"] == version.group(1)
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=root,
                            capture_output=True, text=True, timeout=30)
    if inside.returncode != 0:
        assert body["revision"] == "unknown"
        return
    assert re.fullmatch(r"[0-9a-f]{7,40}", body["revision"]), body
    known = subprocess.run(["git", "cat-file", "-e", body["revision"] + "^{commit}"], cwd=root,
                           capture_output=True, timeout=30)
    assert known.returncode == 0, f"revision {body['revision']} is not a commit of {root}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["buildDate"]), body
