"""What the incident drills run on: a real Alertmanager (Debian's prometheus-alertmanager), a
real Prometheus (Debian's) loading deploy/monitoring/rules/ and scraping every sluice process of a
cluster, load generators, and the drill loop itself. tests/drills/README.md says how it fits.

Time is compressed: Prometheus scrapes and evaluates every second, and every rule's `for` is
divided by FOR_DIVISOR when the rules are loaded (expressions and their range windows are left
as written). An alert with `for: 15m` fires after 30s of its condition.

Every process here is started by us on 127.0.0.1 and stopped by its PID.
"""

import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

import requests
import yaml

from helpers import rules
from helpers.prometheus import Prometheus
from helpers.server import wait_until

FOR_DIVISOR = 30
SCRAPE_INTERVAL = "1s"
ALERT_DEADLINE = 120  # seconds from the injection to the alert in Alertmanager

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800,
                 "y": 31536000}


def parse_duration(text):
    """Prometheus' duration syntax ("1h30m", "15m") -> seconds."""
    text = str(text)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def write_drill_rules(dest):
    """Copies the rule files into `dest` with every `for` divided by FOR_DIVISOR (whole
    seconds, at least 1s). Returns the paths written."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for source in (rules.RECORDING_FILE, rules.ALERTS_FILE):
        doc = rules.load(source)
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    seconds = max(1, round(parse_duration(rule["for"]) / FOR_DIVISOR))
                    rule["for"] = f"{seconds}s"
        path = dest / source.name
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        out.append(path)
    return out


def exposed_families(urls):
    """Names of the metric families (# TYPE lines) the /metrics of `urls` expose together."""
    names = set()
    for url in urls:
        try:
            text = requests.get(url + "/metrics", timeout=5).text
        except requests.RequestException:
            continue
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                names.add(line.split()[2])
    return names


class DrillPrometheus(Prometheus):
    """helpers.prometheus.Prometheus for one drill: a fresh TSDB (so counters that moved in an
    earlier drill on the same cluster do not show as rates here), the drill rules, every sluice
    process of `cluster` as a target, and Alertmanager. Its alerts carry the external label
    drill=<name>."""

    def __init__(self, workdir, drill, cluster, alertmanager, rule_paths):
        jobs = [(job, addrs, {}) for job, addrs in sorted(scrape_targets(cluster).items())]
        super().__init__(Path(workdir) / f"prometheus-{drill}", jobs,
                         scrape_interval=SCRAPE_INTERVAL, rule_files=rule_paths)
        self.drill = drill
        self.alertmanager = alertmanager

    def config(self):
        config = super().config()
        config["global"]["external_labels"] = {"drill": self.drill}
        config["alerting"] = {"alertmanagers": [{"api_version": "v2", "static_configs": [
            {"targets": [f"127.0.0.1:{self.alertmanager.port}"]}]}]}
        return config

    def alerts(self):
        """[(alertname, state)] of every pending or firing alert."""
        return [(a["labels"]["alertname"], a["state"]) for a in self.api("alerts")["alerts"]]

    def wait_baseline(self, timeout=60):
        """Waits until every target is up, the rules have been evaluated on a few scrapes, and no
        alert is pending or firing (the cluster is healthy before the incident)."""
        expected = sum(len(targets) for _, targets, _ in self.jobs)
        began = time.monotonic()
        state = {}

        def healthy():
            targets = self.targets()
            state["down"] = [(t["labels"]["job"], t["scrapeUrl"], t.get("lastError"))
                             for t in targets if t["health"] != "up"]
            if len(targets) != expected or state["down"]:
                return False
            if time.monotonic() - began < 2:  # a few evaluations with rates to compute
                return False
            state["alerts"] = self.alerts()
            return not state["alerts"]

        def quiet():
            # Healthy at every check over 3 s: no alert flapping in and out of pending.
            for _ in range(7):
                if not healthy():
                    return False
                time.sleep(0.5)
            return True

        try:
            wait_until(quiet, timeout=timeout, interval=0.5, what="a healthy baseline")
        except TimeoutError:
            raise AssertionError(f"drill {self.drill}: the cluster is not healthy before the "
                                 f"incident: down targets {state.get('down')}, alerts "
                                 f"{state.get('alerts')}") from None


def component_job(name):
    """ingester-2 -> sluice-ingester, frontdoor -> sluice-frontdoor: the job every process of
    one kind is scraped under (the rules need only that it contains "sluice")."""
    kind = re.sub(r"-\d+$", "", name)
    return f"sluice-{kind}"


def scrape_targets(cluster):
    """{job: [host:port]} of every sluice process of `cluster` (not etcd, not the broker)."""
    out = {}
    for name in cluster.names():
        if name in ("etcd", "kafka"):
            continue
        addr = cluster.endpoint(name).removeprefix("http://")
        out.setdefault(component_job(name), []).append(addr)
    return out


class Pusher:
    """Pushes to `front` for `tenant` from one thread until stopped (bounded by `max_seconds`):
    every `interval` seconds one request of `lines` lines of `line_bytes` bytes over `streams`
    streams {drill=<tag>, stream=<i>}. Counts the answers by status."""

    def __init__(self, front, tenant, tag, streams=3, lines=10, line_bytes=100, interval=0.1,
                 max_seconds=300):
        self.front, self.tenant, self.tag = front, tenant, tag
        self.streams, self.lines, self.line_bytes = streams, lines, line_bytes
        self.interval, self.max_seconds = interval, max_seconds
        self.statuses = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._seq = 0

    def _body(self):
        now = time.time_ns()
        per_stream = max(1, self.lines // self.streams)
        out = []
        for s in range(self.streams):
            values = []
            for _ in range(per_stream):
                self._seq += 1
                head = f"drill={self.tag} seq={self._seq} "
                line = head + "x" * max(0, self.line_bytes - len(head))
                values.append([str(now + self._seq), line])
            out.append({"stream": {"drill": self.tag, "stream": str(s)}, "values": values})
        return out

    def _loop(self):
        t0 = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - t0 < self.max_seconds:
            try:
                r = self.front.push_json(self._body(), tenant=self.tenant, timeout=30)
                status = r.status_code
            except requests.RequestException as e:
                status = type(e).__name__
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self._stop.wait(self.interval)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=40)


class Drills:
    """Runs drills against one cluster, sharing one Alertmanager. Each drill gets a fresh
    Prometheus."""

    def __init__(self, cluster, alertmanager, workdir):
        self.cluster, self.am = cluster, alertmanager
        self.dir = Path(tempfile.mkdtemp(prefix="drill-", dir=workdir))
        self.rule_paths = write_drill_rules(self.dir / "rules")
        # The shortest (scaled) `for` of each alert: none can fire sooner after the injection.
        self.for_seconds = {}
        for path in self.rule_paths:
            for group in yaml.safe_load(path.read_text())["groups"]:
                for rule in group["rules"]:
                    if "alert" in rule:
                        held = parse_duration(rule.get("for", "0s"))
                        name = rule["alert"]
                        self.for_seconds[name] = min(held, self.for_seconds.get(name, held))

    def run(self, name, expect, allowed, inject, recover, timeout=ALERT_DEADLINE, settle=5):
        """Starts a Prometheus, waits for a healthy baseline, calls inject(), then polls
        Alertmanager until every alert of `expect` has arrived (failing after `timeout` s), and
        `settle` s more. Fails as soon as an alert outside expect | allowed arrives. recover()
        runs in any case once inject() was called. Returns {alertname: seconds to arrive}."""
        expect, allowed = set(expect), set(allowed)
        prom = DrillPrometheus(self.dir, name, self.cluster, self.am, self.rule_paths).start()
        try:
            prom.wait_baseline()
            t0 = time.monotonic()
            try:
                inject()
                seen = self._watch(prom, name, expect, allowed, t0, timeout, settle)
            finally:
                recover()
        finally:
            prom.stop()
        print(f"drill {name}: " + ", ".join(f"{a} after {t:.0f}s" for a, t in sorted(seen.items())))
        return seen

    def _watch(self, prom, name, expect, allowed, t0, timeout, settle):
        seen = {}
        done_at = None
        while True:
            now = time.monotonic()
            for alert in self.am.alerts(drill=name):
                labels, annotations = alert["labels"], alert["annotations"]
                alertname = labels["alertname"]
                if alertname not in seen:
                    seen[alertname] = now - t0
                    # Sooner would mean it was on its way before the incident.
                    assert seen[alertname] >= self.for_seconds[alertname], (
                        f"drill {name}: {alertname} fired {seen[alertname]:.0f}s after the "
                        f"injection, under its `for` of {self.for_seconds[alertname]}s")
                    assert labels.get("severity") in ("critical", "warning"), alert
                    assert annotations.get("runbook_url", "").endswith(
                        "runbook.md#" + alertname.lower()), alert
                unrelated = set(seen) - expect - allowed
                assert not unrelated, (f"drill {name}: unrelated alerts fired: {sorted(unrelated)} "
                                       f"(all: {seen}); {alert}")
            if done_at is None and expect <= set(seen):
                done_at = now
            if done_at is not None and now - done_at >= settle:
                return seen
            if done_at is None and now - t0 > timeout:
                raise AssertionError(
                    f"drill {name}: {sorted(expect - set(seen))} did not reach Alertmanager within "
                    f"{timeout}s; arrived: {seen}; Prometheus pending/firing: "
                    f"{prom.alerts()}")
            time.sleep(1)


def restart_with_flags(cluster, name, flags):
    """Restarts cluster process `name` with `flags` added to its command line (cmd/<name>, which
    scripts/cluster.sh restart reads), or with the flags it had at the start when `flags` is
    empty. Waits until it is ready."""
    cmd = cluster.dir / "cmd" / name
    original = cluster.dir / "cmd" / f"{name}.drill-original"
    if not original.exists():
        shutil.copy(cmd, original)
    argv = original.read_text().splitlines() + list(flags)
    cmd.write_text("\n".join(argv) + "\n")
    cluster.restart(name)


def wait_all_active(cluster, n, timeout=60):
    cluster.wait_ring(lambda r: sum(s["state"] == "ACTIVE" for s in r.values()) == n,
                      timeout=timeout, what=f"{n} ACTIVE ingesters")
