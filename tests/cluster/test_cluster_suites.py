"""The push/query integration suite and the real-client e2e suite, run through the front door of a
3-ingester, RF=3 cluster, with every answer compared to the single binary's on the same data
(issue 11's definition of done).

How: each server pair (a cluster from scripts/cluster.sh and a single sluice binary, started
with the same flags) sits behind a `TeeProxy`. The tests talk to the tee as if it were one
server; the tee forwards every request, one at a time and in arrival order, first to the
cluster's front door and then to the single binary, answers with the front door's response, and
records every difference between the two answers on the Loki API paths (`COMPARED`). So both
servers receive the same pushes in the same order, every query a test or a client makes is asked
of both, and a test passes only if (a) its own assertions hold for the cluster's answers and
(b) the single binary answered every request identically (`differential` wraps each test and
fails it on any recorded difference).

Suites reused, not copied (the test functions are imported and run here with their fixtures
aimed at the tee):
  tests/integration/test_push_query.py  every test (auth on; `srv` is the auth pair's tee; they
                                        use only srv's HTTP helpers: a future one that needs the
                                        process itself, say a restart, must be left out here).
  tests/e2e/test_clients.py             winston-loki (protobuf+snappy; JSON with metadata),
                                        pino-loki, both at once, same-timestamp order.
  tests/e2e/test_query_client.py        the npm Loki query SDK (@myunisoft/loki).
Plus, written here: a query battery (log, metric and instant queries, limits, directions,
categorize-labels, labels/series/stats/volume) over what winston-loki and pino-loki pushed, the
npm SDK reading the clients' data, queries the front door splits by hour, and a check that the
tee does notice a difference. One known divergence is asserted as such: lines pushed now with
timestamps older than query_ingesters_within (3 h) are answered by the single binary but, as in
Loki, not by the cluster until flushed (test_backfilled_lines_older_than_query_ingesters_within).

Normalizations (the only things allowed to differ between the cluster and the single binary):
  - `data.stats` of query responses is dropped: it holds timings, and byte/chunk/line counters
    that count work done (a cluster reads a quorum of the RF=3 replicas and drops their
    duplicates; the single binary reads one head), not the answer.
  - /metrics is never compared; counters are read from each server directly, as increases
    since the test began (`E2eTee.metric_value`), because the servers are shared by the module.
  - Response headers other than Content-Type are not compared (Date, Content-Length, ...).

Two pairs (auth on / auth off), each started once for the module: a cluster costs ~5 s to start.
"""

import concurrent.futures
import functools
import http.server
import json
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

E2E_DIR = Path(__file__).resolve().parents[1] / "e2e"
# tests/e2e's modules import each other by bare name (pytest puts tests/e2e on sys.path when it
# collects that folder); do the same so its helpers and tests can be imported from here.
if str(E2E_DIR) not in sys.path:
    sys.path.insert(0, str(E2E_DIR))

import test_clients as e2e_clients  # noqa: E402
import test_query_client as e2e_query  # noqa: E402
from e2e_support import (E2eRecordingProxy, E2eSluice, e2e_install_node_modules,  # noqa: E402
                         e2e_run_node, read_proxied_request)
from e2e_wire import assert_exact_sequence, streams_of  # noqa: E402
from helpers.cluster import Cluster  # noqa: E402
from helpers.promtext import Metrics  # noqa: E402
from helpers.server import Sluice  # noqa: E402
from integration import test_push_query as push_query  # noqa: E402

S = 10**9
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}

# Paths whose answers must be identical (after `comparable`). Everything else (e.g. /metrics) is
# still forwarded to both servers, so the two stay fed alike, but its answers are not compared.
COMPARED = re.compile(
    r"^/(api/prom/push|loki/api/v1/(push|query_range|query|labels|label/[^/]+/values|series"
    r"|index/stats|index/volume|index/volume_range|detected_labels|detected_fields"
    r"|detected_field/[^/]+/values|patterns))$")
# Requests that write; every other one may read (see Pair).
PUSHES = re.compile(r"^/(api/prom/push|loki/api/v1/push|otlp/v1/logs)$")


def comparable(status, content_type, body):
    """What must be equal between the two servers' answers: status, media type, and the body, a
    JSON body parsed and without data.stats (timings and work counters; see the module doc)."""
    media = content_type.split(";")[0].strip()
    if media == "application/json" and body:
        try:
            doc = json.loads(body)
        except ValueError:
            return status, media, body
        if isinstance(doc, dict) and isinstance(doc.get("data"), dict):
            doc["data"].pop("stats", None)
        return status, media, doc
    return status, media, body


class TeeProxy:
    """An HTTP proxy on 127.0.0.1 that forwards each request to `primary` and then to `mirror`,
    answers with primary's response, and records where the two answers differ.

    Requests are forwarded one at a time (a lock spans both forwards), so both servers see the
    same pushes in the same order and every query finds both in the same state, even when several
    clients push at once. `before_forward(method, path)`, if given, runs under that lock before
    each request is forwarded (tests/integration/test_kafka_path.py waits there until its server
    has consumed from Kafka every push forwarded so far)."""

    def __init__(self, primary, mirror, before_forward=None):
        self.primary, self.mirror = primary, mirror
        self.before_forward = before_forward
        self.differences = []
        self.compared = 0
        self._lock = threading.Lock()
        tee = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body, headers = read_proxied_request(self)
                with tee._lock:
                    if tee.before_forward is not None:
                        tee.before_forward(self.command, self.path.split("?", 1)[0])
                    answers = []
                    for upstream in (tee.primary, tee.mirror):
                        try:
                            r = requests.request(self.command, upstream + self.path, data=body,
                                                 headers=headers, timeout=30)
                            answers.append((r.status_code, r.headers.get("Content-Type", ""),
                                            r.content))
                        except requests.RequestException as e:
                            answers.append((502, "text/plain", str(e).encode()))
                    path = self.path.split("?", 1)[0]
                    if COMPARED.match(path):
                        tee.compared += 1
                        a, b = (comparable(*x) for x in answers)
                        if a != b:
                            tee.differences.append({
                                "request": f"{self.command} {self.path}",
                                "tenant": self.headers.get("X-Scope-OrgID"),
                                "cluster": answers[0], "single": answers[1]})
                status, ctype, payload = answers[0]
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload and status not in (204, 304):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def take_differences(self):
        with self._lock:
            out, self.differences = self.differences, []
            return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class Pair:
    """A cluster and a single binary started with the same flags, behind one TeeProxy. A Kafka
    cluster acknowledges a push before its ingesters applied it: there the tee waits (bounded)
    before each request other than a push until they did (a timeout is a difference)."""

    def __init__(self, cluster, single):
        self.cluster, self.single = cluster, single
        self.tee = TeeProxy(cluster.front.base_url, single.base_url,
                            before_forward=self._wait_readable if cluster.kafka else None)

    def _wait_readable(self, method, path):
        if PUSHES.match(path):
            return
        try:
            self.cluster.wait_kafka_applied()
        except TimeoutError as e:
            failed = (599, "text/plain", f"waiting for Kafka reads: {e}".encode())
            self.tee.differences.append({"request": f"{method} {path}", "tenant": None,
                                         "cluster": failed, "single": failed})


_TEES = []  # every tee of this module: `differential` checks them all after each test


def _describe(d):
    def show(answer):
        status, ctype, body = answer
        return f"{status} {ctype} {body[:1500]!r}"
    return (f"{d['request']} (tenant {d['tenant']}):\n  cluster: {show(d['cluster'])}\n"
            f"  single:  {show(d['single'])}")


def _compared():
    return sum(t.compared for t in _TEES)


def assert_no_differences():
    diffs = [d for t in _TEES for d in t.take_differences()]
    assert not diffs, (f"the cluster and the single binary answered {len(diffs)} request(s) "
                       "differently:\n" + "\n".join(_describe(d) for d in diffs[:5]))


def differential(test):
    """`test`, then: every request it (and its fixtures) sent through a tee got the same answer
    from the cluster as from the single binary, and it did send some (so a test that bypassed
    the tee cannot pass as compared)."""
    @functools.wraps(test)
    def run(*args, **kwargs):
        before = _compared()
        test(*args, **kwargs)
        assert_no_differences()
        assert _compared() > before, "no request of this test went through a tee"
    return run


# --- servers --------------------------------------------------------------------------------------

def _pair(request, sluice_bin, module_sluice_factory, flags, kafka=False):
    """kafka: the cluster writes through Kafka (scripts/cluster.sh --kafka, a partition per
    ingester); the single binary writes directly, as always."""
    if shutil.which("etcd") is None:
        pytest.fail("etcd is not installed (scripts/deps.sh --test installs etcd-server)")
    cluster = Cluster(sluice_bin, tempfile.mkdtemp(prefix="sluice-cluster-suites-"), ingesters=3,
                      rf=3, queriers=2, flags=flags, kafka=kafka)
    failed_before = request.session.testsfailed
    try:
        cluster.start()
        single = module_sluice_factory(flags, name="single " + " ".join(flags))
        pair = Pair(cluster, single)
        _TEES.append(pair.tee)
        yield pair
        pair.tee.close()
        _TEES.remove(pair.tee)
    finally:
        try:
            if request.session.testsfailed > failed_before:
                print(cluster.logs_tail(40))
            cluster.stop()
        finally:
            shutil.rmtree(cluster.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def auth_pair(request, sluice_bin, module_sluice_factory):
    yield from _pair(request, sluice_bin, module_sluice_factory, ["-auth_enabled=true"])


@pytest.fixture(scope="module")
def open_pair(request, sluice_bin, module_sluice_factory):
    yield from _pair(request, sluice_bin, module_sluice_factory, ["-auth_enabled=false"])


class TeeDoor(Sluice):
    """helpers.server.Sluice's HTTP helpers aimed at a pair's tee (no process of its own)."""

    def __init__(self, pair):
        super().__init__("(pair)", pair.cluster.dir / "tee-client", name="tee")
        self.tee_url = pair.tee.url

    @property
    def base_url(self):
        return self.tee_url

    def start(self, *a, **kw):
        raise NotImplementedError("the pair owns the processes")


class E2eTee(E2eSluice):
    """What the e2e tests take as `e2e_sluice`/`e2e_sluice_mt`: E2eSluice's HTTP helpers aimed at
    a pair's tee. The servers are shared by the module, so metric_value reports a counter's
    increase since this object was made (what a fresh server reports), and only when the cluster
    and the single binary agree (else both values, which no test expects)."""

    def __init__(self, pair, auth_enabled):
        # E2eSluice.__init__ would make a data directory and a command line for a process of its
        # own; here there is none.
        self.pair, self.auth_enabled, self.proc = pair, auth_enabled, None
        self.url = pair.tee.url
        self._servers = (pair.cluster.front.base_url, pair.single.base_url)
        self._baseline = [self._metrics(u) for u in self._servers]

    @staticmethod
    def _metrics(url):
        r = requests.get(url + "/metrics", timeout=5)
        r.raise_for_status()
        return Metrics(r.text)

    def start(self, timeout=20):
        return self

    def stop(self):
        pass

    def metric_value(self, name, labels):
        now = [self._metrics(u) for u in self._servers]
        cluster, single = (m.value(name, 0.0, **labels) - b.value(name, 0.0, **labels)
                           for m, b in zip(now, self._baseline))
        return cluster if cluster == single else (cluster, single)


# Fixture names the reused tests ask for.

@pytest.fixture(scope="module")
def srv(auth_pair):
    return TeeDoor(auth_pair)


@pytest.fixture
def e2e_sluice(open_pair):
    return E2eTee(open_pair, auth_enabled=False)


@pytest.fixture
def e2e_sluice_mt(auth_pair):
    return E2eTee(auth_pair, auth_enabled=True)


@pytest.fixture(scope="session")
def e2e_node_modules():
    return e2e_install_node_modules()


@pytest.fixture
def e2e_proxy_factory():
    proxies = []

    def make(upstream):
        p = E2eRecordingProxy(upstream)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


# --- the tee notices a difference -----------------------------------------------------------------

def test_tee_reports_a_difference(auth_pair):
    """A line pushed to the single binary alone (not through the tee) makes the same query
    answer differently: the comparison is live."""
    t = time.time_ns()
    r = auth_pair.single.push_json([{"stream": {"app": "tee-check"}, "values": [[t, "only here"]]}],
                                   tenant="tee-check")
    assert r.status_code == 204, r.text
    door = TeeDoor(auth_pair)
    assert door.query_lines('{app="tee-check"}', t - S, t + S, tenant="tee-check") == []
    diffs = auth_pair.tee.take_differences()
    assert len(diffs) == 1 and "only here" in diffs[0]["single"][2].decode(), diffs


# --- reused: the npm query SDK (first of the auth-off tests: it asserts every label of a time
# range, which later tests' lines could otherwise fall into) ---------------------------------------

test_myunisoft_loki_sdk_reads = differential(e2e_query.test_myunisoft_loki_sdk_reads)

# --- reused: tests/integration/test_push_query.py -------------------------------------------------

filters_t0 = push_query.filters_t0
matchers_t0 = push_query.matchers_t0
timefmt_t0 = push_query.timefmt_t0
for _name in dir(push_query):
    if _name.startswith("test_"):
        globals()[_name] = differential(getattr(push_query, _name))

# --- reused: tests/e2e/test_clients.py (winston-loki, pino-loki) ----------------------------------

test_winston_loki_protobuf_snappy_multi_tenant = differential(
    e2e_clients.test_winston_loki_protobuf_snappy_multi_tenant)
test_winston_loki_json_structured_metadata = differential(
    e2e_clients.test_winston_loki_json_structured_metadata)
test_pino_loki_json_multi_tenant = differential(e2e_clients.test_pino_loki_json_multi_tenant)
test_winston_and_pino_share_a_tenant = differential(
    e2e_clients.test_winston_and_pino_share_a_tenant)
test_lines_sharing_a_timestamp_keep_push_order = differential(
    e2e_clients.test_lines_sharing_a_timestamp_keep_push_order)


# --- written here: queries over what the real clients pushed --------------------------------------

def _push_with_clients(url, run, tenant=None, n=240):
    """winston-loki (protobuf+snappy) and pino-loki (JSON, structured metadata) push `n` lines
    each at once through `url`; returns the time before the first push."""
    t0 = time.time_ns()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        w = pool.submit(e2e_run_node, "push_winston.js", {
            "url": url, "tenant": tenant, "count": n, "prefix": "w", "json": False,
            "labels": {"app": "battery", "client": "winston", "run": run}, "interval": 0.2,
            "meta": False, "groups": 3})
        p = pool.submit(e2e_run_node, "push_pino.js", {
            "url": url, "tenant": tenant, "count": n, "prefix": "p",
            "labels": {"app": "battery", "client": "pino", "run": run}, "interval": 0.2,
            "meta": True, "groups": 3})
        assert w.result()[0]["errors"] == []
        e2e_clients.assert_no_pino_loki_errors(p.result()[1])
    return t0


def _battery(run):
    sel = f'{{app="battery", run="{run}"}}'
    pino = f'{{client="pino", run="{run}"}}'
    logs = [
        sel,
        f'{sel} |= "1"',
        f'{sel} |~ "(w|p) [0-9]*7"',
        f'{pino} | json | meta_seq > 100 | line_format "{{{{.msg}}}}"',
        f'{pino} | json lvl="level", msg="msg" | lvl = 30',
        f'{{client="winston", run="{run}"}} | regexp "w (?P<n>\\\\d+)" | n =~ "1.*"',
        f'{sel} | seq != "" ',
        f'{sel} | drop level | label_format who=client',
    ]
    metrics = [
        f'sum by (client) (count_over_time({sel}[10s]))',
        f'sum by (client, level) (rate({sel}[30s]))',
        f'sum(bytes_over_time({sel}[1m]))',
        f'topk(1, sum by (client) (count_over_time({sel} |= "2" [1m])))',
        f'max by (client) (max_over_time({pino} | json | unwrap meta_seq [1m]))',
        f'quantile_over_time(0.9, {pino} | json | unwrap meta_seq [1m]) by (client)',
        f'count(count_over_time({sel}[1m]))',
        f'sum by (client) (count_over_time({sel}[1m]))'
        f' / ignoring(client) group_left sum(count_over_time({sel}[1m]))',
    ]
    return sel, logs, metrics


def _query_battery(door, run, t0, tenant):
    """Asks `door` (a tee) the battery; the tee compares each answer. Checks that the cluster's
    answers succeed, and are not empty where the data guarantees a result. Returns the range
    asked."""
    sel, logs, metrics = _battery(run)
    start, end = t0 - 60 * S, time.time_ns() + 60 * S
    for q in logs:
        for direction, limit in (("forward", 1000), ("backward", 1000), ("forward", 7),
                                 ("backward", 13)):
            r = door.query_range(q, start, end, limit, direction, tenant=tenant)
            assert r.status_code == 200, (q, r.text)
        r = door.query_range(q, start, end, 500, "backward", tenant=tenant, headers=CATEGORIZE)
        assert r.status_code == 200, (q, r.text)
        assert r.json()["data"]["result"], f"{q} returned nothing"
    for q in metrics:
        for step in ("1s", "5s", "60s"):
            r = door.query_range(q, start, end, step=step, tenant=tenant)
            assert r.status_code == 200, (q, r.text)
            # The lines span about a second: a coarse step may land no window on them.
            assert r.json()["data"]["result"] or step != "1s", f"{q} step {step} returned nothing"
        r = door.get("/loki/api/v1/query", tenant=tenant,
                     params={"query": q, "time": str(time.time_ns() // S * S)})
        assert r.status_code == 200, (q, r.text)
    params = {"start": str(start), "end": str(end)}
    for path, extra in (("/loki/api/v1/labels", {}), ("/loki/api/v1/labels", {"query": sel}),
                        ("/loki/api/v1/label/client/values", {}),
                        ("/loki/api/v1/label/level/values", {"query": sel}),
                        ("/loki/api/v1/series", {"match[]": sel}),
                        ("/loki/api/v1/index/stats", {"query": sel}),
                        ("/loki/api/v1/index/volume", {"query": sel}),
                        ("/loki/api/v1/index/volume_range", {"query": sel, "step": "10s"})):
        r = door.get(path, params={**params, **extra}, tenant=tenant)
        assert r.status_code == 200, (path, r.text)
    return start, end


@differential
def test_client_data_query_battery(auth_pair, e2e_node_modules):
    """winston-loki and pino-loki push into one tenant at once; log queries (filters, parsers,
    label formatting, limits, both directions, categorize-labels), metric queries (range and
    instant, unwrap, quantiles, topk, binary ops) and the label/series/stats/volume endpoints
    answer alike from the cluster and the single binary."""
    door, run, tenant = TeeDoor(auth_pair), uuid.uuid4().hex[:12], "battery"
    t0 = _push_with_clients(auth_pair.tee.url, run, tenant)
    start, end = _query_battery(door, run, t0, tenant)
    # And the data is all there, once, in order, through the cluster.
    by_client = {s["stream"]["client"]: s for s in
                 door.query_streams(f'{{app="battery", run="{run}"}}', start, end, limit=2000,
                                    tenant=tenant)}
    assert sorted(by_client) == ["pino", "winston"]
    assert_exact_sequence([v[1] for v in by_client["winston"]["values"]],
                          e2e_clients.expected_lines("w", 240))


@differential
def test_query_sdk_reads_client_data(open_pair, e2e_node_modules):
    """The npm query SDK reads what winston-loki and pino-loki pushed (auth off): every call it
    makes gets the same answer from the cluster as from the single binary."""
    run = uuid.uuid4().hex[:12]
    t0 = _push_with_clients(open_pair.tee.url, run, n=120)
    end = time.time_ns() + 60 * S
    out, stderr = e2e_run_node("query_client.js", {
        "url": open_pair.tee.url,
        "start": str(t0 - 60 * S), "end": str(end),
        "filterQuery": f'{{app="battery", run="{run}"}} |= "1"',
        "metricQuery": f'sum by (client) (count_over_time({{app="battery", run="{run}"}}[1m]))',
        "metricStart": str(t0 // S - 30), "metricEnd": str(end // S), "step": "5",
        "selector": f'{{app="battery", run="{run}"}}',
        "labelName": "client",
        "labelQuery": f'{{client="pino", run="{run}"}}',
        "badQuery": '{app="battery"} |= ',
    })
    for call in ("queryRange", "queryRangeStream", "queryRangeLimited", "queryRangeMatrix",
                 "labels", "labelValues", "labelValuesQuery", "series"):
        assert out[call]["ok"], (call, out[call], stderr)
    logs = out["queryRange"]["value"]["logs"]
    assert sorted(l for l in logs if l.startswith("w ")) == sorted(
        f"w {i}" for i in range(120) if "1" in str(i))
    assert out["labelValuesQuery"]["value"] == ["pino"]
    assert sorted(m["labels"]["client"] for m in out["queryRangeMatrix"]["value"]["metrics"]) == [
        "pino", "winston"]
    assert out["badQuery"]["statusCode"] == 400, out["badQuery"]
    # streams_of is the e2e suite's envelope check; the cluster's answer must pass it too.
    streams_of(requests.get(open_pair.tee.url + "/loki/api/v1/query_range", timeout=30, params={
        "query": f'{{run="{run}"}}', "start": str(t0 - 60 * S), "end": str(end)}))


@differential
def test_queries_split_across_hours(auth_pair):
    """Lines spread over the last two and a half hours: the front door splits these queries by
    the 1 h split interval across two queriers and merges the parts (limits that end mid-split,
    both directions, metric steps that straddle split edges, instant queries over the whole
    range). Kept inside query_ingesters_within (3 h): see the test below for older lines."""
    door, tenant = TeeDoor(auth_pair), "hours"
    now = time.time_ns() // S * S
    t0 = now - 150 * 60 * S
    streams = []
    for k, pod in enumerate(("a", "b", "c")):
        values = [[t0 + i * 300 * S + k * S, f"level={('error', 'info')[i % 2]} pod={pod} i={i}"]
                  for i in range(30)]
        streams.append({"stream": {"app": "hours", "pod": pod}, "values": values})
    assert door.push_json(streams, tenant=tenant).status_code == 204
    start, end = t0 - 60 * S, now
    for q in ('{app="hours"}', '{app="hours"} |= "error"',
              '{app="hours", pod!="b"} | logfmt | i > 20'):
        for direction in ("forward", "backward"):
            for limit in (5, 40, 1000):
                got = door.query_entries(q, start, end, limit=limit, direction=direction,
                                         tenant=tenant)
                assert got, (q, direction, limit)
    assert len(door.query_entries('{app="hours"}', start, end, tenant=tenant)) == 90
    for q in ('sum by (pod) (count_over_time({app="hours"}[1h]))',
              'sum by (level) (rate({app="hours"} | logfmt [30m]))',
              'avg_over_time({app="hours"} | logfmt | unwrap i [2h])'):
        for step in ("300", "1800", "3600"):
            r = door.query_range(q, start, end, step=step, tenant=tenant)
            assert r.status_code == 200 and r.json()["data"]["result"], (q, step, r.text)
    r = door.get("/loki/api/v1/query", tenant=tenant, params={
        "query": 'sum by (pod) (count_over_time({app="hours"}[3h]))', "time": str(now)})
    assert r.status_code == 200, r.text
    assert sorted(float(s["value"][1]) for s in r.json()["data"]["result"]) == [30.0] * 3
    for path, extra in (("/loki/api/v1/labels", {}), ("/loki/api/v1/label/pod/values", {}),
                        ("/loki/api/v1/series", {"match[]": '{app="hours"}'})):
        r = door.get(path, params={"start": str(start), "end": str(end), **extra}, tenant=tenant)
        assert r.status_code == 200, (path, r.text)


def test_backfilled_lines_older_than_query_ingesters_within(auth_pair):
    """Late lines (a shipper catching up on a 5 h old file) pushed now: the single binary returns
    them at once; the cluster, as Loki's queriers do, asks no ingester for the splits that end
    before now - query_ingesters_within (3 h), so until they are flushed it returns only the
    recent one. The one documented difference (README, querier.query_ingesters_within; 0 makes
    the cluster ask the ingesters for every range)."""
    door, tenant = TeeDoor(auth_pair), "backfill"
    now = time.time_ns() // S * S
    values = [[now - h * 3600 * S, f"{h}h ago"] for h in (5, 4, 1)]
    assert door.push_json([{"stream": {"app": "backfill"}, "values": values}],
                          tenant=tenant).status_code == 204
    auth_pair.tee.take_differences()  # compared directly below
    start, end = now - 6 * 3600 * S, now
    single = auth_pair.single.query_lines('{app="backfill"}', start, end, tenant=tenant)
    cluster = auth_pair.cluster.front.query_lines('{app="backfill"}', start, end, tenant=tenant)
    assert single == ["5h ago", "4h ago", "1h ago"]
    assert cluster == ["1h ago"]
