"""`Prometheus`: a real Prometheus server (Debian's /usr/bin/prometheus) scraping sluice, and
its HTTP API; `Alertmanager`: a real Alertmanager (Debian's prometheus-alertmanager) for it.

Listens on 127.0.0.1 on a port found free, keeps its TSDB in its own work directory, and is
only ever signalled by its own PID. Every wait is bounded in time.

    prom = Prometheus(workdir, jobs=[("sluice", ["127.0.0.1:3100"], {"cluster": "test"})])
    prom.start()                          # waits for /-/ready
    prom.wait_targets_up(timeout=30)      # every target scraped once, all up
    prom.query('sum(rate(loki_request_duration_seconds_count[1m]))')   # data.result
    prom.stop()
"""

import datetime
import shutil
import signal
import subprocess
from pathlib import Path

import requests
import yaml

from helpers.server import free_port, wait_until

BINARY = shutil.which("prometheus") or "/usr/bin/prometheus"
ALERTMANAGER_BINARY = (shutil.which("prometheus-alertmanager")
                       or "/usr/bin/prometheus-alertmanager")


class PrometheusError(RuntimeError):
    pass


class _Daemon:
    """A Prometheus-project server (prometheus, prometheus-alertmanager) run from a config file in
    its own work directory, on a free 127.0.0.1 port, waited for on /-/ready and stopped by its
    PID. Subclasses give the binary, the config, and the flags besides the common ones."""

    name = ""

    def __init__(self, workdir, binary):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.port = None
        self.proc = None
        self.log_path = self.workdir / f"{self.name}.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def config(self):
        raise NotImplementedError

    def flags(self):
        """Flags besides --config.file, --web.listen-address and --log.level."""
        raise NotImplementedError

    def start(self, timeout=30):
        if not Path(self.binary).exists():
            raise PrometheusError(f"{self.binary} not found (scripts/deps.sh --test installs it)")
        config = self.workdir / f"{self.name}.yml"
        config.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, f"--config.file={config}", *self.flags(),
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise PrometheusError(f"{self.name} exited with {self.proc.returncode}:\n"
                                      f"{self.log_tail()}")
            return requests.get(self.url + "/-/ready", timeout=1).status_code == 200

        wait_until(ready, timeout, what=f"{self.name} /-/ready")
        return self

    def stop(self, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, chars=4000):
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""


class Alertmanager(_Daemon):
    """prometheus-alertmanager with one receiver that delivers nowhere: tests read what it
    received from its API (/api/v2/alerts). Gossip is off (--cluster.listen-address=)."""

    name = "alertmanager"

    def __init__(self, workdir):
        super().__init__(workdir, ALERTMANAGER_BINARY)

    def config(self):
        return {
            "route": {"receiver": "tests", "group_by": ["..."], "group_wait": "0s",
                      "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "tests"}],
        }

    def flags(self):
        return [f"--storage.path={self.workdir / 'am-data'}", "--cluster.listen-address="]

    def alerts(self, **label_filters):
        """The active alerts it holds whose labels equal `label_filters`."""
        r = requests.get(self.url + "/api/v2/alerts",
                         params={"filter": [f'{k}="{v}"' for k, v in label_filters.items()],
                                 "active": "true"}, timeout=5)
        r.raise_for_status()
        return r.json()


class Prometheus(_Daemon):
    name = "prometheus"

    def __init__(self, workdir, jobs, scrape_interval="1s", rule_files=()):
        """`jobs`: [(job name, ["host:port", ...], {extra target label: value})]."""
        super().__init__(workdir, BINARY)
        self.jobs = jobs
        self.scrape_interval = scrape_interval
        self.rule_files = [str(f) for f in rule_files]

    def config(self):
        return {
            "global": {"scrape_interval": self.scrape_interval,
                       "scrape_timeout": self.scrape_interval,
                       "evaluation_interval": self.scrape_interval},
            "rule_files": self.rule_files,
            "scrape_configs": [
                {"job_name": job, "metrics_path": "/metrics",
                 "static_configs": [{"targets": list(targets), "labels": dict(labels)}]}
                for job, targets, labels in self.jobs],
        }

    def flags(self):
        return [f"--storage.tsdb.path={self.workdir / 'data'}"]

    # --- HTTP API -------------------------------------------------------------------------------

    def api(self, path, **params):
        """GET /api/v1/<path>; returns `data`, or raises PrometheusError with Prometheus' error
        (a query that does not parse is one)."""
        r = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
        if r.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {r.status_code} "
                                  f"{body.get('errorType', '')}: {body.get('error', r.text)}")
        return body["data"]

    def query(self, expr, at=None):
        """An instant query (at `at`, Unix seconds, default now); returns data.result."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self.api("query", **params)["result"]

    def label_values(self, label, match, start, end):
        """Values of `label` on the series selected by `match` between start and end (what
        Grafana's label_values(match, label) asks)."""
        return self.api(f"label/{label}/values", **{"match[]": match, "start": f"{start:.3f}",
                                                     "end": f"{end:.3f}"})

    def targets(self):
        return self.api("targets")["activeTargets"]

    def wait_targets_up(self, timeout=30):
        """Waits until every configured target was scraped and is up; returns the targets."""
        want = sum(len(targets) for _, targets, _ in self.jobs)

        def all_up():
            active = self.targets()
            if len(active) == want and all(t["health"] == "up" for t in active):
                return active
            return None

        return wait_until(all_up, timeout, interval=0.2, what=f"{want} prometheus targets up")

    def wait_scraped_after(self, t, timeout=15):
        """Waits until every target's last scrape began after Unix time `t` (so what the targets
        had at `t` is in the TSDB)."""
        def scraped():
            for target in self.targets():
                last = target.get("lastScrape", "")
                if not last or _rfc3339_seconds(last) <= t or target["health"] != "up":
                    return False
            return True

        wait_until(scraped, timeout, interval=0.2, what="a scrape of every target")


def _rfc3339_seconds(text):
    """Unix seconds of Prometheus' RFC 3339 timestamps (nanosecond fractions, Z or an offset)."""
    main, _, rest = text.partition(".")
    frac, zone = "0", "Z"
    if rest:
        digits = "".join(c for c in rest if c.isdigit())
        frac = digits or "0"
        zone = rest[len(digits):] or "Z"
    elif text.endswith("Z"):
        main = text[:-1]
    zone = "+00:00" if zone == "Z" else zone
    base = datetime.datetime.fromisoformat(main + zone)
    return base.timestamp() + float("0." + frac)
