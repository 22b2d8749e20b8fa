"""The Grafana dashboards (deploy/monitoring/dashboards/sluice-*.json): their JSON model, and
every panel's PromQL run by a real Prometheus against real sluice processes.

One module-scoped setup (about 35 s) runs:
  - `main`: the single binary (helpers.server.Sluice) storing in S3 (s3rver), with auth, the
    chunk and results caches, the compactor with retention and deletes, runtime overrides that
    put three tenants at their limits, and memory budgets small enough to refuse pushes while
    the store is down;
  - `kafka`: the single binary with Kafka writes, on sluice-kafka-testbroker;
  - `cluster`: scripts/cluster.sh with 2 ingesters at RF 2 in two zones, a querier and the
    front door. The replication, circuit breaker, per-ingester latency, zone and
    querier-to-ingester panels need it: those metrics exist only where distributors and
    queriers call ingesters over gRPC. Starting it costs about 7 s, so every such panel is
    checked for data rather than only parsed;
  - Prometheus (Debian's) scraping each of them every second, every target labelled
    cluster="dashboards-test" and a job per component.
Traffic, about 10 s of it: pushes on every push route, pushes refused by validation and by each
limit, duplicates, log and metric queries on the read routes (twice, for the caches), a flush, an
old stream for retention and a delete request; and incidents: S3 killed for a few seconds (flush
failures, object-store errors, pushes refused for memory), the Kafka broker paused (produce
failures, 503s), one of the cluster's two ingesters killed (no quorum: 503s, replication
failures, an open breaker, a querier's failed ingester read) and restarted (WAL replay).

Then every target of every panel, with the dashboard's variables resolved as Grafana resolves
them (each variable's label_values query asked of this Prometheus, every value it offers
selected, `$__rate_interval` = 1m, `$__range` = 5m), runs as an instant query and must return at
least one finite sample. Two kinds of targets are exempt, each by name below:
  - PENDING: metrics sluice does not export yet; the panel's description says "Not exported
    yet". The query must parse and the metric must really be absent, so the test fails (asking
    for PENDING and the description to be updated) once it lands.
  - NEVER_FIRED: failure counters without labels that sluice exposes only after the first
    failure, which this test cannot cause from outside; their names are checked against the
    families sluice declares (# TYPE lines) instead.
"""

import importlib.util
import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests
import yaml

from helpers import kafka as kafka_helpers
from helpers import push as pf
from helpers.cluster import Cluster
from helpers.prometheus import BINARY as PROMETHEUS_BINARY
from helpers.prometheus import Prometheus, PrometheusError
from helpers.s3 import S3rver
from helpers.server import wait_until

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "deploy" / "monitoring" / "dashboards"
S = 10**9
CLUSTER_LABEL = "dashboards-test"

# Built-in Grafana variables, as substituted here: Grafana's $__rate_interval is at least four
# scrape intervals; one minute covers the whole traffic phase at a 1 s scrape interval.
BUILTINS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m"}

# Metrics a panel may read before sluice exports them (name: what it is): the panel's description
# must say "Not exported yet", and the test then checks that the query parses and that the metric
# is really absent. Empty: every metric the dashboards read is exported.
PENDING = {}
NEVER_FIRED = {
    "loki_ingester_checkpoint_creations_failed_total":
        "a checkpoint cannot be made to fail from outside without breaking the WAL directory",
}


def load_generator():
    spec = importlib.util.spec_from_file_location("dashboards_generate",
                                                  DASHBOARDS_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = load_generator()


def dashboards():
    """{file name: dashboard JSON} of every dashboard file."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("sluice-*.json"))}


def panels(dashboard):
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def all_targets():
    """[(test id, dashboard JSON, panel, target)] of every panel target of every dashboard."""
    out = []
    for name, d in dashboards().items():
        for p in panels(d):
            for t in p["targets"]:
                out.append((f"{d['uid']}/{p['id']} {p['title']} [{t['refId']}]", d, p, t))
    return out


def metric_names(expr):
    """Metric names an expression selects (every selector here has braces)."""
    return set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expr))


def family(name):
    return re.sub(r"_(bucket|count|sum)$", "", name)


# --- the JSON model, without servers --------------------------------------------------------------

def test_dashboard_files_are_what_generate_py_writes():
    assert set(dashboards()) == set(GENERATE.DASHBOARDS), "files and generate.py's list differ"
    for name, spec in GENERATE.DASHBOARDS.items():
        assert (DASHBOARDS_DIR / name).read_text() == GENERATE.render(spec), (
            f"{name} is out of date: run deploy/monitoring/dashboards/generate.py")


def test_dashboard_json_structure():
    uids, titles = set(), set()
    for name, d in dashboards().items():
        assert d["uid"] not in uids and d["title"] not in titles, name
        uids.add(d["uid"])
        titles.add(d["title"])
        variables = {v["name"]: v for v in d["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        for v in ("cluster", "job"):
            assert variables[v]["type"] == "query" and variables[v]["includeAll"], (name, v)
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        panel_titles = [p["title"] for p in panels(d)]
        assert len(panel_titles) == len(set(panel_titles)), f"{name}: duplicate panel titles"
        cells = set()
        for p in d["panels"]:
            g = p["gridPos"]
            assert set(g) == {"h", "w", "x", "y"}, (name, p["title"])
            assert g["w"] > 0 and g["h"] > 0 and 0 <= g["x"] and g["x"] + g["w"] <= 24, p["title"]
            cell = {(x, y) for x in range(g["x"], g["x"] + g["w"])
                    for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & cell, f"{name}: {p['title']} overlaps another panel"
            cells |= cell
            if p["type"] == "row":
                continue
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
            assert p["description"], p["title"]
            assert p["targets"], p["title"]
            for t in p["targets"]:
                assert t["datasource"] == p["datasource"], (p["title"], t["refId"])
                used = set(re.findall(r"\$\w+", t["expr"]))
                unknown = {u for u in used if u[1:] not in variables and u not in BUILTINS}
                assert not unknown, (p["title"], unknown)
                # Every selector is scoped to the chosen clusters and jobs.
                for selector in re.findall(r"\{[^}]*\}", t["expr"]):
                    assert 'cluster=~"$cluster"' in selector and 'job=~"$job"' in selector, (
                        p["title"], selector)
            mentions_pending = any(family(m) in PENDING for t in p["targets"]
                                   for m in metric_names(t["expr"]))
            assert mentions_pending == ("Not exported yet" in p["description"]), p["title"]


# --- the servers and the traffic ------------------------------------------------------------------

class Stack:
    """Everything the module starts; `jobs` are Prometheus' (job, [host:port]) to scrape."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.s3 = self.broker = self.cluster = self.prom = None
        self.main = self.kafka = None
        self.jobs = []

    def stop(self):
        for stop in (lambda: self.prom and self.prom.stop(),
                     lambda: self.main and self.main.stop(),
                     lambda: self.kafka and self.kafka.stop(),
                     lambda: self.cluster and self.cluster.stop(),
                     lambda: self.broker and self.broker.stop(),
                     lambda: self.s3 and self.s3.stop()):
            try:
                stop()
            except Exception as e:  # noqa: BLE001 - teardown reports, does not mask the test
                print(f"teardown: {e}")


def hostport(url):
    return url.split("://", 1)[1]


def stream(labels, lines, t0, step=1):
    return {"stream": labels,
            "values": [[str(t0 + i * step), line] for i, line in enumerate(lines)]}


def expect(response, *statuses):
    assert response.status_code in statuses, (
        f"{response.request.method} {response.request.url}: {response.status_code} "
        f"{response.text[:300]}")
    return response


class Traffic:
    """What the dashboards' panels need to show data, sent to the stack round by round."""

    ROUNDS = 8
    ROUND_SECONDS = 1.0

    def __init__(self, stack):
        self.s = stack
        self.now = pf.now_ns()
        self.previous = None  # the last round's push to tenant a, sent again as a duplicate

    def run(self):
        main = self.s.main
        # An old stream (2 days, retention 24h) and lines a delete request will remove; flushed
        # in round 1, then expired, marked, swept and rewritten by the compactor.
        expect(main.push_json([stream({"app": "dash", "age": "2d"},
                                      [f"old line {i}" for i in range(20)],
                                      self.now - 48 * 3600 * S, S)], tenant="t-old"), 204)
        for r in range(self.ROUNDS):
            started = time.monotonic()
            self.round(r)
            time.sleep(max(0.0, self.ROUND_SECONDS - (time.monotonic() - started)))

    def round(self, r):
        main, kafka, front = self.s.main, self.s.kafka, self.s.cluster.front
        ts = pf.now_ns()
        lines = [f"round {r} line {i} user={i % 3}" + (" secret=42" if i % 5 == 0 else "")
                 for i in range(50)]
        body = [stream({"app": "dash", "round": str(r)}, lines, ts)]
        expect(main.push_json(body, tenant="t-a"), 204)
        if self.previous is not None:
            expect(main.push_json(self.previous, tenant="t-a"), 204)  # duplicates, dropped
        self.previous = body
        expect(main.push_proto([stream({"app": "dash"}, lines, ts)], tenant="t-b"), 204)
        self.refused_pushes(ts)
        self.other_push_routes(ts, r)
        self.reads(r)
        expect(kafka.push_json([stream({"app": "dash"}, lines, ts)]), 204)
        expect(kafka.query_range('{app="dash"}', ts - 60 * S, ts + S), 200)
        # From round 3 ingester-2 is killed, then restarted: until its breaker closes, pushes
        # fail for want of a quorum.
        expect(front.push_json([stream({"app": "dash", "round": str(r)}, lines, ts)]),
               *((204,) if r < 3 else (204, 503)))
        expect(front.query_range('sum(count_over_time({app="dash"}[1m]))', ts - 60 * S, ts,
                                 step="10s"), 200, 503)

        if r == 1:
            expect(main.post("/flush"), 204)
            expect(main.post("/loki/api/v1/delete", tenant="t-a",
                             params={"query": '{app="dash"} |= "secret=42"',
                                     "start": str((self.now - 3600 * S) // S)}), 204)
        if r == 2:
            self.store_outage()
        if r == 3:
            self.kafka_outage(ts, lines)
            self.lose_an_ingester(ts, lines)
        if r == 4:
            self.s.cluster.restart("ingester-2")  # WAL replay; the breaker closes

    def refused_pushes(self, ts):
        main = self.s.main
        # Validation: too old (the default reject_old_samples_max_age is a week).
        expect(main.push_json([stream({"app": "dash"}, ["ancient"], ts - 30 * 24 * 3600 * S)],
                              tenant="t-b"), 400)
        # Limits (the runtime overrides): the tenant's rate, one stream's rate, the stream count.
        big = ["x" * 1000 for _ in range(20)]
        expect(main.push_json([stream({"app": "flood"}, big, ts)], tenant="flood"), 429)
        expect(main.push_json([stream({"app": "hot"}, big, ts)], tenant="hot"), 429)
        expect(main.push_json([stream({"app": "many", "n": str(i)}, ["l"], ts)
                               for i in range(5)], tenant="many"), 429)

    def other_push_routes(self, ts, r):
        main = self.s.main
        expect(main.push_json([stream({"app": "legacy"}, ["l"], ts)], tenant="t-b",
                              path="/api/prom/push"), 204)
        otlp = {"resourceLogs": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "otel"}}]},
            "scopeLogs": [{"logRecords": [{"timeUnixNano": str(ts),
                                           "body": {"stringValue": "o"}}]}],
        }]}
        expect(main.post("/otlp/v1/logs", tenant="t-b", json=otlp), 204)
        doc = json.dumps({"_msg": f"json {r}", "app": "jsonl"})
        expect(main.post("/insert/jsonline", tenant="t-b", data=doc + "\n",
                         params={"_stream_fields": "app"}), 204)
        bulk = '{"create":{}}\n' + doc + "\n"
        for path in ("/insert/elasticsearch/_bulk", "/insert/elasticsearch/logs/_bulk"):
            expect(main.post(path, tenant="t-b", data=bulk, params={"_stream_fields": "app"},
                             headers={"Content-Type": "application/x-ndjson"}), 200)

    def reads(self, r):
        main, now = self.s.main, pf.now_ns()
        hour_ago = now - 3600 * S
        # During the store outage, reads of stored chunks may fail: 5xx is expected then.
        ok = (200, 500, 503) if r in (2, 3) else (200,)
        q = {"tenant": "t-a", "timeout": 30}
        # A rare needle over flushed chunks (blooms skip blocks; the chunk cache is used), and a
        # metric query ending an hour ago, twice (the second from the results cache).
        expect(main.query_range('{app="dash"} |= "needle-not-there-0123456789"', hour_ago, now,
                                **q), *ok)
        for _ in range(2):
            expect(main.query_range('sum(count_over_time({app="dash"}[5m]))', now - 3 * 3600 * S,
                                    hour_ago, step="60s", **q), *ok)
        expect(main.get("/loki/api/v1/query", params={"query": 'count_over_time({app="dash"}[1m])'},
                        **q), *ok)
        for path, params in (("/loki/api/v1/labels", {}), ("/loki/api/v1/label/app/values", {}),
                             ("/loki/api/v1/series", {"match[]": '{app="dash"}'}),
                             ("/loki/api/v1/index/stats", {"query": '{app="dash"}'}),
                             ("/loki/api/v1/index/volume", {"query": '{app="dash"}'}),
                             ("/loki/api/v1/detected_labels", {"query": '{app="dash"}'})):
            expect(main.get(path, params=dict(params, start=str(hour_ago), end=str(now)), **q),
                   *ok)

    def store_outage(self):
        """S3 down: chunks waiting for it fill the (small) memory budget, flushes fail, then
        pushes are refused with 503 until the store is back (a round later)."""
        main = self.s.main
        self.s.s3.stop()
        payload = [os.urandom(1000).hex() for _ in range(200)]  # incompressible
        expect(main.push_json([stream({"app": "dash", "fill": "1"}, payload, pf.now_ns())],
                              tenant="t-a"), 204, 503)
        expect(main.post("/flush"), 204)

        def refused():
            r = main.push_json([stream({"app": "dash", "fill": "2"}, payload, pf.now_ns())],
                               tenant="t-a")
            expect(r, 204, 503)
            return r.status_code == 503 and "memory budget exhausted" in r.text

        wait_until(refused, 10, interval=0.2, what="a push refused for memory while S3 is down")
        self.s.s3.start()
        # The flush retries (ingester.flush_op_backoff) store the backlog; then pushes pass.
        wait_until(lambda: expect(main.push_json([stream({"app": "dash"}, ["back"], pf.now_ns())],
                                                 tenant="t-a"), 204, 503).status_code == 204,
                   15, interval=0.2, what="pushes accepted again once S3 is back")

    def kafka_outage(self, ts, lines):
        """The broker stops answering: a push waits kafka_config.write_timeout (1s here), 503."""
        self.s.broker.pause()
        try:
            expect(self.s.kafka.push_json([stream({"app": "dash", "outage": "1"}, lines, ts)]),
                   503)
        finally:
            self.s.broker.resume()

    def lose_an_ingester(self, ts, lines):
        """One of two ingesters at RF 2 killed: no quorum, 503s; the breaker opens after the
        failures; a query's read of it fails (and is tolerated or fails the query)."""
        front = self.s.cluster.front
        self.s.cluster.kill("ingester-2")
        for i in range(4):
            expect(front.push_json([stream({"app": "dash", "n": str(i)}, lines, ts)]), 503)
        expect(front.query_range('{app="dash"}', ts - 60 * S, ts + S), 200, 503)


def main_config(overrides_path):
    return {
        "limits_config": {"retention_period": "24h"},
        "query_range": {"cache_results": True,
                        "results_cache": {"cache": {"embedded_cache": {"enabled": True}}}},
        "runtime_config": {"file": str(overrides_path), "period": "1s"},
    }


MAIN_FLAGS = [
    "-auth_enabled=true",
    "-ingester.wal.fsync=batch",  # the Sluice fixture's default is never: no fsync to time
    "-ingester.wal.checkpoint-duration=1s",
    "-ingester.head_memory_budget=16KB", "-ingester.chunk_memory_budget=64KB",
    "-ingester.flush_op_backoff.min_period=100ms", "-ingester.flush_op_backoff.max_period=500ms",
    "-common.storage.s3.backoff_config.max_retries=1",
    "-common.storage.s3.backoff_config.min_period=10ms",
    "-common.storage.s3.backoff_config.max_period=50ms",
    "-compactor.retention-enabled=true", "-compactor.compaction-interval=1s",
    "-compactor.retention-delete-delay=0s", "-compactor.delete-request-cancel-period=0s",
]
OVERRIDES = {"overrides": {
    "flood": {"ingestion_rate_mb": 0.001, "ingestion_burst_size_mb": 0.001},
    "hot": {"per_stream_rate_limit": "1KB", "per_stream_rate_limit_burst": "1KB"},
    "many": {"max_global_streams_per_user": 2},
}}


@pytest.fixture(scope="module")
def stack(module_sluice_factory, sluice_bin):
    if not Path(PROMETHEUS_BINARY).exists():
        pytest.skip("prometheus not installed (scripts/deps.sh --test installs it)")
    if shutil.which("etcd") is None:
        pytest.fail("etcd is not installed (scripts/deps.sh --test installs etcd-server)")
    kafka_helpers.skip_unless_usable(sluice_bin)
    workdir = Path(tempfile.mkdtemp(prefix="sluice-dashboards-"))
    s = Stack(workdir)
    try:
        # The cluster starts in the background meanwhile (it is the slowest part).
        # Two zones, one ingester each (the zone panels need zones); a replay memory ceiling of
        # 1KB makes the restarted ingester's replay flush as it goes.
        s.cluster = Cluster(sluice_bin, workdir / "cluster", ingesters=2, rf=2, zones=2,
                            queriers=1, backends=0,
                            flags=["-ingester.wal.replay_memory_ceiling=1KB"])
        failure = []
        starter = threading.Thread(target=lambda: _run_capturing(s.cluster.start, failure))
        starter.start()
        s.s3 = S3rver(workdir / "s3").start()
        s.broker = kafka_helpers.TestBroker(sluice_bin, topic="logs", partitions=2).start()
        overrides = workdir / "overrides.yaml"
        overrides.write_text(yaml.safe_dump(OVERRIDES))
        s.main = module_sluice_factory(s.s3.sluice_flags() + MAIN_FLAGS,
                                       config=main_config(overrides), name="main")
        s.kafka = module_sluice_factory(
            [f"-kafka.address={s.broker.bootstrap}", "-kafka.topic=logs",
             "-distributor.kafka-writes-enabled=true", "-ingester.kafka-ingestion-enabled=true",
             "-kafka.write-timeout=1s"], name="kafka")
        starter.join(timeout=200)
        if failure or starter.is_alive():
            raise RuntimeError(f"cluster start failed: {failure or 'still starting after 200s'}")
        c = s.cluster
        s.jobs = [
            ("sluice", [hostport(s.main.base_url)]),
            ("sluice-kafka", [hostport(s.kafka.base_url)]),
            ("sluice-cluster/frontdoor", [hostport(c.endpoint("frontdoor"))]),
            ("sluice-cluster/ingester", [hostport(c.endpoint(n)) for n in c.names()
                                         if n.startswith("ingester-")]),
            ("sluice-cluster/querier", [hostport(c.endpoint(n)) for n in c.names()
                                        if n.startswith("querier-")]),
        ]
        s.prom = Prometheus(workdir / "prometheus",
                            [(job, targets, {"cluster": CLUSTER_LABEL}) for job, targets in s.jobs])
        s.prom.start()
        s.prom.wait_targets_up(timeout=30)
        Traffic(s).run()
        # Let the compactor and the flush retries finish, then make sure the last state is
        # scraped.
        time.sleep(2)
        s.prom.wait_scraped_after(time.time(), timeout=20)
        yield s
    except BaseException:
        if s.cluster is not None and s.cluster.port is not None:
            print(s.cluster.logs_tail(30))
        if s.prom is not None:
            print(s.prom.log_tail())
        raise
    finally:
        s.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _run_capturing(fn, failures):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - reported by the caller
        failures.append(e)


def grafana_regex(values):
    """A multi-value variable as Grafana's Prometheus data source writes it into a regex
    matcher: regex metacharacters escaped (with the backslash doubled, inside a PromQL string),
    values joined by |."""
    return "(" + "|".join(re.sub(r"([\\$^*+?.()|{}\[\]])", r"\\\\\1", v)
                          for v in values) + ")"


def resolve_variables(prom, dashboard):
    """{"$name": value} for the dashboard's query variables, each resolved in order by asking
    Prometheus its label_values query with the variables before it substituted."""
    out, now = dict(BUILTINS), time.time()
    for v in dashboard["templating"]["list"]:
        if v["type"] != "query":
            continue
        m = re.fullmatch(r"label_values\((.*), *(\w+)\)", substitute(v["query"]["query"], out))
        assert m, v["query"]
        values = prom.label_values(m.group(2), m.group(1), now - 300, now)
        assert values, f"variable {v['name']}: {v['query']['query']} offers no value"
        out["$" + v["name"]] = grafana_regex(values)
    return out


def substitute(expr, variables):
    # Longest names first: $__rate_interval before a hypothetical $__rate.
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace(name, variables[name])
    return expr


@pytest.fixture(scope="module")
def variables(stack):
    return {d["uid"]: resolve_variables(stack.prom, d) for d in dashboards().values()}


@pytest.fixture(scope="module")
def declared_families(stack):
    """Every metric family some sluice process of the stack declares (# TYPE lines)."""
    names = set()
    for _, targets in stack.jobs:
        for t in targets:
            text = requests.get(f"http://{t}/metrics", timeout=10).text
            names |= set(re.findall(r"^# TYPE (\S+) ", text, re.M))
    return names


def test_variables_offer_every_component_and_tenant(stack, variables):
    writes = variables["sluice-writes"]
    assert writes["$cluster"] == grafana_regex([CLUSTER_LABEL])
    assert writes["$job"] == grafana_regex(sorted(job for job, _ in stack.jobs))
    tenants = variables["sluice-tenants"]["$tenant"]
    for tenant in ("t-a", "t-b", "flood", "hot", "many", "fake"):
        assert tenant in tenants


@pytest.mark.parametrize("case", all_targets(), ids=lambda c: c[0])
def test_panel_query(stack, variables, declared_families, case):
    _, dashboard, panel, target = case
    expr = substitute(target["expr"], variables[dashboard["uid"]])
    names = {family(n) for n in metric_names(target["expr"])}
    pending = names & set(PENDING)
    try:
        result = stack.prom.query(expr)
    except PrometheusError as e:
        pytest.fail(f"Prometheus refused the query: {e}\n{expr}")
    undeclared = names - declared_families - set(PENDING) - {"up"}
    assert not undeclared, f"no sluice process declares {undeclared}"
    if pending:
        assert not result, f"{pending} is exported now: update PENDING and the panel description"
        return
    if names & set(NEVER_FIRED):
        return
    values = [float(r["value"][1]) for r in result]
    assert any(math.isfinite(v) for v in values), (
        f"no finite sample ({len(result)} series: {result[:3]})\n{expr}")
    # The labels the legend shows and the query groups by are on the series (a misspelt
    # grouping label still returns data, as one series without it).
    grouped = {label.strip() for by in re.findall(r"\bby \(([^)]*)\)", target["expr"])
               for label in by.split(",")} - {"le"}
    legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"]))
    present = {k for r in result for k, v in r["metric"].items() if v}
    assert (grouped | legend) <= present, (
        f"labels {(grouped | legend) - present} on no series: {result[:3]}\n{expr}")


def test_pending_metrics_are_not_declared(declared_families):
    """What PENDING lists is really missing (so the exemption above is not hiding a typo)."""
    assert not set(PENDING) & declared_families


def test_route_regexes_match_the_routes_sluice_names(stack):
    """Every push and read route the traffic used shows up with the name the dashboards' route
    regexes expect."""
    routes = {r["metric"]["route"] for r in stack.prom.query(
        'count by (route) (loki_request_duration_seconds_count{job="sluice"})')}
    push = {"loki_api_v1_push", "api_prom_push", "otlp_v1_logs", "insert_jsonline",
            "insert_elasticsearch_bulk", "insert_elasticsearch_index_bulk"}
    read = {"loki_api_v1_query_range", "loki_api_v1_query", "loki_api_v1_labels",
            "loki_api_v1_label_name_values", "loki_api_v1_series", "loki_api_v1_index_stats",
            "loki_api_v1_index_volume", "loki_api_v1_detected_labels"}
    assert push | read <= routes, (push | read) - routes
    for route in push:
        assert re.fullmatch(GENERATE.PUSH_ROUTES, route), route
    for route in read:
        assert re.fullmatch(GENERATE.READ_ROUTES, route), route
    for route in routes - push - read:
        assert not re.fullmatch(GENERATE.PUSH_ROUTES, route), route
        assert not re.fullmatch(GENERATE.READ_ROUTES, route), route


def test_incidents_show_on_their_panels(stack):
    """The incidents the traffic injected are visible as such, not merely as series at 0."""
    prom = stack.prom

    def total(expr):
        return sum(float(r["value"][1]) for r in prom.query(expr))

    assert total('sum(loki_request_duration_seconds_count{route="loki_api_v1_push", '
                 'status_code="503"})') > 0
    assert total("sum(sluice_ingester_flush_failures_total)") > 0
    assert total("sum(sluice_ingester_pushes_refused_total)") > 0
    assert total('sum(loki_s3_request_duration_seconds_count{status_code="500"})') > 0
    assert total('sum(loki_objstore_bucket_operation_failures_total{operation="upload"})') > 0
    assert total('sum(loki_distributor_ingester_append_failures_total)') > 0
    assert total('sum(sluice_ingester_client_circuit_breaker_transitions_total{state="open"})') > 0
    assert total("sum(sluice_querier_ingester_failures_total)") > 0
    assert total("sum(loki_kafka_client_produce_failures_total)") > 0
    assert total("sum(sluice_ingester_duplicate_entries_total)") > 0
    assert total("sum(loki_ingester_wal_recovered_entries_total"
                 '{job="sluice-cluster/ingester"})') > 0
    assert total("sum(sluice_compactor_chunks_expired_total)") > 0
    assert total("sum(loki_compactor_deleted_lines)") > 0
    for reason in ("rate_limited", "per_stream_rate_limit", "stream_limit",
                   "greater_than_max_sample_age"):
        assert total(f'sum(loki_discarded_samples_total{{reason="{reason}"}})') > 0, reason
