"""Every real client the e2e suite drives pushes into ONE sluice at the same time, each into its
own tenant, and every query API answers for every client's data (issue 10's definition of done).

The server runs as a Loki 3 user would run it: auth on, the pattern ingester on, and
discover_service_name / discover_log_levels left at Loki's defaults (E2eSluice pins them off for
the other e2e tests; this module removes the pins), so every stream below gets its service_name
from Loki's default label list and every entry a detected_level.

Clients (each wire format is checked in depth by its own test; here they only have to coexist):
  winston-loki (protobuf+snappy), pino-loki (JSON, one stream object per line, metadata),
  the OpenTelemetry JS SDK's OTLP/HTTP JSON and protobuf exporters, the Elasticsearch JS client's
  bulk helper, Debian's rsyslog over TCP (RFC 5424, octet counting) and UDP (RFC 3164),
  /insert/jsonline, Loki's push as JSON and as protobuf+snappy, and `sluice agent` tailing a file.

Before anything is pushed a websocket tail is opened for every client; each must deliver exactly
the client's lines, all of which were pushed after the tail started.

Loki's pattern ingester skips an entry older than the newest one it mined for the stream
(pkg/pattern/stream.go), so every client here sends its lines in time order: the Elasticsearch
helper with one bulk request in flight, the OTLP exporters in one export (50 records, the batch
size push_otel.js sets).

The lines of every client but pino are "<client> handled request number <i>", one template, so
/loki/api/v1/patterns finds exactly one pattern whose samples sum to the client's count. Loki's
querier leaves out patterns seen fewer than 30 times in the range, so every client pushes at
least 30 lines.
"""

import collections
import concurrent.futures
import json
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
import yaml

from agent.conftest import Agent, agent_config, write_lines
from e2e_support import (E2eSluice, e2e_free_port, e2e_install_node_modules, e2e_run_node,
                         e2e_sluice_bin, e2e_stop_process)
from e2e_wire import streams_of
from helpers import push as pushfmt
from integration.test_read_api_extra import WsClient
from integration.test_service_name import DEFAULT_LIST
from test_syslog import RSYSLOGD, free_udp_port, rsyslog_config

S = 10**9
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}
HOST = socket.gethostname().split(".")[0]


@dataclass
class Client:
    name: str
    tenant: str
    service: str  # its service_name, which every query below selects on
    count: int
    labels: dict  # the one stream's labels, as sluice stores them
    messages: list = field(default_factory=list)  # what was logged, in order
    is_json: bool = False  # pino: the stored line is the record as JSON, its msg the message

    @property
    def selector(self):
        return f'{{service_name="{self.service}"}}'

    def message_of(self, line):
        return json.loads(line)["msg"] if self.is_json else line

    def template(self):
        return f"{self.name} handled request number"


def make_clients():
    def client(name, count, labels, service=None, **kw):
        service = service or f"allc-{name}"
        c = Client(name, f"t-{name}", service, count, {**labels, "service_name": service}, **kw)
        c.messages = [f"{c.template()} {i}" for i in range(count)]
        return c

    # Stream labels: what each client sends, plus service_name from the first label of Loki's
    # default list the stream has (service.name for OTLP and the ES documents' service.name).
    return [
        client("winston", 120, {"level": "info", "app": "allc-winston"}),
        client("pino", 90, {"level": "info", "hostname": "e2e-host", "app": "allc-pino"},
               is_json=True),
        client("otel-json", 50, {"service_namespace": "e2e"}),
        client("otel-proto", 50, {"service_namespace": "e2e"}),
        client("es", 80, {"host_name": "es-host"}),
        client("syslog-tcp", 40, {"job": "rsyslog", "transport": "tcp", "app_name": "e2etcp",
                                  "hostname": HOST}, service="e2etcp"),
        client("syslog-udp", 40, {"job": "rsyslog", "transport": "udp", "app_name": "e2eudp",
                                  "hostname": HOST}, service="e2eudp"),
        client("jsonline", 50, {"app": "allc-jsonline"}),
        client("loki-json", 50, {"app": "allc-loki-json"}),
        client("loki-proto", 50, {"app": "allc-loki-proto"}),
        client("agent", 50, {"job": "allc-agent"}),  # + filename, set once the path is known
    ]


# --- tails ---------------------------------------------------------------------------------------


class TailReader:
    """A websocket tail of one client's selector, read on its own thread until every expected
    line has arrived (or the deadline passes)."""

    def __init__(self, sluice, c, start_ns):
        self.client = c
        self.ws = WsClient(sluice.port, "/loki/api/v1/tail",
                           {"query": c.selector, "start": str(start_ns), "limit": "1000"},
                           timeout=30, headers={"X-Scope-OrgID": c.tenant})
        assert self.ws.status_line.startswith("HTTP/1.1 101"), (c.name, self.ws.status_line)
        self.messages = []
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        want = set(self.client.messages)
        deadline = time.monotonic() + 45
        try:
            while not want <= set(self.messages) and time.monotonic() < deadline:
                op, payload = self.ws.recv_message()
                if op != 1:
                    self.error = f"frame opcode {op}: {payload[:200]!r}"
                    return
                for s in json.loads(payload)["streams"]:
                    self.messages.extend(self.client.message_of(v[1]) for v in s["values"])
        except (OSError, EOFError, ValueError) as e:
            self.error = repr(e)

    def finish(self, timeout):
        self.thread.join(timeout)
        self.ws.sock.close()
        self.thread.join(5)


# --- pushers -------------------------------------------------------------------------------------


def push_node(sluice, c):
    name = c.name
    if name in ("winston", "pino"):
        script = f"push_{name}.js"
        cfg = {"url": sluice.url, "tenant": c.tenant, "count": c.count, "prefix": c.template(),
               "labels": {"app": c.labels["app"]}, "interval": 0.2, "meta": name == "pino",
               "groups": 2, "json": False}
    elif name.startswith("otel-"):
        script = "push_otel.js"
        cfg = {"url": sluice.url + "/otlp/v1/logs", "tenant": c.tenant,
               "exporter": name.split("-")[1], "compression": "none", "count": c.count,
               "prefix": c.template(),
               "resource": {"service.name": c.service, "service.namespace": "e2e",
                            "host.name": "otel-host"},
               "attributes": {"http.route": "/api/items", "user.id": "u-7"},
               "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}
    else:
        script = "push_elasticsearch.js"
        cfg = {"url": sluice.url + "/insert/elasticsearch", "tenant": c.tenant, "count": c.count,
               "prefix": c.template(), "service": c.service, "index": "app-logs",
               "compression": "none", "concurrency": 1,
               "query": {"_stream_fields": "service.name,host.name", "_msg_field": "message",
                         "_time_field": "@timestamp", "ignore_fields": "tags"}}
    summary, stderr = e2e_run_node(script, cfg, timeout=60)
    if name == "pino":
        assert "error when trying to send log to loki" not in stderr.lower(), stderr
    elif name == "es":
        assert summary["stats"]["successful"] == c.count, (summary, stderr)
    elif name.startswith("otel-"):
        assert summary == {"sent": c.count, "exports": 1, "errors": []}, (summary, stderr)
    else:
        assert summary["sent"] == c.count and summary["errors"] == [], (summary, stderr)


def push_http(sluice, c, t0_ns):
    values = [[t0_ns + i * 1000, m] for i, m in enumerate(c.messages)]
    headers = {"X-Scope-OrgID": c.tenant}
    if c.name == "jsonline":
        body = "".join(json.dumps({"ts": str(ts), "msg": m, "app": c.labels["app"], "seq": i})
                       + "\n" for i, (ts, m) in enumerate(values))
        r = requests.post(sluice.url + "/insert/jsonline", data=body.encode(), headers=headers,
                          params={"_stream_fields": "app", "_msg_field": "msg",
                                  "_time_field": "ts"}, timeout=10)
    else:
        streams = [{"stream": {"app": c.labels["app"]}, "values": values}]
        if c.name == "loki-json":
            body, ctype = pushfmt.json_body(streams), "application/json"
        else:
            body, ctype = pushfmt.proto_body(streams), "application/x-protobuf"
        r = requests.post(sluice.url + "/loki/api/v1/push", data=body,
                          headers={**headers, "Content-Type": ctype}, timeout=10)
    assert r.status_code == 204, (c.name, r.status_code, r.text)


# --- the run -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    if not Path(RSYSLOGD).exists():
        pytest.skip("rsyslogd not installed (scripts/deps.sh --test installs it)")
    e2e_install_node_modules()
    d = tmp_path_factory.mktemp("allclients")
    clients = {c.name: c for c in make_clients()}
    tcp_port, udp_port = e2e_free_port(), free_udp_port()
    config = {"syslog": {"listeners": [
        {"protocol": proto, "listen_address": f"127.0.0.1:{port}",
         "tenant": clients[f"syslog-{proto}"].tenant,
         "labels": {"job": "rsyslog", "transport": proto}, "use_incoming_timestamp": True}
        for proto, port in (("tcp", tcp_port), ("udp", udp_port))]}}
    (d / "sluice.yaml").write_text(yaml.safe_dump(config))
    sluice = E2eSluice(f"-config.file={d / 'sluice.yaml'}", "-pattern_ingester.enabled=true",
                       auth_enabled=True)
    # This run keeps Loki 3's defaults for service name and level discovery.
    sluice.args = [a for a in sluice.args if not a.startswith(
        ("-limits_config.discover_service_name=", "-limits_config.discover_log_levels="))]
    sluice.start()

    log_path = d / "logs" / "app.log"
    log_path.parent.mkdir()
    log_path.touch()
    clients["agent"].labels["filename"] = str(log_path)
    (d / "work").mkdir()
    rsyslog_conf = d / "rsyslog.conf"
    rsyslog_conf.write_text(rsyslog_config(d, tcp_port, udp_port))
    for t in ("tcp", "udp"):
        (d / f"{t}.log").touch()

    rsyslog = agent = None
    tails = []
    try:
        # From the start of this second: RFC 3164 syslog timestamps carry whole seconds, so a
        # line rsyslog stamps in the second the tails start is dated before a start with
        # nanoseconds, and no tail would be asked for it.
        t0_ns = time.time_ns() // 1_000_000_000 * 1_000_000_000
        tails = [TailReader(sluice, c, t0_ns) for c in clients.values()]
        agent_cfg = agent_config(sluice.url + "/loki/api/v1/push", d / "positions.yaml",
                                 files=[str(log_path)],
                                 client={"tenant_id": clients["agent"].tenant},
                                 scrape_configs=[{"job_name": "allc",
                                                  "labels": {"job": "allc-agent"},
                                                  "files": [str(log_path)]}])
        agent = Agent(e2e_sluice_bin(), d, agent_cfg, name="agent").start()
        with open(d / "rsyslog.log", "wb") as log:
            rsyslog = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(rsyslog_conf), "-i", str(d / "rsyslog.pid")],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=d)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            jobs = [pool.submit(push_node, sluice, clients[n])
                    for n in ("winston", "pino", "otel-json", "otel-proto", "es")]
            jobs += [pool.submit(push_http, sluice, clients[n], t0_ns)
                     for n in ("jsonline", "loki-json", "loki-proto")]
            write_lines(log_path, clients["agent"].messages)
            for t in ("tcp", "udp"):
                write_lines(d / f"{t}.log", clients[f"syslog-{t}"].messages)
            for j in jobs:
                j.result()

        # Everything arrived: the distributor counted each client's lines in its tenant.
        def received():
            return {c.name: sluice.metric_value("loki_distributor_lines_received_total",
                                                {"tenant": c.tenant}) for c in clients.values()}

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = received()
            if all((got[c.name] or 0) >= c.count for c in clients.values()):
                break
            time.sleep(0.2)
        got = received()
        assert got == {c.name: c.count for c in clients.values()}, (
            f"lines received per client: {got}\nrsyslog: {(d / 'rsyslog.log').read_text()[-1000:]}"
            f"\nagent: {agent.stderr_tail(10)}\nsluice: {sluice.log()[-3000:]}")
        for tail in tails:
            tail.finish(timeout=15)
        yield sluice, clients, tails, t0_ns
    finally:
        for tail in tails:
            tail.ws.sock.close()
        if rsyslog is not None:
            e2e_stop_process(rsyslog)
        if agent is not None:
            agent.stop()
            agent.cleanup()
        sluice.stop()


@pytest.fixture(scope="module")
def window(world):
    _, _, _, t0_ns = world
    return {"start": str(t0_ns - 120 * S), "end": str(time.time_ns() + 60 * S)}


def get(sluice, path, tenant, **params):
    r = requests.get(sluice.url + path, params=params, headers={"X-Scope-OrgID": tenant},
                     timeout=10)
    assert r.status_code == 200, (path, tenant, r.status_code, r.text[:500])
    return r.json()


def read_back(sluice, c, window, values=False):
    """(stream labels, [lines]) of the client's one stream, oldest first; with values=True the
    categorized values ([ts, line, {structuredMetadata...}]) instead of the lines."""
    r = requests.get(sluice.url + "/loki/api/v1/query_range", timeout=10, headers={
        "X-Scope-OrgID": c.tenant, **CATEGORIZE}, params={
        "query": c.selector, "limit": "5000", "direction": "forward", **window})
    result = streams_of(r)
    assert len(result) == 1, (c.name, [s["stream"] for s in result])
    if values:
        return result[0]["stream"], result[0]["values"]
    return result[0]["stream"], [v[1] for v in result[0]["values"]]


# --- every query API, for every client -----------------------------------------------------------


def test_query_range_returns_every_line_once(world, window):
    sluice, clients, _, _ = world
    for c in clients.values():
        labels, lines = read_back(sluice, c, window)
        assert labels == c.labels, c.name
        assert sorted(c.message_of(line) for line in lines) == sorted(c.messages), c.name


def test_instant_count_over_time_per_client(world):
    sluice, clients, _, _ = world
    for c in clients.values():
        body = get(sluice, "/loki/api/v1/query", c.tenant,
                   query=f"sum(count_over_time({c.selector}[10m]))", time=str(time.time_ns()))
        assert body["data"]["resultType"] == "vector", body
        (sample,) = body["data"]["result"]
        assert sample["metric"] == {} and sample["value"][1] == str(c.count), (c.name, sample)


def test_labels_label_values_and_series(world, window):
    sluice, clients, _, _ = world
    for c in clients.values():
        body = get(sluice, "/loki/api/v1/labels", c.tenant, **window)
        assert body == {"status": "success", "data": sorted(c.labels)}, c.name
        for name, value in c.labels.items():
            body = get(sluice, f"/loki/api/v1/label/{name}/values", c.tenant, **window)
            assert body["data"] == [value], (c.name, name, body)
        body = get(sluice, "/loki/api/v1/series", c.tenant, **{"match[]": c.selector}, **window)
        assert body == {"status": "success", "data": [c.labels]}, c.name


def test_index_stats_and_volume(world, window):
    sluice, clients, _, _ = world
    for c in clients.values():
        _, lines = read_back(sluice, c, window)
        nbytes = sum(len(line.encode()) for line in lines)
        stats = get(sluice, "/loki/api/v1/index/stats", c.tenant, query=c.selector, **window)
        assert stats == {"streams": 1, "chunks": 1, "entries": c.count, "bytes": nbytes}, c.name

        body = get(sluice, "/loki/api/v1/index/volume", c.tenant, query=c.selector, **window)
        assert body["data"]["resultType"] == "vector"
        assert [(s["metric"], s["value"][1]) for s in body["data"]["result"]] == [
            ({"service_name": c.service}, str(nbytes))], c.name
        body = get(sluice, "/loki/api/v1/index/volume_range", c.tenant, query=c.selector,
                   step="60", **window)
        (series,) = body["data"]["result"]
        assert series["metric"] == {"service_name": c.service}, c.name
        assert sum(int(v) for _, v in series["values"]) == nbytes, c.name


def test_detected_labels(world, window):
    sluice, clients, _, _ = world
    for c in clients.values():
        body = get(sluice, "/loki/api/v1/detected_labels", c.tenant, query=c.selector, **window)
        got = {l["label"]: l["cardinality"] for l in body["detectedLabels"]}
        assert got == {name: 1 for name in c.labels}, c.name


def fields(sluice, c, window):
    body = get(sluice, "/loki/api/v1/detected_fields", c.tenant, query=c.selector, **window)
    return {f["label"]: f for f in body["fields"]}


def values(sluice, c, name, window):
    return get(sluice, f"/loki/api/v1/detected_field/{name}/values", c.tenant,
               query=c.selector, **window)["values"]


def test_detected_fields_of_pino_json_lines(world, window):
    """pino's records parsed as json (the key `level` is also a stream label, so it is reported
    as level_extracted), next to pino-loki's structured metadata and detected_level."""
    sluice, clients, _, _ = world
    c = clients["pino"]
    got = fields(sluice, c, window)
    assert set(got) == {"level_extracted", "time", "pid", "msg", "meta_seq", "meta_tag",
                        "seq", "tag", "detected_level"}, sorted(got)
    summary = {k: (f["type"], f["cardinality"], f["parsers"], f.get("jsonPath"))
               for k, f in got.items() if k != "time"}  # pino's ms clock: few distinct values
    assert summary == {
        "level_extracted": ("int", 1, ["json"], ["level"]),
        "pid": ("int", 1, ["json"], ["pid"]),
        "msg": ("string", c.count, ["json"], ["msg"]),
        "meta_seq": ("int", c.count, ["json"], ["meta", "seq"]),
        "meta_tag": ("string", 1, ["json"], ["meta", "tag"]),
        "seq": ("int", c.count, None, None),
        "tag": ("string", 1, None, None),
        "detected_level": ("string", 1, None, None),
    }
    assert got["time"]["type"] == "int" and got["time"]["parsers"] == ["json"]
    seqs = sorted(str(i) for i in range(c.count))
    assert sorted(values(sluice, c, "msg", window)) == sorted(c.messages)
    assert sorted(values(sluice, c, "meta_seq", window)) == seqs
    assert sorted(values(sluice, c, "seq", window)) == seqs
    assert values(sluice, c, "meta_tag", window) == ["e2e"]
    assert values(sluice, c, "level_extracted", window) == ["30"]


def test_detected_fields_of_otlp_attributes(world, window):
    """Resource attributes outside Loki's index list, record attributes, severity, ids and the
    scope are structured metadata: fields without a parser."""
    sluice, clients, _, _ = world
    for name in ("otel-json", "otel-proto"):
        c = clients[name]
        got = fields(sluice, c, window)
        assert set(got) == {"host_name", "http_route", "user_id", "seq", "severity_text",
                            "severity_number", "trace_id", "span_id", "flags", "scope_name",
                            "scope_version", "observed_timestamp", "detected_level"}, sorted(got)
        assert all(f["parsers"] is None for f in got.values()), got
        assert (got["seq"]["type"], got["seq"]["cardinality"]) == ("int", c.count)
        assert (got["severity_number"]["type"], got["severity_number"]["cardinality"]) == ("int", 2)
        assert values(sluice, c, "http_route", window) == ["/api/items"]
        assert values(sluice, c, "host_name", window) == ["otel-host"]
        assert values(sluice, c, "scope_name", window) == ["sluice-e2e"]
        assert values(sluice, c, "severity_text", window) == ["ERROR", "INFO"]
        assert values(sluice, c, "detected_level", window) == ["error", "info"]
        assert sorted(values(sluice, c, "seq", window)) == sorted(str(i) for i in range(c.count))


# Loki's constants.LogLevels: the pattern ingester keeps a Drain per level, and counts a line
# whose detected_level is none of these (syslog's "notice") as unknown.
PATTERN_LEVELS = {"unknown", "debug", "info", "warn", "error", "fatal", "critical", "trace"}


def test_patterns(world, window):
    """One pattern per (template, level) the client's lines have; a level with fewer than Loki's
    30 lines in the range is left out (the OTLP clients' 5 ERROR records)."""
    sluice, clients, _, _ = world
    for c in clients.values():
        detected = (v[2].get("structuredMetadata", {}).get("detected_level", "unknown")
                    for v in read_back(sluice, c, window, values=True)[1])
        levels = collections.Counter(l if l in PATTERN_LEVELS else "unknown" for l in detected)
        body = get(sluice, "/loki/api/v1/patterns", c.tenant, query=c.selector, **window)
        assert body["status"] == "success"
        got = {(p["level"], p["pattern"]): sum(n for _, n in p["samples"]) for p in body["data"]}
        want = {(level, f"{c.template()} <_>"): n for level, n in levels.items() if n >= 30}
        if c.is_json:  # the record's JSON around the message: still one template
            assert [(level, n) for (level, _), n in got.items()] == list(
                (level, n) for (level, _), n in want.items()), (c.name, got)
            assert f'"msg":"{c.template()} <_>"' in next(iter(got))[1], got
        else:
            assert got == want, (c.name, got)


def test_tail_delivered_every_line_pushed_after_it_started(world):
    _, clients, tails, _ = world
    for tail in tails:
        c = tail.client
        assert tail.error is None, (c.name, tail.error, len(tail.messages))
        assert sorted(tail.messages) == sorted(c.messages), (c.name, len(tail.messages))


def test_drilldown_limits(world):
    sluice, clients, _, _ = world
    for c in clients.values():
        body = get(sluice, "/loki/api/v1/drilldown-limits", c.tenant)
        assert body["pattern_ingester_enabled"] is True
        assert body["limits"]["discover_service_name"] == DEFAULT_LIST.split(",")
        assert body["limits"]["discover_log_levels"] is True


def test_multi_tenant_read_sees_every_client(world, window):
    sluice, clients, _, _ = world
    tenants = "|".join(c.tenant for c in clients.values())
    r = requests.get(sluice.url + "/loki/api/v1/query_range", timeout=10, headers={
        "X-Scope-OrgID": tenants, **CATEGORIZE}, params={
        "query": '{service_name=~".+"}', "limit": "5000", **window})
    per_tenant = {}
    for s in streams_of(r):
        per_tenant[s["stream"]["__tenant_id__"]] = per_tenant.get(
            s["stream"]["__tenant_id__"], 0) + len(s["values"])
    assert per_tenant == {c.tenant: c.count for c in clients.values()}

    body = get(sluice, "/loki/api/v1/query", tenants,
               query='sum by (__tenant_id__) (count_over_time({service_name=~".+"}[10m]))',
               time=str(time.time_ns()))
    got = {s["metric"]["__tenant_id__"]: s["value"][1] for s in body["data"]["result"]}
    assert got == {c.tenant: str(c.count) for c in clients.values()}


@pytest.mark.xfail(strict=True, reason=(
    "sluice's tail polls the store for [cursor - 5s, now) (src/http/tail.h) and so misses an "
    "entry pushed more than 5s after its timestamp; Loki's ingesters hand every pushed entry "
    "to their tailers whatever its timestamp (pkg/querier/tail/tail.go has no cut-off)"))
def test_tail_delivers_an_entry_pushed_late(world):
    """What a shipper catching up on a backlog (an agent after a restart, a bulk import of
    older documents) shows a user watching the tail in Loki."""
    sluice, _, _, _ = world
    tenant, now = "t-late", time.time_ns()
    ws = WsClient(sluice.port, "/loki/api/v1/tail",
                            {"query": '{app="late"}', "start": str(now)},
                            timeout=5, headers={"X-Scope-OrgID": tenant})
    try:
        assert ws.status_line.startswith("HTTP/1.1 101"), ws.status_line
        time.sleep(1)  # the tail is live: pushed after it started, not history
        push_http(sluice, Client("loki-json", tenant, "late", 1, {"app": "late"},
                                 messages=["written 30s ago, shipped now"]), now - 30 * S)
        op, payload = ws.recv_message()  # a frame, or socket.timeout after 5s
        assert op == 1 and "written 30s ago" in payload.decode(), (op, payload)
    finally:
        ws.sock.close()
