#!/usr/bin/env python3
"""The Kafka write path (issue 13) against direct replication, on one corpus, in one run.

Two clusters from scripts/cluster.sh, each started fresh on 127.0.0.1 (ports below 32768) and
stopped before the next, with run.py's settings for every sluice process (as bench/cluster.py
passes them: zstd blocks, WAL fsync=batch, no rate limits, auth on):

  direct  3 ingesters, RF=3: the distributor replicates every push to 3 ingesters
  kafka   3 ingesters, --kafka --partitions 3: the distributor produces every push to the test
          broker (sluice-kafka-testbroker: librdkafka's mock cluster, 3 brokers, in memory) and
          ingester-i consumes partition i-1 alone, so each entry is applied once

Per cluster:

  ingest    the main corpus' protobuf requests as fast as --connections go; on kafka, then until
            every ingester consumed every record the distributor produced (lag 0); then POST
            /flush on every ingester and wait until it is flushed (run.wait_flushed). CPU is
            utime+stime of every sluice process from /proc/PID/stat, summed; etcd's and the test
            broker's apart. Stored bytes: the files under DIR/chunks (chunks, and index/ apart)
  latency   --latency-requests requests of a second corpus (later timestamps, another seed) at
            --rate req/s from --connections connections: push p50/p99
  catch-up  (kafka only) SIGSTOP --stop-ingester (its pid from the cluster's pids/ file), push
            --catchup-rate req/s of the second corpus for --stop-seconds, SIGCONT; then poll its
            /metrics every 10 ms until it has read every record produced to its partition
            meanwhile (the distributor's loki_distributor_kafka_appends_total by partition) and
            its sluice_kafka_reader_lag_records is 0: time to catch up, records/s and MB/s
            against the rate they were produced at. The test broker keeps only 5 MiB of a
            partition (librdkafka's mock cluster), so the default rate leaves a backlog of
            --backlog-mib (4 MiB); past 5 MiB the stopped consumer would lose records

--quick: a 200,000-line corpus, 200 latency requests, a 10 s stop (under 3 minutes). Every wait is
bounded; only processes started here are signalled: the stopped ingester by the pid cluster.sh
wrote, the clusters by scripts/cluster.sh stop (also on failure).
"""

import argparse
import datetime
import json
import math
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402  (bench/cluster.py: Cluster, cpu_snapshot, ensure_built, port checks)
import run  # noqa: E402  (bench/run.py: push, metrics, wait_flushed, du, machine and git info)

GB = run.GB
MB = run.MB
log = run.log
SECTION = "## Issue 13: Kafka write path"
PATHS = {"direct": "direct, RF=3", "kafka": "Kafka, 3 partitions"}
# Processes that are not sluice: counted apart.
NOT_SLUICE = ("etcd", "kafka")
# librdkafka's mock cluster keeps at most this much of each partition (rdkafka_mock.c:
# mpart->max_size = 5 MiB, max_cnt 100,000 message sets; no API changes it): older records are
# deleted, and a consumer further behind gets "offset out of range" and resets to the earliest
# offset, skipping the deleted records.
MOCK_PARTITION_BYTES = 5 * 1024 * 1024
MOCK_RETENTION = "librdkafka's mock cluster keeps at most 5 MiB per partition"
# Kafka record bytes per raw log byte (labels and framing), measured on the corpus: 1.15.
RECORD_OVERHEAD = 1.2


# --- endpoints and metrics ---------------------------------------------------------------------


class Endpoint:
    """One process' HTTP endpoint, shaped as run.Server where run's helpers use it (port, url,
    metrics, post)."""

    def __init__(self, port):
        self.port = port

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def metrics(self):
        return run.metrics_at(self.url("/metrics"))

    def samples(self):
        return run.metrics_samples(self.url("/metrics"))

    post = run.Server.post


def ingesters(dep):
    return [n for n in dep.names if n.startswith("ingester-")]


def pid_of(dep, name):
    """The pid cluster.sh wrote for NAME: the only way a process is signalled here."""
    with open(os.path.join(dep.dir, "pids", f"{name}.pid")) as f:
        return int(f.read().strip())


def by_partition(samples, name, **want):
    """{partition: value} of metric NAME whose labels include WANT."""
    out = {}
    for n, labels, v in samples:
        if n == name and all(labels.get(k) == w for k, w in want.items()):
            p = labels.get("partition", "")
            out[p] = out.get(p, 0.0) + v
    return out


def produced(dep):
    """What the front door's producer had Kafka acknowledge, by partition: ({p: records}, {p: bytes})."""
    s = Endpoint(dep.push_port).samples()
    return (by_partition(s, "loki_distributor_kafka_appends_total", status="success"),
            by_partition(s, "loki_distributor_kafka_sent_bytes_total"))


def reader_state(port):
    """An ingester's partition reader: ({p: records read}, {p: lag records}, max lag seconds)."""
    s = Endpoint(port).samples()
    lag_s = by_partition(s, "sluice_kafka_reader_lag_seconds")
    return (by_partition(s, "sluice_kafka_reader_records_total"),
            by_partition(s, "sluice_kafka_reader_lag_records"), max(lag_s.values(), default=0.0))


def wait_consumed(dep, timeout):
    """Waits until the ingesters have read every record produced so far and report no lag.
    Each partition has one owner here, so records read sum to records produced."""
    t0 = time.monotonic()
    want = sum(produced(dep)[0].values())
    idle_since = None
    while time.monotonic() - t0 < timeout:
        read = lag = 0.0
        for name in ingesters(dep):
            r, lg, _ = reader_state(dep.http_port(name))
            read += sum(r.values())
            lag += sum(lg.values())
        if read >= want and lag == 0:
            return time.monotonic() - t0
        if lag == 0 and idle_since is None:
            idle_since = time.monotonic()
        elif lag > 0:
            idle_since = None
        if idle_since is not None and time.monotonic() - idle_since > 5:
            raise RuntimeError(f"{dep.name}: the ingesters read {read:.0f} of {want:.0f} records and report no lag: "
                               f"records were lost, presumably to the test broker's retention ({MOCK_RETENTION})")
        time.sleep(0.2)
    raise RuntimeError(f"{dep.name}: the ingesters had not consumed {want:.0f} records after {timeout}s")


def cpu(dep):
    return cluster.cpu_snapshot(dep)


def cpu_delta(before, after):
    """cluster.cpu_delta with the test broker apart from sluice, and CPU by role."""
    d = cluster.cpu_delta(before, after)
    per = d["per_process_s"]
    d["kafka_s"] = per.get("kafka", 0.0)
    d["sluice_s"] = sum(v for k, v in per.items() if k not in NOT_SLUICE)
    roles = {"frontdoor": 0.0, "ingesters": 0.0, "queriers, backend": 0.0}
    for k, v in per.items():
        if k in NOT_SLUICE:
            continue
        roles["ingesters" if k.startswith("ingester-") else "frontdoor" if k == "frontdoor"
              else "queriers, backend"] += v
    d["roles_s"] = roles
    return d


def store_bytes(dep):
    """Files under DIR/chunks: chunk objects (everything but index/) and index objects."""
    root = os.path.join(dep.dir, "chunks")
    out = {"chunk_files": 0, "chunk_bytes": 0, "index_files": 0, "index_bytes": 0}
    for d, _, files in os.walk(root):
        kind = "index" if os.path.relpath(d, root).split(os.sep)[0] == "index" else "chunk"
        for f in files:
            try:
                size = os.lstat(os.path.join(d, f)).st_size
            except FileNotFoundError:
                continue
            out[f"{kind}_files"] += 1
            out[f"{kind}_bytes"] += size
    out["du_bytes"] = run.du_bytes(root)
    return out


# --- phases ------------------------------------------------------------------------------------


def ingest_phase(bin_dir, dep, pb, meta, args):
    res = {}
    c0 = cpu(dep)
    t0 = time.monotonic()
    log(f"{dep.name}: pushing {meta['requests']} requests with {args.connections} connections")
    push = run.push(bin_dir, Endpoint(dep.push_port), pb, "application/x-protobuf", args.connections,
                    max_seconds=600)
    run.check_push(push, dep.name)
    c1 = cpu(dep)
    res["push_wall_s"] = time.monotonic() - t0
    res["consume_wait_s"] = 0.0
    if dep.name == "kafka":
        res["consume_wait_s"] = wait_consumed(dep, 600)
        res["produced_records"] = sum(produced(dep)[0].values())
        res["produced_bytes"] = sum(produced(dep)[1].values())
    c2 = cpu(dep)
    log(f"{dep.name}: flushing {len(ingesters(dep))} ingesters")
    for name in ingesters(dep):
        Endpoint(dep.http_port(name)).post("/flush", timeout=60)
    res["flush"] = {}
    for name in ingesters(dep):
        wait_s, how = run.wait_flushed(Endpoint(dep.http_port(name)), 600)
        res["flush"][name] = {"wait_s": wait_s, "done_by": how}
    c3 = cpu(dep)
    res["ingest_wall_s"] = time.monotonic() - t0
    res["push"] = push
    res["raw_bytes"] = push["raw_bytes_ok"]
    res["cpu_push"] = cpu_delta(c0, c1)
    res["cpu_consume"] = cpu_delta(c1, c2)
    res["cpu_flush"] = cpu_delta(c2, c3)
    res["cpu_total"] = cpu_delta(c0, c3)
    state = {"chunks_stored": 0.0, "chunk_bytes_stored": 0.0, "memory_streams": 0.0, "discarded": 0.0}
    for name in ingesters(dep):
        m = Endpoint(dep.http_port(name)).metrics()
        state["chunks_stored"] += m.get("loki_ingester_chunks_stored_total", 0.0)
        state["chunk_bytes_stored"] += m.get("loki_ingester_chunk_stored_bytes_total", 0.0)
        state["memory_streams"] += m.get("loki_ingester_memory_streams", 0.0)
        state["discarded"] += m.get("loki_discarded_samples_total", 0.0)
    res["ingesters_after_flush"] = state
    res["store"] = store_bytes(dep)
    gb = res["raw_bytes"] / GB
    res["cpu_s_per_gb"] = res["cpu_total"]["sluice_s"] / gb
    log(f"{dep.name}: {push['raw_mb_per_s']:.1f} MB/s pushed; push+flush {res['cpu_s_per_gb']:.2f} sluice CPU-s/GB "
        f"(broker {res['cpu_total']['kafka_s'] / gb:.2f}); store {res['store']}")
    return res


def latency_phase(bin_dir, dep, pb, args):
    log(f"{dep.name}: {args.latency_requests} requests at {args.rate:g} req/s")
    out = run.push(bin_dir, Endpoint(dep.push_port), pb, "application/x-protobuf", args.connections, 0,
                   args.latency_requests, rate=args.rate, max_seconds=args.latency_requests / args.rate + 120)
    run.check_push(out, dep.name + " at a fixed rate")
    if dep.name == "kafka":
        wait_consumed(dep, 300)
    log(f"{dep.name}: p50 {out['latency_ms']['p50']:.2f} ms, p99 {out['latency_ms']['p99']:.2f} ms")
    return out


def catchup_phase(bin_dir, dep, pb, args):
    name = args.stop_ingester
    if name not in ingesters(dep):
        raise RuntimeError(f"--stop-ingester {name}: no such ingester in {dep.dir}")
    port = dep.http_port(name)
    pid = pid_of(dep, name)
    wait_consumed(dep, 300)
    read0, lag0, _ = reader_state(port)
    parts = sorted(lag0)
    if not parts:
        raise RuntimeError(f"{name} reports no partition (sluice_kafka_reader_lag_records)")
    count = int(math.ceil(args.catchup_rate * args.stop_seconds))
    rec0, bytes0 = produced(dep)
    cpu0 = run.proc_cpu_seconds(pid)
    log(f"{dep.name}: SIGSTOP {name} (pid {pid}, partition {','.join(parts)}); {count} requests at "
        f"{args.catchup_rate:g} req/s")
    os.kill(pid, signal.SIGSTOP)
    t_stop = time.monotonic()
    try:
        push = run.push(bin_dir, Endpoint(dep.push_port), pb, "application/x-protobuf", args.connections,
                        args.latency_requests, count, rate=args.catchup_rate, max_seconds=args.stop_seconds + 60)
        push_wall = time.monotonic() - t_stop
        while time.monotonic() - t_stop < args.stop_seconds:  # bounded by --stop-seconds
            time.sleep(0.05)
        rec1, bytes1 = produced(dep)
    finally:
        os.kill(pid, signal.SIGCONT)
    t_cont = time.monotonic()
    run.check_push(push, dep.name + " while an ingester was stopped")
    target = sum(rec1.get(p, 0.0) - rec0.get(p, 0.0) for p in parts)
    target_bytes = sum(bytes1.get(p, 0.0) - bytes0.get(p, 0.0) for p in parts)
    all_bytes = sum(bytes1.values()) - sum(bytes0.values())
    log(f"{dep.name}: SIGCONT {name} after {t_cont - t_stop:.1f}s; {target:.0f} records "
        f"({target_bytes / MB:.1f} MB) produced to its partition meanwhile")
    if target_bytes > MOCK_PARTITION_BYTES:
        log(f"{dep.name}: the backlog ({target_bytes / MB:.1f} MB) exceeds what the test broker keeps "
            f"({MOCK_PARTITION_BYTES / MB:.1f} MB): records will be lost; lower --catchup-rate")
    samples = []
    t_read = t_lag0 = idle_since = None
    while time.monotonic() - t_cont < args.catchup_timeout:
        read, lag, lag_s = reader_state(port)
        now = time.monotonic() - t_cont
        got = sum(read.get(p, 0.0) - read0.get(p, 0.0) for p in parts)
        lag_sum = sum(lag.get(p, 0.0) for p in parts)
        samples.append((now, got, lag_sum, lag_s))
        if t_read is None and got >= target:
            t_read = now
        if t_read is not None and lag_sum == 0:
            t_lag0 = now
            break
        # The gauge may read 0 before the reader has seen the new end of its partition (it is
        # refreshed every 100 ms from the last fetch), so only a lasting 0 short of the target
        # means records were skipped.
        idle_since = (idle_since or now) if lag_sum == 0 else None
        if idle_since is not None and now - idle_since > 5:
            raise RuntimeError(f"{name} read {got:.0f} of {target:.0f} records and reports no lag: records were "
                               f"lost, presumably to the test broker's retention ({MOCK_RETENTION})")
        time.sleep(0.01)
    if t_lag0 is None:
        raise RuntimeError(f"{name} had not caught up after {args.catchup_timeout}s: {samples[-1]}")
    t_done = t_lag0
    cpu1 = run.proc_cpu_seconds(pid)
    stop_s = t_cont - t_stop
    share = target_bytes / all_bytes if all_bytes else 0.0
    res = {
        "ingester": name, "partitions": parts, "stopped_s": stop_s, "push": push, "push_wall_s": push_wall,
        "records": target, "record_bytes": target_bytes, "partition_share_of_bytes": share,
        "raw_bytes_partition_est": push["raw_bytes_ok"] * share, "catchup_s": t_done, "all_read_s": t_read,
        "ingester_cpu_s": cpu1 - cpu0, "max_lag_records_seen": max(s[2] for s in samples),
        "max_lag_seconds_seen": max(s[3] for s in samples), "polls": len(samples),
        "lag_curve": samples[:: max(1, len(samples) // 40)] + samples[-1:], "rate": args.catchup_rate,
    }
    res["produce_records_per_s"] = target / push_wall
    res["produce_mb_per_s"] = target_bytes / MB / push_wall
    res["catchup_records_per_s"] = target / max(t_read, 1e-9)
    res["catchup_mb_per_s"] = target_bytes / MB / max(t_read, 1e-9)
    res["catchup_raw_mb_per_s_est"] = res["raw_bytes_partition_est"] / MB / max(t_read, 1e-9)
    res["ratio"] = res["catchup_records_per_s"] / res["produce_records_per_s"]
    log(f"{dep.name}: {name} read every record in {t_read:.2f}s, lag 0 at {t_done:.2f}s: "
        f"{res['catchup_records_per_s']:.0f} records/s, "
        f"{res['catchup_mb_per_s']:.1f} MB/s ({res['ratio']:.1f}x the produce rate)")
    return res


def run_path(name, bin_dir, workdir, port, main_pb, extra_pb, meta, args):
    start_args = ["--kafka", "--partitions", "3"] if name == "kafka" else []
    dep = cluster.Cluster(os.path.join(bin_dir, "sluice"), workdir, name, 3, port, "querier-1", start_args)
    args.live.append(dep)
    log(f"{name}: starting")
    t0 = time.monotonic()
    dep.start()
    res = {"start_s": time.monotonic() - t0}
    res["ingest"] = ingest_phase(bin_dir, dep, main_pb, meta, args)
    res["latency"] = latency_phase(bin_dir, dep, extra_pb, args)
    if name == "kafka":
        res["catchup"] = catchup_phase(bin_dir, dep, extra_pb, args)
    log(f"{name}: stopping")
    res["stop_s"] = dep.stop()
    args.live.remove(dep)
    return res


# --- report ------------------------------------------------------------------------------------


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "n/a"


def section(r):
    d, c = r["paths"], r["corpus"]
    lines = [SECTION + "\n"]
    lines.append("Written by `bench/kafka.py`: the same corpus pushed through the front door of two fresh "
                 "3-ingester clusters (`scripts/cluster.sh`), one after the other: **direct** (RF=3, the "
                 "distributor replicates to 3 ingesters) and **Kafka** (`--kafka --partitions 3`: the "
                 "distributor produces to the test broker, each ingester consumes one partition alone). "
                 "Everything runs on the same 2 cores, which other helpers were building and testing on "
                 "during the run: compare the ratios of this run, not the CPU-seconds across runs.\n")
    lines += run.provenance_lines(r)
    lines.append(f"- corpus: {c['lines']:,} lines, {c['raw_bytes'] / MB:.0f} MB raw, {c['streams']:,} streams, "
                 f"{len(c['tenants'])} tenants, {c['lines_per_request']:,} lines a request (protobuf+snappy), "
                 f"{r['connections']} connections; latency and catch-up pushes from a second corpus (seed "
                 f"{r['extra_seed']}, later timestamps, same streams)")
    lines.append("- settings: run.py's bench config for every sluice process (zstd blocks, WAL fsync=batch on "
                 "both paths, no rate limits, auth on); 1 querier and 1 backend (compactor) in each cluster")
    lines.append(f"- wall time of the whole run: {r['elapsed_s'] / 60:.1f} min\n")

    names = [n for n in ("direct", "kafka") if n in d]
    both = len(names) == 2
    lines.append("| figure | " + " | ".join(PATHS[n] for n in names) + (" | Kafka / direct |" if both else " |"))
    lines.append("| --- |" + " --- |" * (len(names) + both))

    def row(label, fn, rat=None):
        cells = [label, *(fn(d[n], n) for n in names)]
        if both:
            cells.append(rat(d["kafka"], d["direct"]) if rat else "")
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")

    def per_gb(x, key, part="sluice_s"):
        return x["ingest"][key][part] / (x["ingest"]["raw_bytes"] / GB)

    row("ingest: sluice CPU-s per GB raw, push + consume + flush", lambda x, n: f"{per_gb(x, 'cpu_total'):.2f}",
        lambda k, dd: ratio(per_gb(k, "cpu_total"), per_gb(dd, "cpu_total")))
    row("  of which: until the last push was answered", lambda x, n: f"{per_gb(x, 'cpu_push'):.2f}",
        lambda k, dd: ratio(per_gb(k, "cpu_push"), per_gb(dd, "cpu_push")))
    row("  of which: until the ingesters consumed every record (lag 0)",
        lambda x, n: f"{per_gb(x, 'cpu_consume'):.2f}" if n == "kafka" else "-")
    row("  of which: POST /flush until flushed", lambda x, n: f"{per_gb(x, 'cpu_flush'):.2f}",
        lambda k, dd: ratio(per_gb(k, "cpu_flush"), per_gb(dd, "cpu_flush")))

    def roles(x, n):
        gb = x["ingest"]["raw_bytes"] / GB
        return ", ".join(f"{k} {v / gb:.2f}" for k, v in x["ingest"]["cpu_total"]["roles_s"].items())

    row("  by role, CPU-s per GB", roles)
    row("test broker (stands in for Kafka) CPU-s per GB raw",
        lambda x, n: f"{per_gb(x, 'cpu_total', 'kafka_s'):.2f}" if n == "kafka" else "-")
    row("etcd CPU-s per GB raw", lambda x, n: f"{per_gb(x, 'cpu_total', 'etcd_s'):.2f}")
    row("sluice + test broker CPU-s per GB raw",
        lambda x, n: f"{per_gb(x, 'cpu_total') + per_gb(x, 'cpu_total', 'kafka_s'):.2f}",
        lambda k, dd: ratio(per_gb(k, "cpu_total") + per_gb(k, "cpu_total", "kafka_s"), per_gb(dd, "cpu_total")))
    row("push throughput (4 connections, as fast as they go)",
        lambda x, n: f"{x['ingest']['push']['raw_mb_per_s']:.1f} MB/s",
        lambda k, dd: ratio(k["ingest"]["push"]["raw_mb_per_s"], dd["ingest"]["push"]["raw_mb_per_s"]))
    row("wall s: push / until consumed / until flushed",
        lambda x, n: f"{x['ingest']['push_wall_s']:.1f} / {x['ingest']['consume_wait_s']:.1f} / "
                     f"{max(f['wait_s'] for f in x['ingest']['flush'].values()):.1f}")

    def store(x, key):
        return x["ingest"]["store"][key]

    def written(x):
        return x["ingest"]["ingesters_after_flush"]["chunk_bytes_stored"]

    def flushed(x):
        return x["ingest"]["ingesters_after_flush"]["chunks_stored"]

    def mb_per_gb(x, v):
        return v / MB / (x["ingest"]["raw_bytes"] / GB)

    row("chunks written by the ingesters' flush: count; MB",
        lambda x, n: f"{flushed(x):,.0f}; {written(x) / MB:.1f} ({mb_per_gb(x, written(x)):.0f} MB per GB raw)",
        lambda k, dd: ratio(written(k), written(dd)))
    row("chunks in the store after the flush (files under DIR/chunks, index apart): count; MB",
        lambda x, n: f"{store(x, 'chunk_files'):,}; {store(x, 'chunk_bytes') / MB:.1f} "
                     f"({mb_per_gb(x, store(x, 'chunk_bytes')):.0f} MB per GB raw)",
        lambda k, dd: ratio(store(k, "chunk_bytes"), store(dd, "chunk_bytes")))
    row("index objects in the store: count; MB", lambda x, n: f"{store(x, 'index_files')}; "
                                                               f"{store(x, 'index_bytes') / MB:.2f}",
        lambda k, dd: ratio(store(k, "index_bytes"), store(dd, "index_bytes")))
    lat = r["latency_requests"]
    row(f"push latency, {lat} requests at {r['rate']:g} req/s: p50 / p99 ms",
        lambda x, n: f"{x['latency']['latency_ms']['p50']:.2f} / {x['latency']['latency_ms']['p99']:.2f}",
        lambda k, dd: f"{ratio(k['latency']['latency_ms']['p50'], dd['latency']['latency_ms']['p50'])} / "
                      f"{ratio(k['latency']['latency_ms']['p99'], dd['latency']['latency_ms']['p99'])}")
    row("  p999 / max ms", lambda x, n: f"{x['latency']['latency_ms']['p999']:.2f} / "
                                         f"{x['latency']['latency_ms']['max']:.2f}")
    lines.append("")

    if "kafka" in d and "catchup" in d["kafka"]:
        cu = d["kafka"]["catchup"]
        lines.append(f"**Catch-up after a {cu['stopped_s']:.0f} s consumer stop.** `{cu['ingester']}` (partition "
                     f"{', '.join(cu['partitions'])}) was stopped with SIGSTOP while the front door took "
                     f"{cu['push']['requests_ok']:,} requests at {cu['rate']:g} req/s "
                     f"({cu['push']['raw_mb_per_s']:.2f} MB/s raw cluster-wide); its partition received "
                     f"{cu['records']:,.0f} records ({cu['record_bytes'] / MB:.2f} MB of records, about "
                     f"{cu['raw_bytes_partition_est'] / MB:.2f} MB raw). After SIGCONT it had read them all in "
                     f"**{cu['all_read_s']:.2f} s**, and its `sluice_kafka_reader_lag_records` read 0 again at "
                     f"{cu['catchup_s']:.2f} s (the gauge is refreshed every 100 ms; /metrics polled every 10 ms). "
                     f"The push rate is low on purpose: the test broker keeps at most "
                     f"{MOCK_PARTITION_BYTES / 2**20:.0f} MiB of a partition (a limit of librdkafka's mock cluster, "
                     f"not Kafka's), so the rate was chosen to leave a backlog of about {r['backlog_mib']:g} MiB; a "
                     "larger one is deleted under the stopped consumer, which then resets to the earliest offset "
                     "and skips the deleted records (seen in a trial run at 40 req/s).\n")
        lines.append("| | produced (while stopped) | consumed (catch-up, until all read) | catch-up / produce |")
        lines.append("| --- | --- | --- | --- |")
        lines.append(f"| records/s | {cu['produce_records_per_s']:,.0f} | {cu['catchup_records_per_s']:,.0f} | "
                     f"**{cu['ratio']:.0f}x** |")
        lines.append(f"| MB/s of Kafka records | {cu['produce_mb_per_s']:.3f} | {cu['catchup_mb_per_s']:.1f} | "
                     f"{cu['catchup_mb_per_s'] / cu['produce_mb_per_s']:.0f}x |")
        lines.append(f"| MB/s raw (the partition's share of the bytes, estimated) | "
                     f"{cu['raw_bytes_partition_est'] / MB / cu['push_wall_s']:.3f} | "
                     f"{cu['catchup_raw_mb_per_s_est']:.1f} | |")
        lines.append("")
        lines.append(f"The ingester spent {cu['ingester_cpu_s']:.2f} CPU-s from SIGSTOP to caught up; the most lag "
                     f"its gauges showed after SIGCONT: {cu['max_lag_records_seen']:,.0f} records, "
                     f"{cu['max_lag_seconds_seen']:.1f} s. Produce rate = the records / the push's wall time "
                     f"({cu['push_wall_s']:.1f} s); catch-up rate = the same records / SIGCONT until all were read. "
                     "With so small a backlog the catch-up time is mostly the consumer's wake-up and first fetch, so "
                     "the catch-up rate is a lower bound of what an ingester consumes; the ingest figures above "
                     "(every record consumed within the 'until consumed' wall time after a saturating push) show "
                     "its sustained rate better.\n")
    for n in r.get("notes", []):
        lines.append(f"- {n}")
    return "\n".join(lines) + "\n"


def notes(r):
    out = []
    for n, x in r["paths"].items():
        ing = x["ingest"]
        for name, f in ing["flush"].items():
            if f["done_by"] != "memory empty":
                out.append(f"{n}: {name}'s flush ended by '{f['done_by']}', not with memory empty")
        if ing["ingesters_after_flush"]["discarded"]:
            out.append(f"**{n}: the ingesters discarded {ing['ingesters_after_flush']['discarded']:.0f} lines**")
        sat = ing["push"]["requests_per_s"]
        if r["rate"] > sat / 2:
            out.append(f"{n}: {r['rate']:g} req/s is more than half of its saturation rate ({sat:.0f} req/s): its "
                       "latency includes queueing.")
    out.append("CPU is utime+stime from /proc/PID/stat of every sluice process of the cluster (front door, 3 "
               "ingesters, querier, backend), summed over the phase; etcd and the test broker apart. The test "
               "broker is librdkafka's mock cluster (3 brokers in one process, in memory, no disk): it stands in "
               "for Kafka, which a real deployment runs on other machines, so its CPU is shown but not counted "
               "as sluice's and says little about a real Kafka's.")
    out.append("On the Kafka path the push is answered once Kafka acknowledged the records (acks=all, linger "
               "5 ms), and the ingesters apply them afterwards: its ingest CPU is measured until every record "
               "was consumed and flushed. The ingesters keep their WAL (fsync=batch) on both paths.")
    out.append("Chunk objects are named by stream fingerprint, time range and checksum (as Loki's): when the "
               "RF=3 replicas cut identical chunks, as they do here where one POST /flush cuts every stream's "
               "whole data on all three, their three writes land on one object. So RF=3 writes 3 copies "
               "(flush CPU, PUTs, bytes written) but the store holds one; replicas that cut at different "
               "moments (size, idle or age limits reached at different times, a restart) store distinct "
               "copies until the compactor's replica merge. Written = `loki_ingester_chunks_stored_total` and "
               "`loki_ingester_chunk_stored_bytes_total` summed over the ingesters; both counted right after POST "
               "/flush, before the compactor's first run.")
    out.append("The machine's 2 cores are shared with other helpers building and testing in parallel: CPU "
               "ratios within this run are robust to that, wall-clock figures (throughput, latency, catch-up "
               "time) much less so.")
    return out


READING = "### Reading the figures"  # written by hand under the section: kept when it is rewritten




# --- main --------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(run.REPO, "build-bench"))
    ap.add_argument("--build-type", default="RelWithDebInfo")
    ap.add_argument("--no-build", action="store_true", help="use the binaries in --build-dir as they are")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 200,000 lines, 200 latency requests, 10 s stop (under 3 minutes)")
    ap.add_argument("--lines", type=int, default=None, help="main corpus (default 1,000,000; --quick 200,000)")
    ap.add_argument("--streams", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rate", type=float, default=50, help="req/s of the latency push (default 50: ~10 MB/s)")
    ap.add_argument("--latency-requests", type=int, default=None, help="default 1,000; --quick 200")
    ap.add_argument("--stop-seconds", type=float, default=None, help="consumer stop (default 60; --quick 10)")
    ap.add_argument("--catchup-rate", type=float, default=None,
                    help="req/s pushed while the ingester is stopped (default: what keeps the stopped partition's "
                    "backlog under --backlog-mib)")
    ap.add_argument("--backlog-mib", type=float, default=4,
                    help="target backlog of the stopped partition; the test broker keeps at most 5 MiB a partition")
    ap.add_argument("--catchup-timeout", type=float, default=600)
    ap.add_argument("--stop-ingester", default="ingester-2")
    ap.add_argument("--paths", default="direct,kafka")
    ap.add_argument("--port", type=int, default=25100,
                    help="front door of the direct cluster; the Kafka cluster at +100 (keep below 32768)")
    ap.add_argument("--workdir", default=None, help="default: a new directory under $TMPDIR, removed at the end")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--out", default=os.path.join(run.REPO, "bench", "RESULTS.md"),
                    help=f"the section '{SECTION[3:]}' is replaced or appended here ('-': print only)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--render-only", default=None, metavar="JSON", help="rewrite the section from a --json-out file")
    args = ap.parse_args()
    if args.render_only:
        with open(args.render_only) as f:
            r = json.load(f)
        text = section(r)
        if args.out != "-":
            run.write_section(args.out, SECTION, text, keep=READING)
        print(text)
        return
    if args.lines is None:
        args.lines = 200_000 if args.quick else 1_000_000
    if args.latency_requests is None:
        args.latency_requests = 200 if args.quick else 1_000
    if args.stop_seconds is None:
        args.stop_seconds = 10 if args.quick else 60
    paths = args.paths.split(",")
    if set(paths) - set(PATHS):
        sys.exit(f"bench: --paths takes {','.join(PATHS)}")
    if args.port + 100 + 20 > 32768:
        sys.exit("bench: --port too high: every port must stay below 32768 (the ephemeral range)")
    if not args.no_build:
        cluster.ensure_built(args.build_dir, args.build_type,
                             ("sluice", "sluice-kafka-testbroker", "sluice-bench-corpus", "sluice-bench-load"))
    bin_dir = os.path.abspath(args.build_dir)
    for b in ("sluice", "sluice-kafka-testbroker", "sluice-bench-corpus", "sluice-bench-load"):
        if not os.access(os.path.join(bin_dir, b), os.X_OK):
            sys.exit(f"bench: {bin_dir}/{b} is missing")

    started = time.monotonic()
    workdir = args.workdir or tempfile.mkdtemp(prefix="sluice-kafka-bench-")
    os.makedirs(workdir, exist_ok=True)
    commit, dirty = run.git_info()
    r = {"command": " ".join(["bench/kafka.py", *sys.argv[1:]]),
         "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "commit": commit, "dirty": dirty, "machine": run.machine_info(), "connections": args.connections,
         "rate": args.rate, "latency_requests": args.latency_requests, "catchup_rate": args.catchup_rate,
         "stop_seconds": args.stop_seconds, "extra_seed": args.seed + 1,
         "loadavg_start": list(os.getloadavg()), "paths": {}}
    args.live = []
    try:
        corpus = os.path.join(workdir, "corpus")
        extra = os.path.join(workdir, "corpus-extra")
        end_ns = time.time_ns() // 10**9 * 10**9
        log(f"corpus: {args.lines:,} lines, {args.streams:,} streams -> {corpus}")
        meta = run.run_json([os.path.join(bin_dir, "sluice-bench-corpus"), "--out", corpus, "--lines",
                             str(args.lines), "--streams", str(args.streams), "--seed", str(args.seed),
                             "--end-ns", str(end_ns)], timeout=1800)
        r["corpus"] = meta
        if args.catchup_rate is None:
            # Kafka record bytes a request puts in one of the 3 partitions, on average.
            per_request = meta["raw_bytes"] / meta["requests"] * RECORD_OVERHEAD / 3
            args.catchup_rate = round(args.backlog_mib * 2**20 / (args.stop_seconds * per_request), 2)
        r["catchup_rate"] = args.catchup_rate
        r["backlog_mib"] = args.backlog_mib
        # The second corpus: latency requests, then the catch-up's. Its 5 minutes of timestamps start
        # 1 s after the main corpus ends (so streams only move forward) and are in the past by the
        # time the catch-up pushes them; before that they are within the 10-minute creation grace.
        extra_requests = args.latency_requests + int(math.ceil(args.catchup_rate * args.stop_seconds))
        extra_lines = extra_requests * meta["lines_per_request"]
        log(f"second corpus: {extra_lines:,} lines -> {extra}")
        r["extra_corpus"] = run.run_json([os.path.join(bin_dir, "sluice-bench-corpus"), "--out", extra, "--lines",
                                          str(extra_lines), "--streams", str(args.streams), "--seed",
                                          str(args.seed + 1), "--span-s", "300",
                                          "--end-ns", str(end_ns + 301 * 10**9)], timeout=1800)
        for i, name in enumerate(("direct", "kafka")):
            if name in paths:
                r["paths"][name] = run_path(name, bin_dir, workdir, args.port + 100 * i,
                                            os.path.join(corpus, "push.pb"), os.path.join(extra, "push.pb"), meta,
                                            args)
        r["loadavg_end"] = list(os.getloadavg())
        r["elapsed_s"] = time.monotonic() - started
        r["notes"] = notes(r)
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(r, f, indent=1, default=str)
        text = section(r)
        if args.out != "-":
            run.write_section(args.out, SECTION, text, keep=READING)
            log(f"wrote the issue 13 section of {args.out} ({r['elapsed_s'] / 60:.1f} min)")
        print(text)
    finally:
        run.stop_each(args.live, lambda dep: dep.stop())
        run.finish_workdir(workdir, args)


if __name__ == "__main__":
    main()
