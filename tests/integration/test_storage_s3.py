"""sluice on S3: a real S3-compatible server (s3rver from npm) holds chunks and index; Debian's
awscli reads them independently. What must hold: losing every local directory but the WAL loses
nothing; the objects are readable without sluice; a store outage under load is answered with 2xx
while memory lasts, then 503, and every acknowledged line is stored once the store is back."""

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import push as pf
from helpers.s3 import S3rver
from helpers.server import wait_until

S = 10**9
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def s3(tmp_path):
    server = S3rver(tmp_path / "s3").start()
    yield server
    server.stop()


def answers(srv, start, end):
    """Everything a user would look at: lines, a metric query, labels and series."""
    lines = srv.query_lines('{job=~"s3-.+"}', start, end, limit=100000)
    metric = srv.query_range('sum by (job) (count_over_time({job=~"s3-.+"}[1h]))', start, end,
                             step="1h").json()["data"]["result"]
    labels = srv.get("/loki/api/v1/labels", params={"start": start, "end": end}).json()["data"]
    series = srv.get("/loki/api/v1/series", params={"match[]": '{job=~"s3-.+"}', "start": start,
                                                     "end": end}).json()["data"]
    return sorted(lines), metric, labels, sorted(json.dumps(s, sort_keys=True) for s in series)


def test_single_binary_on_s3_answers_from_the_bucket_after_losing_local_disk(sluice_factory, s3):
    srv = sluice_factory(s3.sluice_flags() + ["-limits_config.max_entries_limit_per_query=100000"],
                         name="s3")
    t0 = pf.now_ns() - 600 * S
    for job in range(3):
        streams = [{"stream": {"job": f"s3-{job}", "pod": f"p{p}"},
                    "values": [[str(t0 + i * 10**6 + p), f"job {job} pod {p} line {i}"]
                               for i in range(500)]} for p in range(4)]
        assert srv.push_json(streams).status_code == 204
    assert srv.post("/flush").status_code == 204
    wait_until(lambda: len(s3.keys("index/")) > 0, 30, what="index objects in the bucket")
    before = answers(srv, t0 - S, pf.now_ns())
    assert len(before[0]) == 6000

    # Nothing lands on the local disk but the WAL.
    assert not srv.chunks_dir.exists() or not any(p.is_file() for p in srv.chunks_dir.rglob("*"))
    assert srv.stop() == 0
    for child in srv.data_dir.iterdir():
        if child.name != "wal":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    srv.start()
    assert answers(srv, t0 - S, pf.now_ns()) == before

    # The objects are S3 objects: awscli lists the bucket and fetches a chunk, which
    # sluice-inspect decodes.
    chunks = s3.keys("chunks/fake/")
    assert chunks, s3.keys()
    local = Path(srv.workdir) / "chunk.bin"
    s3.aws("s3", "cp", f"s3://{s3.bucket}/{chunks[0]}", str(local))
    inspect = Path(srv.binary).parent / "sluice-inspect"
    out = subprocess.run([str(inspect), "chunk", "-v", str(local)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert 'job="s3-' in out.stdout and " line " in out.stdout, out.stdout[:2000]


class Load(threading.Thread):
    """Pushes batches of unique lines until stopped (bounded: at most `max_batches`); remembers
    every line acknowledged with 204 and counts the answers by status."""

    def __init__(self, srv, stop, max_batches=100000):
        super().__init__(daemon=True)
        self.srv, self.stop_event, self.max_batches = srv, stop, max_batches
        self.acked = []
        self.codes = {}
        self.refusals = []

    def run(self):
        for b in range(self.max_batches):
            if self.stop_event.is_set():
                return
            ts = pf.now_ns()
            # Random hex: compressed blocks hold about half the raw bytes.
            lines = [f"batch {b} line {i} " + os.urandom(100).hex() for i in range(100)]
            streams = [{"stream": {"job": "outage", "shard": str(b % 8)},
                        "values": [[str(ts + i), line] for i, line in enumerate(lines)]}]
            try:
                r = self.srv.push_json(streams, timeout=30)
                code = r.status_code
            except Exception:  # noqa: BLE001 - a timeout is an answer too
                code = "error"
            self.codes[code] = self.codes.get(code, 0) + 1
            if code == 204:
                self.acked.extend(lines)
                time.sleep(0.04)  # ~250 KB/s compressed: a 60 s outage outgrows 8 MB
            else:
                if code == 503 and len(self.refusals) < 3:
                    self.refusals.append(r.text)
                time.sleep(0.2)


@pytest.mark.slow
def test_s3_outage_under_load_pushes_back_and_loses_nothing(sluice_factory, s3):
    budget_mb = 8
    srv = sluice_factory(s3.sluice_flags() + [
        "-ingester.chunk-target-size=256KB",
        "-ingester.chunk-block-size=64KB",
        "-ingester.head-memory-budget=2MB",
        f"-ingester.chunk-memory-budget={budget_mb - 2}MB",
        "-ingester.flush-op-backoff.min-period=500ms",
        "-ingester.flush-op-backoff.max-period=3s",
        "-common.storage.s3.backoff-config.max-retries=1",
        "-limits_config.ingestion_rate_mb=100",
        "-limits_config.ingestion_burst_size_mb=200",
        "-limits_config.max_entries_limit_per_query=1000000",
    ], name="outage")
    t0 = pf.now_ns()
    stop = threading.Event()
    load = Load(srv, stop)
    load.start()
    peak = 0.0
    try:
        time.sleep(5)
        s3.stop()
        outage_end = time.monotonic() + 60
        while time.monotonic() < outage_end:
            peak = max(peak, srv.metric("sluice_ingester_unflushed_bytes"))
            time.sleep(0.5)
        during = dict(load.codes)
        s3.start()
        time.sleep(10)
    finally:
        stop.set()
        load.join(timeout=60)
    assert not load.is_alive()
    # 2xx while memory lasted, then clear refusals; memory held its budget (plus one request).
    assert during.get(204, 0) > 0 and during.get(503, 0) > 0, during
    assert any("memory budget exhausted" in t and "object store" in t for t in load.refusals), \
        load.refusals
    assert peak <= (budget_mb + 1) * 2**20, peak
    assert load.codes.get(204, 0) > during.get(204, 0), load.codes  # accepted again after

    # A clean stop flushes everything; without its WAL the restarted server can only answer
    # from the bucket.
    assert srv.stop(timeout=120) == 0
    shutil.rmtree(srv.wal_dir)
    srv.start()
    got = srv.query_lines('{job="outage"}', t0 - S, pf.now_ns() + S, limit=1000000)
    missing = set(load.acked) - set(got)
    assert not missing, f"{len(missing)} of {len(load.acked)} acknowledged lines missing"
    assert len(got) == len(set(got))
