#!/usr/bin/env python3
"""Cluster vs single binary (issue 11): what replication costs, on one corpus, in one run.

Deployments, each started fresh on 127.0.0.1 (ports below 32768) and stopped before the next:

  single  one sluice process, -target=all, run.py's bench config
  rf1     scripts/cluster.sh: etcd, 3 ingesters, replication factor 1, 1 querier, front door
  rf3     the same at replication factor 3

Every sluice process gets run.py's settings (zstd blocks, WAL fsync=batch, no rate limits, auth
on): the cluster as command-line flags flattened from run.BENCH_CONFIG. Per deployment:

  push     the corpus' protobuf requests: the first (1 - --latency-share) as fast as
           --connections go (CPU per GB, as run.py), the rest at the fixed --rate (latency)
  state    every ingester's loki_ingester_memory_streams and loki_ingester_chunks_stored_total:
           the queries below run right after pushing, so they read the ingesters' memory (over
           gRPC in the cluster), never the chunk store; the report says if any chunk was flushed
  queries  a rare needle (|= "<trace id in 3 lines>") and sum by (level) (count_over_time[1m])
           over the whole range, --query-repeats runs each; answers checked (the needle's line
           count, and the metric's series and total equal to the single binary's)

CPU is utime+stime from /proc/PID/stat of every sluice process of the deployment, summed, with
etcd's apart; taken before and after each phase. Every wait is bounded; only processes started
here are signalled (the single binary by pid, clusters by scripts/cluster.sh stop).
"""

import argparse
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: the single-binary benchmark's helpers)

REPO = run.REPO
GB = run.GB
MB = run.MB
log = run.log
SECTION = "## Issue 11: cluster vs single binary"

# Where queries go in a cluster. The front door (distributor + query frontend) is the intended
# endpoint; until the query frontend serves the query API there, a querier's HTTP endpoint does
# (same API). Switch with this line or --query-via frontdoor.
QUERY_VIA = "querier-1"

INGESTERS = 3
QUERIERS = 1
# Keys of run.BENCH_CONFIG that belong to one process, not to the whole deployment:
# cluster.sh sets them per component.
PER_PROCESS_KEYS = {"target", "server.http_listen_address", "server.http_listen_port", "common.path_prefix"}


def bench_flags():
    """run.BENCH_CONFIG as -key.path=value flags, for every process of a cluster."""
    cfg = yaml.safe_load(run.BENCH_CONFIG.format(port=0, data="/unused"))
    flags = []

    def walk(prefix, node):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                walk(key, v)
            elif key not in PER_PROCESS_KEYS:
                flags.append(f"-{key}={str(v).lower() if isinstance(v, bool) else v}")

    walk("", cfg)
    return flags


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def check_ports(first, count):
    busy = [p for p in range(first, first + count) if not port_free(p)]
    if busy:
        raise RuntimeError(f"ports {busy} are in use; pick another --port")


def metrics_of(port):
    """A /metrics page summed over label sets: {name: value}."""
    return run.metrics_at(f"http://127.0.0.1:{port}/metrics")


# --- deployments -------------------------------------------------------------------------------


class Single:
    """The single binary (-target=all) with run.py's config, as run.py starts it."""

    def __init__(self, binary, workdir, port):
        check_ports(port, 1)
        self.name = "single"
        self.server = run.Server(binary, workdir, "single", port=port)
        self.push_port = self.query_port = port
        self.ingester_ports = [port]

    def start(self):
        self.server.start()

    def pids(self):
        return {"sluice": self.server.pid}

    def etcd_pid(self):
        return None

    def stop(self):
        t0 = time.monotonic()
        self.server.stop(signal.SIGTERM, timeout=300)
        return time.monotonic() - t0


class Cluster:
    """scripts/cluster.sh start/stop; the pids and endpoints come from its directory."""

    def __init__(self, binary, workdir, name, rf, port, query_via, start_args=()):
        # cluster.sh takes P and P+1 for the front door, then two ports per process after it.
        check_ports(port, 2 + 2 * (1 + INGESTERS + QUERIERS))
        self.name = name
        self.start_args = list(start_args)  # more cluster.sh start options, e.g. --kafka
        self.binary = binary
        self.dir = os.path.join(workdir, name)
        self.rf = rf
        self.port = port
        self.query_via = query_via
        self.started = False

    def _script(self, *args, timeout):
        env = dict(os.environ, SLUICE_BIN=self.binary)
        r = subprocess.run([os.path.join(REPO, "scripts", "cluster.sh"), *args], env=env, capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"cluster.sh {args[0]} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
        return r.stdout

    def start(self):
        self.started = True  # from here on, stop() must run even if start fails halfway
        self._script("start", self.dir, "--ingesters", str(INGESTERS), "--rf", str(self.rf), "--queriers",
                     str(QUERIERS), "--port", str(self.port), *self.start_args, "--", *bench_flags(),
                     *run.Server.EXTRA_FLAGS, timeout=180)
        with open(os.path.join(self.dir, "names")) as f:
            self.names = [n.strip() for n in f if n.strip()]
        self.push_port = self.port
        self.query_port = self.http_port(self.query_via)
        self.ingester_ports = [self.http_port(n) for n in self.names if n.startswith("ingester-")]

    def http_port(self, name):
        with open(os.path.join(self.dir, "cmd", f"{name}.endpoint")) as f:
            fields = dict(kv.split("=", 1) for kv in f.read().split())
        return int(fields["http"].rsplit(":", 1)[1])

    def _pid(self, name):
        with open(os.path.join(self.dir, "pids", f"{name}.pid")) as f:
            return int(f.read().strip())

    def pids(self):
        return {n: self._pid(n) for n in self.names if n != "etcd"}

    def etcd_pid(self):
        return self._pid("etcd")

    def stop(self):
        if not self.started:
            return 0.0
        t0 = time.monotonic()
        self._script("stop", self.dir, timeout=600)
        self.started = False
        return time.monotonic() - t0


# --- measurements ------------------------------------------------------------------------------


def cpu_snapshot(dep):
    """{process name: CPU seconds} for every sluice process, plus "etcd" when there is one."""
    snap = {name: run.proc_cpu_seconds(pid) for name, pid in dep.pids().items()}
    if dep.etcd_pid():
        snap["etcd"] = run.proc_cpu_seconds(dep.etcd_pid())
    return snap


def cpu_delta(before, after):
    per = {k: after[k] - before[k] for k in after}
    return {
        "sluice_s": sum(v for k, v in per.items() if k != "etcd"),
        "etcd_s": per.get("etcd", 0.0),
        "per_process_s": per,
    }


class Pusher:
    def __init__(self, bin_dir, port):
        self.bin_dir = bin_dir
        self.port = port  # run.push reads server.port


def push_phase(bin_dir, dep, corpus_dir, meta, args):
    total = meta["requests"]
    sat_count = max(1, int(total * (1 - args.latency_share)))
    pb = os.path.join(corpus_dir, "push.pb")
    target = Pusher(bin_dir, dep.push_port)
    res = {}
    c0 = cpu_snapshot(dep)
    log(f"{dep.name}: pushing {sat_count} requests with {args.connections} connections")
    sat = run.push(bin_dir, target, pb, "application/x-protobuf", args.connections, 0, sat_count, max_seconds=300)
    run.check_push(sat, dep.name)
    c1 = cpu_snapshot(dep)
    log(f"{dep.name}: the other {total - sat_count} requests at {args.rate:g} req/s")
    fixed = run.push(bin_dir, target, pb, "application/x-protobuf", args.connections, sat_count,
                     total - sat_count, rate=args.rate, max_seconds=300)
    run.check_push(fixed, dep.name + " fixed rate")
    c2 = cpu_snapshot(dep)
    res["saturation"] = sat
    res["fixed_rate"] = fixed
    res["cpu_saturation"] = cpu_delta(c0, c1)
    res["cpu_push"] = cpu_delta(c0, c2)
    res["raw_bytes_saturation"] = sat["raw_bytes_ok"]
    res["raw_bytes_push"] = sat["raw_bytes_ok"] + fixed["raw_bytes_ok"]
    res["lines_push"] = sat["lines_ok"] + fixed["lines_ok"]
    res["cpu_s_per_gb"] = res["cpu_saturation"]["sluice_s"] / (res["raw_bytes_saturation"] / GB)
    res["cpu_s_per_gb_push"] = res["cpu_push"]["sluice_s"] / (res["raw_bytes_push"] / GB)
    res["etcd_cpu_s_per_gb_push"] = res["cpu_push"]["etcd_s"] / (res["raw_bytes_push"] / GB)
    log(f"{dep.name}: {sat['raw_mb_per_s']:.1f} MB/s at saturation, {res['cpu_s_per_gb']:.2f} CPU-s/GB "
        f"(whole push {res['cpu_s_per_gb_push']:.2f}); p99 at {args.rate:g} req/s "
        f"{fixed['latency_ms']['p99']:.2f} ms")
    return res


def idle_phase(dep, seconds):
    """CPU of the deployment doing nothing (heartbeats, ring watches, timers) for a few seconds."""
    c0 = cpu_snapshot(dep)
    t0 = time.monotonic()
    time.sleep(seconds)
    d = cpu_delta(c0, cpu_snapshot(dep))
    wall = time.monotonic() - t0
    return {"wall_s": wall, "sluice_cpu_per_s": d["sluice_s"] / wall, "etcd_cpu_per_s": d["etcd_s"] / wall}


def ingester_state(dep):
    streams = stored = discarded = 0.0
    for port in dep.ingester_ports:
        m = metrics_of(port)
        streams += m.get("loki_ingester_memory_streams", 0.0)
        stored += m.get("loki_ingester_chunks_stored_total", 0.0)
        discarded += m.get("loki_discarded_samples_total", 0.0)
    return {"memory_streams": streams, "chunks_stored": stored, "discarded_lines_at_ingesters": discarded}


def query_defs(meta):
    """The two queries, as sluice-bench-query builds its needle_rare and metric_count_by_level."""
    sel = '{env=~"prod|staging"}'
    return [
        ("needle_rare", f'{sel} |= "{meta["needle"]}"', "&limit=100&direction=backward"),
        ("metric_count_by_level", f"sum by (level) (count_over_time({sel}[1m]))", "&step=60"),
    ]


def run_query(port, query, extra, meta):
    url = (f"http://127.0.0.1:{port}/loki/api/v1/query_range?query={urllib.parse.quote(query)}"
           f"&start={meta['start_ns']}&end={meta['end_ns'] + 1}{extra}")
    req = urllib.request.Request(url, headers={"X-Scope-OrgID": "|".join(meta["tenants"])})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"query on port {port} answered {e.code}: {e.read()[:300]!r}") from None
    result = body["data"]["result"]
    if body["data"]["resultType"] == "streams":
        return {"entries": sum(len(s["values"]) for s in result), "series": len(result)}
    return {"series": len(result), "points": sum(len(s["values"]) for s in result),
            "sum": sum(float(v) for s in result for _, v in s["values"])}


def query_phase(dep, meta, repeats):
    out = {}
    for name, query, extra in query_defs(meta):
        runs = []
        answer = None
        for _ in range(repeats):
            c0 = cpu_snapshot(dep)
            t0 = time.monotonic()
            answer = run_query(dep.query_port, query, extra, meta)
            wall = time.monotonic() - t0
            runs.append({"wall_s": wall, **cpu_delta(c0, cpu_snapshot(dep))})
        n = len(runs)
        per = {k: sum(r["per_process_s"][k] for r in runs) / n for k in runs[0]["per_process_s"]}
        out[name] = {
            "query": query, "answer": answer, "runs": n,
            "wall_s_median": sorted(r["wall_s"] for r in runs)[n // 2],
            "sluice_cpu_s_mean": sum(r["sluice_s"] for r in runs) / n,
            "etcd_cpu_s_mean": sum(r["etcd_s"] for r in runs) / n,
            "per_process_cpu_s_mean": per,
        }
        log(f"{dep.name}: {name}: {out[name]['sluice_cpu_s_mean']:.3f} CPU-s, {answer}")
    return out


def run_deployment(dep, bin_dir, corpus_dir, meta, args):
    log(f"{dep.name}: starting")
    t0 = time.monotonic()
    dep.start()
    res = {"start_s": time.monotonic() - t0}
    res["idle"] = idle_phase(dep, args.idle_seconds)
    res["push"] = push_phase(bin_dir, dep, corpus_dir, meta, args)
    res["state_before_queries"] = ingester_state(dep)
    res["push_metrics"] = {k: v for k, v in metrics_of(dep.push_port).items()
                           if k in ("loki_distributor_lines_received_total", "loki_discarded_samples_total")}
    res["queries"] = query_phase(dep, meta, args.query_repeats)
    res["state_after_queries"] = ingester_state(dep)
    log(f"{dep.name}: stopping")
    res["stop_s"] = dep.stop()
    return res


# --- report ------------------------------------------------------------------------------------


def component_split(per_process):
    """Process CPU grouped by role: front door (distributor), ingesters, queriers."""
    groups = {"distributor": 0.0, "ingesters": 0.0, "queriers": 0.0, "etcd": 0.0}
    for name, v in per_process.items():
        if name == "sluice":
            continue
        key = ("ingesters" if name.startswith("ingester") else "queriers" if name.startswith("querier")
               else "etcd" if name == "etcd" else "distributor")
        groups[key] += v
    return groups


def ratio(a, b):
    return a / b if b > 0 else float("nan")


def section(r):
    d = r["deployments"]
    single = d["single"]
    lines = [SECTION + "\n"]
    lines.append("Written by `bench/cluster.py`: the same corpus pushed into three fresh deployments in one run. "
                 "The cluster runs on the same 2 cores as everything else (etcd, 3 ingesters, 1 querier, and the "
                 "front door: distributor + query frontend), so the figures are CPU cost, not scaling.\n")
    lines += run.provenance_lines(r)
    c = r["corpus"]
    lines.append(f"- corpus: {c['lines']:,} lines, {c['raw_bytes'] / MB:.0f} MB raw, {c['streams']:,} streams, "
                 f"{len(c['tenants'])} tenants, {c['lines_per_request']:,} lines a request (protobuf+snappy); "
                 f"{r['saturation_requests']} requests as fast as {r['connections']} connections go, then "
                 f"{r['fixed_requests']} at {r['rate']:g} req/s")
    lines.append(f"- settings: run.py's bench config for every process (zstd blocks, WAL fsync=batch, no rate "
                 f"limits, auth on); cluster queries sent to `{r['query_via']}`")
    lines.append(f"- wall time of the whole run: {r['elapsed_s'] / 60:.1f} min\n")

    names = [n for n in ("single", "rf1", "rf3") if n in d]
    heads = {"single": "single binary", "rf1": "3 ingesters, RF=1", "rf3": "3 ingesters, RF=3"}
    lines.append("| figure | " + " | ".join(heads[n] for n in names) + " |")
    lines.append("| --- |" + " --- |" * len(names))

    def row(label, fn):
        cells = [label, *(fn(d[n], n) for n in names)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")

    def vs_single(v, base):
        return f"{v:.2f} ({ratio(v, base):.2f}x)"

    row("ingest, saturation: sluice CPU-s per GB raw (x single)",
        lambda x, n: vs_single(x["push"]["cpu_s_per_gb"], single["push"]["cpu_s_per_gb"]))
    row("ingest, whole push: sluice CPU-s per GB raw (x single)",
        lambda x, n: vs_single(x["push"]["cpu_s_per_gb_push"], single["push"]["cpu_s_per_gb_push"]))
    row("ingest, whole push: etcd CPU-s per GB raw",
        lambda x, n: "-" if n == "single" else f"{x['push']['etcd_cpu_s_per_gb_push']:.3f}")

    def split(x, n):
        if n == "single":
            return "-"
        g = component_split(x["push"]["cpu_push"]["per_process_s"])
        gb = x["push"]["raw_bytes_push"] / GB
        return (f"distributor {g['distributor'] / gb:.2f}, ingesters {g['ingesters'] / gb:.2f}, "
                f"querier {g['queriers'] / gb:.2f}")

    row("ingest, whole push: CPU-s per GB by role", split)
    row("idle, before the push: CPU-s per second (sluice; etcd)",
        lambda x, n: f"{x['idle']['sluice_cpu_per_s']:.3f}" + ("" if n == "single" else
                                                              f"; {x['idle']['etcd_cpu_per_s']:.3f}"))
    row("throughput at saturation", lambda x, n: f"{x['push']['saturation']['raw_mb_per_s']:.1f} MB/s, "
        f"{x['push']['saturation']['requests_per_s']:.0f} req/s")
    row(f"push latency at {r['rate']:g} req/s: p50 / p99 ms",
        lambda x, n: f"{x['push']['fixed_rate']['latency_ms']['p50']:.2f} / "
                     f"{x['push']['fixed_rate']['latency_ms']['p99']:.2f}")
    row("ingesters before the queries: streams in memory, chunks flushed",
        lambda x, n: f"{x['state_before_queries']['memory_streams']:.0f}, "
                     f"{x['state_before_queries']['chunks_stored']:.0f}")
    for qn, label in (("needle_rare", "rare needle `|= \"<trace id>\"`"),
                      ("metric_count_by_level", "`sum by (level) (count_over_time([1m]))`")):
        base = single["queries"][qn]["sluice_cpu_s_mean"]
        row(f"query {label}: sluice CPU-s (x single)",
            lambda x, n, qn=qn, base=base: vs_single(x["queries"][qn]["sluice_cpu_s_mean"], base))
        row(f"query {label}: wall s, answer",
            lambda x, n, qn=qn: f"{x['queries'][qn]['wall_s_median']:.3f}, "
                                + ", ".join(f"{k} {v:,.0f}" for k, v in x["queries"][qn]["answer"].items()))
    lines.append("")

    if "rf3" in d:
        v = ratio(d["rf3"]["push"]["cpu_s_per_gb"], single["push"]["cpu_s_per_gb"])
        lines.append(f"Target (issue 11): RF=3 ingest CPU per GB at most 3.5x the single binary's: "
                     f"**{v:.2f}x, {'met' if v <= 3.5 else 'not met'}**.\n")
    for n in r.get("notes", []):
        lines.append(f"- {n}")
    if r.get("notes"):
        lines.append("")
    if r.get("analysis"):
        lines.append(r["analysis"].rstrip() + "\n")
    return "\n".join(lines) + "\n"




def notes(r):
    d = r["deployments"]
    out = []
    for n, x in d.items():
        if x["state_before_queries"]["chunks_stored"] or x["state_after_queries"]["chunks_stored"]:
            out.append(f"{n}: ingesters had flushed {x['state_after_queries']['chunks_stored']:.0f} chunks by the "
                       "end of the queries: part of that read came from the chunk store.")
        sat_rps = x["push"]["saturation"]["requests_per_s"]
        if r["rate"] > sat_rps / 2:
            out.append(f"{n}: {r['rate']:g} req/s is more than half of its saturation rate ({sat_rps:.0f} req/s): "
                       "its latency includes queueing.")
    single = d["single"]["queries"]
    for n, x in d.items():
        for qn, q in x["queries"].items():
            if q["answer"] != single[qn]["answer"]:
                out.append(f"**{n}: {qn} answered {q['answer']}, the single binary {single[qn]['answer']}**")
    if d["single"]["queries"]["needle_rare"]["answer"].get("entries") != r["corpus"]["needle_lines"]:
        out.append(f"**the needle query found {d['single']['queries']['needle_rare']['answer']} lines; the corpus "
                   f"holds {r['corpus']['needle_lines']}**")
    out.append("All queries ran right after the push, before any flush: every deployment answered from ingester "
               "memory (in the cluster, the querier reads every ingester over gRPC; at RF=3 each stream comes back "
               "3 times and is deduplicated).")
    out.append(f"CPU is utime+stime of every sluice process of the deployment (front door, ingesters, querier; "
               f"etcd apart) over the phase; query CPU is the mean of {r['query_repeats']} runs and includes the "
               "querier's and front door's idle loops for that time.")
    return out


# --- main --------------------------------------------------------------------------------------


def ensure_built(build_dir, build_type, targets=("sluice", "sluice-bench-corpus", "sluice-bench-load")):
    """Configures once, then a ninja no-op when up to date (as bench/run.sh builds)."""
    if not os.path.exists(os.path.join(build_dir, "build.ninja")):
        subprocess.run(["cmake", "-S", REPO, "-B", build_dir, "-G", "Ninja", f"-DCMAKE_BUILD_TYPE={build_type}",
                        "-DSLUICE_BENCH=ON", "-DSLUICE_WERROR=ON"], check=True, stdout=subprocess.DEVNULL,
                       timeout=600)
    subprocess.run(["ninja", f"-j{os.environ.get('SLUICE_BENCH_JOBS', '1')}", "-C", build_dir, *targets], check=True,
                   timeout=7200)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    ap.add_argument("--build-type", default="RelWithDebInfo")
    ap.add_argument("--no-build", action="store_true", help="use the binaries in --build-dir as they are")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--streams", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rate", type=float, default=50, help="req/s of the latency part (default 50: 10 MB/s)")
    ap.add_argument("--latency-share", type=float, default=0.3, help="share of the requests sent at --rate")
    ap.add_argument("--query-repeats", type=int, default=3)
    ap.add_argument("--idle-seconds", type=float, default=5, help="idle CPU measured after start, before the push")
    ap.add_argument("--port", type=int, default=23100,
                    help="first port: the single binary; clusters at +100 and +200 (keep below 32768)")
    ap.add_argument("--query-via", default=QUERY_VIA, help="cluster process that takes the queries (querier-1, "
                    "frontdoor)")
    ap.add_argument("--deployments", default="single,rf1,rf3")
    ap.add_argument("--server-flag", action="append", default=[], metavar="FLAG",
                    help="extra sluice flag for every process")
    ap.add_argument("--workdir", default=None, help="default: a new directory under $TMPDIR, removed at the end")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "RESULTS.md"),
                    help="the section 'Issue 11: cluster vs single binary' is replaced or added here")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--analysis", default=os.path.join(REPO, "bench", "CLUSTER_ANALYSIS.md"),
                    help="markdown appended to the section (profile notes on what the figures come from)")
    ap.add_argument("--render-only", default=None, metavar="JSON",
                    help="rewrite the section from a --json-out file of an earlier run")
    args = ap.parse_args()
    if args.render_only:
        with open(args.render_only) as f:
            r = json.load(f)
        r.pop("analysis", None)
        if os.path.exists(args.analysis):
            with open(args.analysis) as f:
                r["analysis"] = f.read()
        run.write_section(args.out, SECTION, section(r), before="## Reference tools on the corpus' raw lines")
        log(f"wrote the issue 11 section of {args.out} from {args.render_only}")
        return
    deployments = args.deployments.split(",")
    if "single" not in deployments:
        sys.exit("bench: --deployments needs single (every ratio is against it)")
    if args.port + 200 + 2 + 2 * (1 + INGESTERS + QUERIERS) > 32768:
        sys.exit("bench: --port too high: every port must stay below 32768 (the ephemeral range)")
    run.Server.EXTRA_FLAGS = args.server_flag
    if not args.no_build:
        ensure_built(args.build_dir, args.build_type)
    bin_dir = os.path.abspath(args.build_dir)
    binary = os.path.join(bin_dir, "sluice")
    for b in (binary, os.path.join(bin_dir, "sluice-bench-corpus"), os.path.join(bin_dir, "sluice-bench-load")):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench: {b} is missing")

    started = time.monotonic()
    workdir = args.workdir or tempfile.mkdtemp(prefix="sluice-cluster-bench-")
    os.makedirs(workdir, exist_ok=True)
    commit, dirty = run.git_info()
    r = {
        "command": " ".join(["bench/cluster.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit, "dirty": dirty, "machine": run.machine_info(), "build_type": args.build_type,
        "connections": args.connections, "rate": args.rate, "query_via": args.query_via,
        "query_repeats": args.query_repeats, "loadavg_start": list(os.getloadavg()), "deployments": {},
    }
    live = []
    try:
        corpus_dir = os.path.join(workdir, "corpus")
        log(f"corpus: {args.lines:,} lines, {args.streams:,} streams -> {corpus_dir}")
        end_ns = time.time_ns() // 10**9 * 10**9
        meta = run.run_json([os.path.join(bin_dir, "sluice-bench-corpus"), "--out", corpus_dir, "--lines",
                             str(args.lines), "--streams", str(args.streams), "--seed", str(args.seed),
                             "--end-ns", str(end_ns)], timeout=1800)
        r["corpus"] = meta
        r["saturation_requests"] = max(1, int(meta["requests"] * (1 - args.latency_share)))
        r["fixed_requests"] = meta["requests"] - r["saturation_requests"]
        for i, name in enumerate(("single", "rf1", "rf3")):
            if name not in deployments:
                continue
            port = args.port + 100 * i
            if name == "single":
                dep = Single(binary, workdir, port)
            else:
                dep = Cluster(binary, workdir, name, 1 if name == "rf1" else 3, port, args.query_via)
            live.append(dep)
            r["deployments"][name] = run_deployment(dep, bin_dir, corpus_dir, meta, args)
            live.remove(dep)
        r["loadavg_end"] = list(os.getloadavg())
        r["elapsed_s"] = time.monotonic() - started
        r["notes"] = notes(r)
        if os.path.exists(args.analysis):
            with open(args.analysis) as f:
                r["analysis"] = f.read()
        text = section(r)
        run.write_section(args.out, SECTION, text, before="## Reference tools on the corpus' raw lines")
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(r, f, indent=1, default=str)
        log(f"wrote the issue 11 section of {args.out} ({r['elapsed_s'] / 60:.1f} min)")
        print(text)
    finally:
        run.stop_each(live, lambda dep: dep.stop())
        run.finish_workdir(workdir, args)


if __name__ == "__main__":
    main()
