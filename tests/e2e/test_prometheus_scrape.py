"""A real Prometheus (Debian's /usr/bin/prometheus) scrapes sluice's /metrics.

Proves the exposition format is one Prometheus accepts (a bad line fails the whole scrape and
the target goes "down") and that loki_distributor_lines_received_total counts what was pushed.
"""

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from e2e_support import e2e_free_port, e2e_stop_process, e2e_wait_until

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@pytest.fixture
def e2e_prometheus(e2e_sluice_mt):
    if not Path(PROMETHEUS).exists():
        pytest.skip("prometheus not installed (scripts/deps.sh --test installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="sluice-e2e-prom-"))
    port = e2e_free_port()
    config = workdir / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: sluice\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{e2e_sluice_mt.port}']\n")
    log = open(workdir / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def ready():
        if proc.poll() is not None:
            pytest.fail(f"prometheus exited with {proc.returncode}:\n"
                        f"{(workdir / 'prometheus.log').read_text(errors='replace')[-4000:]}")
        return requests.get(url + "/-/ready", timeout=1).status_code == 200

    try:
        e2e_wait_until(ready, timeout=30, what="prometheus /-/ready")
        yield url
    finally:
        e2e_stop_process(proc)
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def prom_query(url, query):
    r = requests.get(url + "/api/v1/query", params={"query": query}, timeout=5)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def target_health(url):
    r = requests.get(url + "/api/v1/targets", timeout=5)
    targets = r.json()["data"]["activeTargets"]
    return [(t["health"], t.get("lastError", "")) for t in targets]


def test_prometheus_scrapes_lines_received(e2e_sluice_mt, e2e_prometheus):
    sluice, prom = e2e_sluice_mt, e2e_prometheus
    k, tenant = 137, "tenant-prom"
    now = time.time_ns()
    # Two pushes, two streams, so the counter sums across requests and streams.
    sluice.push_json([{"stream": {"app": "prom-e2e", "part": "a"},
                       "values": [[str(now + i), f"line {i}"] for i in range(100)]}], tenant=tenant)
    sluice.push_json([{"stream": {"app": "prom-e2e", "part": "b"},
                       "values": [[str(now + i), f"line {i}"] for i in range(100, k)]}],
                     tenant=tenant)
    sluice.push_json([{"stream": {"app": "prom-e2e"}, "values": [[str(now), "other"]]}],
                     tenant="tenant-prom-other")

    def scraped():
        health = target_health(prom)
        if health != [("up", "")]:
            return False
        result = prom_query(prom, "loki_distributor_lines_received_total")
        values = {r["metric"].get("tenant"): float(r["value"][1]) for r in result}
        return values if values.get(tenant) == k else False

    values = e2e_wait_until(scraped, timeout=30, interval=0.5,
                            what=f"prometheus to scrape lines_received_total == {k}")
    assert values["tenant-prom-other"] == 1

    # The series carries Prometheus' target labels on top of sluice's own.
    result = prom_query(prom, f'loki_distributor_lines_received_total{{tenant="{tenant}"}}')
    assert len(result) == 1
    metric = result[0]["metric"]
    assert metric["job"] == "sluice"
    assert metric["instance"] == f"127.0.0.1:{sluice.port}"

    # Prometheus' own bookkeeping for the scrape: it parsed samples and the scrape succeeded.
    assert float(prom_query(prom, 'up{job="sluice"}')[0]["value"][1]) == 1
    assert float(prom_query(prom, 'scrape_samples_scraped{job="sluice"}')[0]["value"][1]) > 0
