"""The compactor in a cluster: with RF=3 every entry is flushed by three ingesters into three
different chunks; after the compactor's run storage holds each entry once (bytes per GB within
1.2x of an RF=1 cluster's), and queries answer exactly as before."""

import random
import shutil
import time

from helpers.promtext import Metrics
from helpers.s3 import ACCESS_KEY as S3_KEY
from helpers.s3 import SECRET_KEY as S3_SECRET
from helpers.s3 import S3rver
from helpers.server import wait_until

S = 10**9
FLAGS = ["-compactor.compaction-interval=2s", "-compactor.retention-delete-delay=0s",
         "-ingester.chunk-target-size=64KB", "-limits_config.max_entries_limit_per_query=100000"]


def corpus(t0, n=12000):
    rnd = random.Random(12)
    streams = []
    for s in range(6):
        values = []
        for i in range(n // 6):
            values.append([str(t0 + i * 50_000_000 + s),
                           f"level={rnd.choice(['info', 'warn', 'error'])} stream={s} i={i} "
                           f"user={rnd.randrange(10**6)} took={rnd.randrange(1000)}ms"])
        streams.append({"stream": {"job": "compact", "pod": f"p{s}"}, "values": values})
    return streams


def chunk_bytes(cluster):
    root = cluster.dir / "chunks" / "chunks"
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def run(cluster_factory, ingesters, rf, t0):
    c = cluster_factory(ingesters=ingesters, rf=rf, queriers=1, backends=1, flags=FLAGS)
    data = corpus(t0)
    for i in range(0, len(data[0]["values"]), 500):
        batch = [{"stream": s["stream"], "values": s["values"][i:i + 500]} for s in data]
        r = c.front.push_json(batch)
        assert r.status_code == 204, r.text
    want = sorted(v[1] for s in data for v in s["values"])
    end = t0 + 700 * S

    def lines():
        return sorted(c.front.query_lines('{job="compact"}', t0 - S, end, limit=100000))

    before = lines()
    assert before == want

    # Two runs after the flush: the first merges, the second finds nothing more to do.
    wait_flushed(c)
    base = completed_runs(c)
    wait_until(lambda: completed_runs(c) >= base + 2, 60, interval=0.5, what="two compactor runs")
    assert lines() == want
    stored = chunk_bytes(c)
    c.stop()
    return stored


def wait_flushed(c):
    """Flushes every ingester and waits until none holds unflushed data."""
    for name in c.names():
        if name.startswith("ingester-"):
            assert c.post(name, "/flush").status_code == 204
    wait_until(lambda: all(
        Metrics(c.get(n, "/metrics").text).value("sluice_ingester_unflushed_bytes", -1) == 0
        for n in c.names() if n.startswith("ingester-")), 60, what="every ingester flushed")


def completed_runs(c):
    return Metrics(c.get("backend-1", "/metrics").text).value(
        "loki_compactor_compact_tables_operation_total", 0.0, status="success")


def test_rf3_after_compaction_stores_each_entry_once(cluster_factory):
    t0 = (time.time_ns() // (60 * S) - 20) * 60 * S
    rf1 = run(cluster_factory, ingesters=1, rf=1, t0=t0)
    rf3 = run(cluster_factory, ingesters=3, rf=3, t0=t0)
    assert rf3 <= 1.2 * rf1, f"RF=3 stores {rf3} bytes after compaction, RF=1 {rf1}"


def test_cluster_on_s3_answers_from_the_bucket_after_losing_local_disk(cluster_factory, tmp_path):
    s3 = S3rver(tmp_path / "s3").start()
    try:
        url = f"http://{S3_KEY}:{S3_SECRET}@{s3.endpoint}/{s3.bucket}"
        c = cluster_factory(ingesters=3, rf=3, queriers=1, backends=1, s3=url, flags=FLAGS)
        t0 = (time.time_ns() // (60 * S) - 20) * 60 * S
        data = corpus(t0, n=3000)
        assert c.front.push_json(data).status_code == 204
        wait_flushed(c)
        assert len(s3.keys("chunks/fake/")) >= 6 and s3.keys("index/")
        want = sorted(v[1] for s in data for v in s["values"])
        query = '{job="compact"}'
        assert sorted(c.front.query_lines(query, t0 - S, t0 + 700 * S, limit=100000)) == want

        # Every local directory but the ingesters' WALs goes: etcd's ring, tokens, the unused
        # filesystem store. The restarted cluster can only answer from the bucket (and the WALs,
        # empty after the flushing stop).
        c.stop()
        for child in c.dir.iterdir():
            if child.is_dir() and child.name not in ("logs", "cmd", "pids"):
                for sub in list(child.iterdir()) if child.name.startswith("ingester-") else [child]:
                    if sub.name != "wal":
                        shutil.rmtree(sub) if sub.is_dir() else sub.unlink()
        c.start()
        assert sorted(c.front.query_lines(query, t0 - S, t0 + 700 * S, limit=100000)) == want
    finally:
        s3.stop()
