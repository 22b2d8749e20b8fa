#!/usr/bin/env python3
"""The sluice benchmark suite (issue 4): runs every end-to-end measurement and writes RESULTS.md.

bench/run.sh builds the binaries and calls this. Phases, each against a fresh server started
from the bench config (127.0.0.1, its own data directory, limits that never throttle):

  corpus     sluice-bench-corpus: the default corpus (1,000 streams, protobuf and JSON bodies)
             and a 10,000-stream corpus with the same number of lines
  reference  zstd -1, lz4 -1, zstd -d and grep -F over each corpus' raw lines, CPU from
             getrusage of the child
  ingest     protobuf pushes, 1,000 streams: 70% of the requests as fast as N connections go
             (saturation, CPU per GB), the rest at half that rate (push latency); peak RSS
  replay     kill -9, restart, time the WAL replay until /ready
  disk       /flush, wait until memory is empty, SIGTERM (final flush and checkpoint), du
  queries    restart, sluice-bench-query (log and metric queries over the whole range, answers
             checked against the corpus; 400 = "not supported yet")
  ingest10k  protobuf pushes, 10,000 streams
  json       JSON pushes, 1,000 streams

Server CPU is utime+stime from /proc/<pid>/stat, peak RSS is VmHWM from /proc/<pid>/status.
Every wait is bounded; only processes started here are signalled, by pid.
"""

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GB = 1e9
MB = 1e6


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- processes -------------------------------------------------------------------------------


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def du_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass
    return total


def apparent_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    return total


BENCH_CONFIG = """\
# Written by bench/run.py: sluice's defaults, except that nothing is rate-limited and the
# server listens on 127.0.0.1 only.
target: all
auth_enabled: true
server:
  http_listen_address: 127.0.0.1
  http_listen_port: {port}
  log_level: warn
common:
  path_prefix: {data}
ingester:
  chunk_encoding: zstd
  wal:
    enabled: true
    fsync: batch
    checkpoint_duration: 5m
limits_config:
  ingestion_rate_mb: 1000000
  ingestion_burst_size_mb: 1000000
  per_stream_rate_limit: 1GB
  per_stream_rate_limit_burst: 1GB
  max_global_streams_per_user: 1000000
  max_entries_limit_per_query: 100000
  max_query_series: 100000
  query_timeout: 10m
"""


STARTED = []  # every Server started, so a failure anywhere still stops them



LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def metrics_samples(url):
    """A /metrics page as (name, {label: value}, value) samples, one per line."""
    with urllib.request.urlopen(url, timeout=30) as r:
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name, _, labels = name_labels.partition("{")
        try:
            out.append((name, dict(LABEL_RE.findall(labels)), float(value)))
        except ValueError:
            pass
    return out


def metrics_at(url):
    """A /metrics page summed over label sets: {name: value}."""
    out = {}
    for name, _, value in metrics_samples(url):
        out[name] = out.get(name, 0.0) + value
    return out


class Server:
    """One sluice process on 127.0.0.1 with its own data directory."""

    # Extra command-line flags for every server (--server-flag), e.g. to compare knob settings.
    EXTRA_FLAGS = []

    def __init__(self, binary, workdir, name, port=None):
        self.binary = binary
        self.dir = os.path.join(workdir, name)
        self.data = os.path.join(self.dir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.port = port or free_port()
        self.config = os.path.join(self.dir, "sluice.yaml")
        with open(self.config, "w") as f:
            f.write(BENCH_CONFIG.format(port=self.port, data=self.data))
        self.proc = None
        self.logfile = None
        self.last_stop_s = None

    @property
    def pid(self):
        return self.proc.pid

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, ready_timeout=600):
        """Starts the process and waits for /ready; returns seconds until ready."""
        self.logfile = open(os.path.join(self.dir, "server.log"), "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.binary, f"-config.file={self.config}", *Server.EXTRA_FLAGS],
                                     stdout=self.logfile, stderr=subprocess.STDOUT)
        if self not in STARTED:
            STARTED.append(self)
        while time.monotonic() - t0 < ready_timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sluice exited with {self.proc.returncode}; see {self.dir}/server.log")
            try:
                with urllib.request.urlopen(self.url("/ready"), timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - t0
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"sluice not ready after {ready_timeout}s")

    def cpu(self):
        return proc_cpu_seconds(self.pid)

    def peak_rss_bytes(self):
        return proc_status_kb(self.pid, "VmHWM") * 1024

    def metrics(self):
        return metrics_at(self.url("/metrics"))

    def post(self, path, timeout=600):
        req = urllib.request.Request(self.url(path), data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status

    def stop(self, sig=signal.SIGTERM, timeout=300):
        """Signals our own process by pid and waits for it; SIGKILL if it does not exit."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        t0 = time.monotonic()
        try:
            self.proc.wait(timeout=timeout)
            self.last_stop_s = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            log(f"sluice pid {self.pid} did not exit within {timeout}s; killing it")
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.logfile:
            self.logfile.close()
        return self.proc.returncode


# --- tools -------------------------------------------------------------------------------------


def run_json(cmd, timeout):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stderr.strip()[:2000]}")
    return json.loads(r.stdout)


def child_cpu(cmd, stdin_path=None, stdout_path=os.devnull, timeout=600):
    """Runs cmd, returns (cpu seconds, wall seconds, stdout text if captured)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb") as fin:
        if stdout_path is None:
            r = subprocess.run(cmd, stdin=fin, capture_output=True, timeout=timeout)
            out = r.stdout.decode(errors="replace")
        else:
            with open(stdout_path, "wb") as fout:
                r = subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, timeout=timeout)
            out = ""
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 1):  # grep -c answers 1 for no match
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr!r}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall, out


def reference_tools(corpus_dir, needle, repeats):
    """CPU seconds of the reference tools over the corpus' lines file (best of `repeats`)."""
    lines = os.path.join(corpus_dir, "lines.txt")
    zst = os.path.join(corpus_dir, "lines.txt.zst")
    size = os.path.getsize(lines)
    with open(lines, "rb") as f:  # warm the page cache
        while f.read(1 << 24):
            pass
    tools = {
        "zstd -1": (["zstd", "-1", "-T1", "-q", "-c", lines], zst),
        "lz4 -1": (["lz4", "-1", "-q", "-c", lines], os.devnull),
        "zstd -d": (["zstd", "-d", "-T1", "-q", "-c", zst], os.devnull),
        "grep -F": (["grep", "-F", "-c", needle, lines], None),
    }
    out = {"bytes": size}
    for name, (cmd, dest) in tools.items():
        best = None
        for _ in range(repeats):
            cpu, wall, text = child_cpu(cmd, stdout_path=dest)
            if best is None or cpu < best[0]:
                best = (cpu, wall, text)
        entry = {"cpu_s": best[0], "wall_s": best[1], "mb_per_cpu_s": size / MB / max(best[0], 1e-9)}
        if name == "grep -F":
            entry["matches"] = int(best[2].strip() or 0)
        out[name] = entry
    out["zstd_ratio"] = size / max(1, os.path.getsize(zst))
    return out


def git_info():
    def git(*args):
        r = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else ""
    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return commit, dirty


def machine_info():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    return f"{os.cpu_count()} cores, {model or 'unknown CPU'}, {mem / 2**30:.0f} GiB RAM, {os.uname().release}"


def provenance_lines(r):
    """The command, date, commit and machine lines that head every results section."""
    la0, la1 = r["loadavg_start"], r["loadavg_end"]
    return [f"- command: `{r['command']}`",
            f"- date: {r['date']}",
            f"- commit: `{r['commit']}`{' (working tree has uncommitted changes)' if r['dirty'] else ''}",
            f"- machine: {r['machine']}; load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in la0)} at the "
            f"start, {'/'.join(f'{x:.1f}' for x in la1)} at the end"]


def write_section(path, heading, text, keep=None, before=None):
    """Replaces the section of RESULTS.md that starts with `heading` (up to the next '## ') by
    `text`. keep: a sub-heading written by hand under the old section, kept after the new text.
    A file without the section gets it before the heading `before`, or at the end."""
    old = open(path).read() if os.path.exists(path) else ""
    text = text.rstrip("\n") + "\n"
    if heading in old:
        start = old.index(heading)
        nxt = old.find("\n## ", start + len(heading))
        end = nxt + 1 if nxt >= 0 else len(old)
        kept = old.find(keep, start, end) if keep else -1
        if kept >= 0:
            text += "\n" + old[kept:end].rstrip("\n") + "\n"
        new = old[:start] + text + ("\n" + old[end:] if nxt >= 0 else "")
    elif before and before in old:
        i = old.index(before)
        new = old[:i] + text + "\n" + old[i:]
    else:
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def stop_each(things, stop):
    """Calls stop(thing) for each, logging a failure and going on to the next."""
    for thing in list(things):
        try:
            stop(thing)
        except Exception as e:  # keep stopping the others
            log(f"stopping {getattr(thing, 'name', thing)} failed: {e}")


def finish_workdir(workdir, args):
    """Removes a work directory this run created, unless --keep (then says where it is)."""
    if not args.keep and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    elif args.keep:
        log(f"kept {workdir}")


# --- phases ------------------------------------------------------------------------------------


def push(bin_dir, server, request_file, content_type, connections, first=0, count=None, rate=0,
         max_seconds=900):
    cmd = [os.path.join(bin_dir, "sluice-bench-load"), "--file", request_file, "--port", str(server.port),
           "--connections", str(connections), "--content-type", content_type, "--first", str(first),
           "--max-seconds", str(max_seconds), "--rate", str(rate)]
    if count is not None:
        cmd += ["--count", str(count)]
    return run_json(cmd, timeout=max_seconds + 120)


def check_push(summary, what):
    bad = {k: v for k, v in summary["statuses"].items() if not k.startswith("2")}
    if bad:
        raise RuntimeError(f"{what}: non-2xx answers {bad}; first error: {summary['first_error']}")


def wait_flushed(server, timeout):
    """Waits until memory holds no stream, or (if streams linger) until no chunk was stored for 5 s."""
    t0 = time.monotonic()
    last, last_change = -1.0, t0
    while time.monotonic() - t0 < timeout:
        m = server.metrics()
        if m.get("loki_ingester_memory_streams", 0.0) == 0:
            return time.monotonic() - t0, "memory empty"
        stored = m.get("loki_ingester_chunks_stored_total", 0.0)
        if stored != last:
            last, last_change = stored, time.monotonic()
        elif stored > 0 and time.monotonic() - last_change > 5:
            return time.monotonic() - t0, "no chunk stored for 5 s"
        time.sleep(0.25)
    raise RuntimeError(f"timed out after {timeout}s waiting for the flush")


def ingest_phase(bin_dir, binary, workdir, name, corpus_dir, request_file, content_type, connections,
                 half_rate_share=0.0):
    """Pushes a request file into a fresh server. Returns (server still running, results)."""
    meta = json.load(open(os.path.join(corpus_dir, "corpus.json")))
    server = Server(binary, workdir, name)
    server.start()
    res = {"corpus": meta}
    total = meta["requests"]
    sat_count = total if half_rate_share <= 0 else max(1, int(total * (1 - half_rate_share)))
    cpu0 = server.cpu()
    log(f"{name}: pushing {sat_count} requests with {connections} connections")
    sat = push(bin_dir, server, request_file, content_type, connections, 0, sat_count)
    check_push(sat, name)
    cpu1 = server.cpu()
    res["saturation"] = sat
    res["cpu_s"] = cpu1 - cpu0
    res["raw_bytes"] = sat["raw_bytes_ok"]
    res["cpu_s_per_gb"] = res["cpu_s"] / (sat["raw_bytes_ok"] / GB)
    log(f"{name}: {sat['lines_per_s']:.0f} lines/s, {sat['raw_mb_per_s']:.1f} MB/s, "
        f"{res['cpu_s_per_gb']:.2f} CPU-s/GB")
    if half_rate_share > 0 and sat_count < total:
        rate = sat["requests_per_s"] / 2
        log(f"{name}: pushing the other {total - sat_count} requests at {rate:.1f} req/s (half saturation)")
        half = push(bin_dir, server, request_file, content_type, connections, sat_count, total - sat_count,
                    rate=rate)
        check_push(half, name + " half rate")
        res["half_rate"] = half
        res["raw_bytes_total"] = sat["raw_bytes_ok"] + half["raw_bytes_ok"]
        res["lines_total"] = sat["lines_ok"] + half["lines_ok"]
    else:
        res["raw_bytes_total"] = sat["raw_bytes_ok"]
        res["lines_total"] = sat["lines_ok"]
    res["cpu_s_total"] = server.cpu() - cpu0
    res["peak_rss_bytes"] = server.peak_rss_bytes()
    m = server.metrics()
    res["discarded_lines"] = m.get("loki_discarded_samples_total", 0.0)
    return server, res


def replay_and_disk_phase(server, res):
    """kill -9, replay, flush, SIGTERM, du. Returns the data directory's sizes and replay figures."""
    wal_dir = os.path.join(server.data, "wal")
    res["wal_bytes_before_kill"] = apparent_bytes(wal_dir)
    log("replay: kill -9 and restart")
    server.stop(signal.SIGKILL, timeout=30)
    cpu_before = 0.0
    ready_s = server.start()
    res["replay_ready_s"] = ready_s
    res["replay_cpu_s"] = server.cpu() - cpu_before
    m = server.metrics()
    res["replay_duration_metric_s"] = m.get("loki_ingester_wal_replay_duration_seconds", 0.0)
    res["replay_recovered_bytes"] = m.get("loki_ingester_wal_recovered_bytes_total", 0.0)
    res["replay_recovered_entries"] = m.get("loki_ingester_wal_recovered_entries_total", 0.0)
    res["replay_peak_rss_bytes"] = server.peak_rss_bytes()
    log(f"replay: ready after {ready_s:.2f}s ({res['replay_recovered_entries']:.0f} entries)")

    log("disk: /flush and wait for memory to empty")
    cpu_before_flush = server.cpu()
    server.post("/flush")
    res["flush_wait_s"], res["flush_done_by"] = wait_flushed(server, 300)
    res["flush_cpu_s"] = server.cpu() - cpu_before_flush
    log("disk: SIGTERM (final flush and checkpoint)")
    rc = server.stop(signal.SIGTERM, timeout=300)
    res["sigterm_exit_code"] = rc
    res["sigterm_s"] = server.last_stop_s
    chunks = os.path.join(server.data, "chunks")
    res["disk"] = {
        "total": du_bytes(server.data),
        "wal": du_bytes(wal_dir),
        "chunks_and_index": du_bytes(chunks),
        "apparent_total": apparent_bytes(server.data),
    }
    index_bytes = 0
    for root, _, files in os.walk(chunks):
        if "index" in os.path.relpath(root, chunks).split(os.sep):
            index_bytes += sum(os.lstat(os.path.join(root, f)).st_size for f in files)
    res["disk"]["index_apparent"] = index_bytes


def query_phase(bin_dir, server, corpus_dir, repeats):
    server.start()
    log("queries: running the default set")
    q = run_json([os.path.join(bin_dir, "sluice-bench-query"), "--corpus", os.path.join(corpus_dir, "corpus.json"),
                  "--port", str(server.port), "--pid", str(server.pid), "--repeat", str(repeats)], timeout=3600)
    server.stop(signal.SIGTERM, timeout=300)
    return q


# --- report ------------------------------------------------------------------------------------


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}x"


def build_rows(r):
    """(area, figure, value text, reference text, ratio, target text, met) rows."""
    rows = []
    ref1k = r["reference"]["1k"]
    ref10k = r["reference"].get("10k", ref1k)
    zstd_gb = ref1k["zstd -1"]["cpu_s"] / (ref1k["bytes"] / GB)
    zstd10k_gb = ref10k["zstd -1"]["cpu_s"] / (ref10k["bytes"] / GB)
    scan_ref_gb = (ref1k["zstd -d"]["cpu_s"] + ref1k["grep -F"]["cpu_s"]) / (ref1k["bytes"] / GB)

    ing = r.get("ingest")
    if ing:
        v = ing["cpu_s_per_gb"]
        ratio = v / zstd_gb
        rows.append(("ingest", "protobuf+snappy, 1,000 streams: server CPU-s per GB raw",
                     f"{v:.2f}", f"zstd -1: {zstd_gb:.2f}", ratio, "<= 2x zstd -1 (stretch 1.1x)", ratio <= 2.0))
        sat = ing["saturation"]
        rows.append(("ingest", "throughput at saturation (4 connections, 2 shared cores)",
                     f"{sat['raw_mb_per_s']:.1f} MB/s, {sat['lines_per_s']:,.0f} lines/s", "", None, "(info)", None))
        rss = ing["peak_rss_bytes"] / MB
        rows.append(("ingest", f"peak RSS while pushing ({r['lines']:,} lines, 1,000 streams)", f"{rss:.0f} MB", "",
                     None, "< 200 MB (at 4M lines)", rss < 200))
        if "half_rate" in ing:
            h = ing["half_rate"]
            p99 = h["latency_ms"]["p99"] if h["latency_ms"] else None
            rows.append(("ingest", f"push p99 latency at half saturation ({h['rate']:.1f} req/s)",
                         f"{p99:.2f} ms (p50 {h['latency_ms']['p50']:.2f})" if p99 is not None else "n/a", "", None,
                         "< 10 ms", p99 is not None and p99 < 10))
    ing10 = r.get("ingest10k")
    if ing10:
        v = ing10["cpu_s_per_gb"]
        ratio = v / zstd10k_gb
        rows.append(("ingest", "protobuf+snappy, 10,000 streams: server CPU-s per GB raw", f"{v:.2f}",
                     f"zstd -1: {zstd10k_gb:.2f}", ratio, "<= 3x zstd -1", ratio <= 3.0))
        rss = ing10["peak_rss_bytes"] / MB
        rows.append(("ingest", f"peak RSS while pushing ({r['lines']:,} lines, 10,000 streams)", f"{rss:.0f} MB", "",
                     None, "< 500 MB (at 4M lines)", rss < 500))
    js = r.get("json")
    if js and ing:
        v = js["cpu_s_per_gb"]
        ratio = v / ing["cpu_s_per_gb"]
        rows.append(("ingest", "JSON pushes, 1,000 streams: server CPU-s per GB raw", f"{v:.2f}",
                     f"protobuf: {ing['cpu_s_per_gb']:.2f}", ratio, "<= 1.5x protobuf", ratio <= 1.5))
    if ing and "disk" in ing:
        d = ing["disk"]
        per_gb = d["total"] / MB / (ing["raw_bytes_total"] / GB)
        zstd_per_gb = 1000 / ref1k["zstd_ratio"]
        rows.append(("storage", "disk after flush + checkpoint, MB per GB raw (chunks, index, WAL)",
                     f"{per_gb:.0f} (WAL {d['wal'] / MB:.1f} MB, index {d['index_apparent'] / MB:.2f} MB)",
                     f"zstd -1 whole file: {zstd_per_gb:.0f}", per_gb / zstd_per_gb, "<= 150", per_gb <= 150))
    if ing and "flush_wait_s" in ing:
        rows.append(("storage", "POST /flush until memory is empty; then SIGTERM until exit (1,000 streams)",
                     f"{ing['flush_wait_s']:.1f} s; {ing.get('sigterm_s') or 0:.1f} s", "", None, "(info)", None))
    if ing and "flush_cpu_s" in ing:
        rows.append(("storage", "POST /flush (recompaction at the flush level, blooms, upload): server CPU-s per GB raw",
                     f"{ing['flush_cpu_s'] / (ing['raw_bytes_total'] / GB):.2f}",
                     f"zstd -1: {zstd_gb:.2f}",
                     None, "(info)", None))
    if ing10 and ing10.get("sigterm_s") is not None:
        rows.append(("storage", "SIGTERM until exit, flushing every chunk (10,000 streams)",
                     f"{ing10['sigterm_s']:.1f} s", "", None, "(info)", None))
    if ing and "replay_ready_s" in ing:
        secs = ing["replay_duration_metric_s"] or ing["replay_ready_s"]
        # Only what the WAL still held counts: a memory-pressure flush followed by a checkpoint
        # leaves less to replay than was pushed (lines are the same size on average).
        replayed = ing["raw_bytes_total"]
        if ing.get("lines_total"):
            replayed *= min(1.0, ing["replay_recovered_entries"] / ing["lines_total"])
        mbps = replayed / MB / secs
        rows.append(("durability", "WAL replay, MB raw per second (kill -9, restart until /ready)",
                     f"{mbps:.0f} ({replayed / MB:.0f} MB in {secs:.2f} s, {ing['replay_cpu_s']:.2f} CPU-s)",
                     "", None, ">= 500 MB/s", mbps >= 500))

    queries = {q["name"]: q for q in r.get("queries", [])}
    scan = queries.get("scan_literal")
    if scan and scan["supported"] and scan["server_cpu_s_mean"] > 0:
        gbps = scan["scanned_bytes"] / GB / scan["server_cpu_s_mean"]
        server_gb = scan["server_cpu_s_mean"] / (scan["scanned_bytes"] / GB)
        rows.append(("query", "full-scan literal `|= marker` (every block holds it): GB raw per CPU-s",
                     f"{gbps:.2f}" + ("" if scan["correct"] else " (WRONG ANSWER)"),
                     f"zstd -d + grep -F: {1 / scan_ref_gb:.2f}", server_gb / scan_ref_gb, ">= 1 GB/CPU-s",
                     gbps >= 1.0 and scan["correct"] is not False))
    needle = queries.get("needle_rare")
    if needle and needle["supported"] and needle["server_cpu_s_mean"] > 0:
        gbps = needle["scanned_bytes"] / GB / needle["server_cpu_s_mean"]
        rows.append(("query", "rare needle `|= <trace id>` (3 lines): GB raw per CPU-s",
                     f"{gbps:.2f}" + ("" if needle["correct"] else " (WRONG ANSWER)"),
                     "Loki 2.9: 0.28", None, "(info)", None))
        if scan and scan["supported"] and scan["server_cpu_s_mean"] > 0:
            share = needle["server_cpu_s_mean"] / scan["server_cpu_s_mean"]
            rows.append(("query", "rare needle cost / full-scan cost", f"{share:.2f}", "", None, "< 0.05",
                         share < 0.05))
        b = needle.get("blocks") or {}
        if b.get("total"):
            share = b.get("decompressed_total", 0) / b["total"]
            rows.append(("query", "rare needle: share of blocks touched (decompressed / in range)",
                         f"{share:.1%} ({b.get('decompressed_total', 0):,.0f} of {b['total']:,.0f}; skipped by bloom "
                         f"{b.get('skipped_by_bloom_total', 0):,.0f}, searched in vain "
                         f"{b.get('skipped_by_scan_total', 0):,.0f})",
                         "", None, "< 10%", share < 0.10))
        else:
            rows.append(("query", "rare needle: share of blocks touched", "not measured: the server exports no "
                         "sluice_query_blocks_* counters", "", None, "< 10%", False))
    for name, label, target_gb in (
            ("metric_count_by_level", "sum by (level) (count_over_time([1m])), label-only", 1.0),
            ("metric_rate_by_job", "sum by (job) (rate([5m])), label-only", 1.0),
            ("metric_json_quantile", "quantile_over_time(json | unwrap)", 0.3),
            ("metric_logfmt_quantile", "quantile_over_time(logfmt | unwrap)", 0.3)):
        q = queries.get(name)
        if not q:
            continue
        target = f">= {target_gb:g} GB/CPU-s" if target_gb >= 1 else f">= {target_gb * 1000:.0f} MB/CPU-s"
        if not q["supported"]:
            rows.append(("query", label, f"not supported yet (HTTP {q['status']})", "Loki 2.9: 0.095", None, target,
                         False))
            continue
        gbps = q["scanned_bytes"] / GB / max(q["server_cpu_s_mean"], 1e-9)
        server_gb = q["server_cpu_s_mean"] / (q["scanned_bytes"] / GB)
        rows.append(("query", label + ": GB raw per CPU-s", f"{gbps:.2f}", f"zstd -d + grep -F: {1 / scan_ref_gb:.2f}",
                     server_gb / scan_ref_gb, target, gbps >= target_gb))
    return rows


def write_results(path, r):
    rows = build_rows(r)
    ref = r["reference"]["1k"]
    lines = []
    lines.append("# sluice benchmark results\n")
    lines.append("Written by `bench/run.sh` (issue 4). Regenerate with the command below; every figure comes from "
                 "one run, and every ratio compares sluice with a reference tool run on the same bytes in that "
                 "same run.\n")
    lines.append(f"- command: `{r['command']}`")
    lines.append(f"- date: {r['date']}")
    lines.append(f"- commit: `{r['commit']}`{' (working tree has uncommitted changes)' if r['dirty'] else ''}")
    load = ""
    if r.get("loadavg_start") and r.get("loadavg_end"):
        load = (f"; load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in r['loadavg_start'])} at the start, "
                f"{'/'.join(f'{x:.1f}' for x in r['loadavg_end'])} at the end")
    lines.append(f"- machine: {r['machine']}{load}")
    lines.append(f"- build: {r['build_type']}; server config: sluice defaults (zstd blocks, WAL fsync=batch), "
                 "no rate limits, auth on, 2 tenants")
    c = r["corpus_1k"]
    lines.append(f"- corpus: {c['lines']:,} lines, {c['raw_bytes'] / MB:.0f} MB raw (lines {c['min_line_len']}-"
                 f"{c['max_line_len']} bytes, mean {c['mean_line_len']}), {c['streams']:,} streams, "
                 f"{len(c['tenants'])} tenants, 2 h of timestamps, {c['lines_per_request']:,} lines a request, "
                 f"{r['connections']} connections; 10,000-stream corpus: same line count and seed")
    lines.append(f"- wall time of the whole run: {r['elapsed_s'] / 60:.1f} min\n")

    lines.append("## Targets\n")
    lines.append("| area | figure | sluice | reference (same run) | ratio | target | met? |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for area, fig, val, refv, ratio, target, met in rows:
        mark = "" if met is None else ("yes" if met else "**no**")
        cells = [area, fig, val, refv, fmt_ratio(ratio), target, mark]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    lines.append("")

    lines.append("## Reference tools on the corpus' raw lines\n")
    lines.append("| tool | input | CPU s | MB per CPU-s |")
    lines.append("| --- | --- | --- | --- |")
    for key, name in (("1k", "1,000-stream corpus"), ("10k", "10,000-stream corpus")):
        rr = r["reference"].get(key)
        if not rr:
            continue
        for tool in ("zstd -1", "lz4 -1", "zstd -d", "grep -F"):
            t = rr[tool]
            lines.append(f"| `{tool}` | {name}, {rr['bytes'] / MB:.0f} MB | {t['cpu_s']:.3f} | {t['mb_per_cpu_s']:.0f} |")
    lines.append(f"\n`zstd -1` ratio on the corpus: {ref['zstd_ratio']:.2f} (issue 4's reference corpus: about 7).\n")

    lines.append("## Ingest runs\n")
    lines.append("| run | requests | lines/s | MB/s | server CPU s | CPU-s per GB | peak RSS MB | statuses |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for key, name in (("ingest", "protobuf, 1,000 streams (saturation)"), ("ingest10k", "protobuf, 10,000 streams"),
                      ("json", "JSON, 1,000 streams")):
        x = r.get(key)
        if not x:
            continue
        s = x["saturation"]
        lines.append(f"| {name} | {s['requests_ok']} | {s['lines_per_s']:,.0f} | {s['raw_mb_per_s']:.1f} | "
                     f"{x['cpu_s']:.2f} | {x['cpu_s_per_gb']:.2f} | {x['peak_rss_bytes'] / MB:.0f} | "
                     f"{s['statuses']} |")
    if r.get("ingest", {}).get("half_rate"):
        h = r["ingest"]["half_rate"]
        lat = h["latency_ms"]
        fs = h["latency_from_schedule_ms"]
        lines.append(f"\nHalf-saturation run: {h['requests_ok']} requests at {h['rate']:.1f} req/s; latency ms "
                     f"p50 {lat['p50']:.2f}, p90 {lat['p90']:.2f}, p99 {lat['p99']:.2f}, max {lat['max']:.2f} "
                     f"(from the scheduled send time: p99 {fs['p99']:.2f}).")
    lines.append("")

    if r.get("queries"):
        lines.append("## Queries (whole corpus range, both tenants)\n")
        lines.append("| name | query | status | wall s (median) | server CPU s | returned | expected | correct |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for q in r["queries"]:
            got = q["entries"] if not q["metric"] else f"{q['series']} series, {q['points']} points"
            status = q["status"] if q["supported"] else f"{q['status']}: {q['error'][:60]}"
            exp = "" if q["expected_entries"] < 0 else q["expected_entries"]
            corr = "" if q["correct"] is None else ("yes" if q["correct"] else "**no**")
            query = q["query"].replace("|", "\\|")
            lines.append(f"| {q['name']} | `{query}` | {status} | {q['wall_s_median']:.3f} | "
                         f"{q['server_cpu_s_mean']:.3f} | {got} | {exp} | {corr} |")
        lines.append("")

    if r.get("notes"):
        lines.append("## Notes\n")
        for n in r["notes"]:
            lines.append(f"- {n}")
        lines.append("")
    if r.get("analysis"):
        lines.append("## Where the time goes\n")
        lines.append(r["analysis"].rstrip() + "\n")
    lines.append("## How to run\n")
    lines.append("```sh\nbench/run.sh                 # default: 1,000,000 lines, about 3-5 minutes on 2 cores\n"
                 "bench/run.sh --full          # issue 4's 4,000,000-line corpus (about 4x longer)\n"
                 "bench/run.sh --lines 200000  # a quick look\n"
                 "bench/micro.sh               # every Google Benchmark micro-benchmark in full\n```\n")
    with open(path, "w") as f:
        f.write("\n".join(lines))


# --- main --------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"))
    ap.add_argument("--build-type", default="RelWithDebInfo")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--full", action="store_true", help="issue 4's corpus size: 4,000,000 lines")
    ap.add_argument("--streams-high", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--query-repeats", type=int, default=3)
    ap.add_argument("--tool-repeats", type=int, default=2)
    ap.add_argument("--workdir", default=None, help="default: a new directory under $TMPDIR, removed at the end")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--server-flag", action="append", default=[], metavar="FLAG",
                    help="extra sluice flag for every server, e.g. -ingester.chunk-flush-compression-level=1")
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: ingest10k,json,queries,replay")
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "RESULTS.md"))
    ap.add_argument("--json-out", default=None, help="also write every raw figure as JSON here")
    ap.add_argument("--analysis", default=os.path.join(REPO, "bench", "ANALYSIS.md"),
                    help="markdown appended to RESULTS.md under 'Where the time goes' (if it exists)")
    ap.add_argument("--render-only", default=None, metavar="JSON",
                    help="rewrite --out from a --json-out file of an earlier run (e.g. after editing ANALYSIS.md)")
    args = ap.parse_args()
    Server.EXTRA_FLAGS = args.server_flag
    if args.render_only:
        with open(args.render_only) as f:
            r = json.load(f)
        if os.path.exists(args.analysis):
            with open(args.analysis) as f:
                r["analysis"] = f.read()
        write_results(args.out, r)
        log(f"wrote {args.out} from {args.render_only}")
        return
    if args.full:
        args.lines = 4_000_000
    skip = set(filter(None, args.skip.split(",")))
    for tool in ("zstd", "lz4", "grep"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is not installed (apt-get install -y zstd lz4)")
    bin_dir = args.build_dir
    binary = os.path.join(bin_dir, "sluice")
    for b in (binary, *(os.path.join(bin_dir, f"sluice-bench-{t}") for t in ("corpus", "load", "query"))):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench: {b} is missing; run bench/run.sh (it builds first)")

    started = time.monotonic()
    workdir = args.workdir or tempfile.mkdtemp(prefix="sluice-bench-")
    os.makedirs(workdir, exist_ok=True)
    commit, dirty = git_info()
    r = {
        "command": os.environ.get("SLUICE_BENCH_COMMAND") or " ".join(["bench/run.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit, "dirty": dirty, "machine": machine_info(), "build_type": args.build_type,
        "lines": args.lines, "connections": args.connections, "reference": {}, "notes": [],
        "loadavg_start": list(os.getloadavg()),
    }
    try:
        end_ns = time.time_ns() // 10**9 * 10**9
        corpus = {}
        for key, streams, extra in (("1k", 1000, ["--json"]), ("10k", args.streams_high, [])):
            if key == "10k" and "ingest10k" in skip:
                continue
            d = os.path.join(workdir, f"corpus-{key}")
            log(f"corpus: {args.lines:,} lines, {streams:,} streams -> {d}")
            t0 = time.monotonic()
            corpus[key] = run_json([os.path.join(bin_dir, "sluice-bench-corpus"), "--out", d, "--lines",
                                    str(args.lines), "--streams", str(streams), "--seed", str(args.seed),
                                    "--end-ns", str(end_ns), *extra], timeout=3600)
            log(f"corpus: {corpus[key]['raw_bytes'] / MB:.0f} MB raw in {time.monotonic() - t0:.1f}s")
        r["corpus_1k"] = corpus["1k"]

        for key in corpus:
            log(f"reference tools on corpus-{key}")
            r["reference"][key] = reference_tools(os.path.join(workdir, f"corpus-{key}"), corpus[key]["needle"],
                                                  args.tool_repeats)
            grep_matches = r["reference"][key]["grep -F"]["matches"]
            if corpus[key]["needle_lines"] is not None and grep_matches != corpus[key]["needle_lines"]:
                r["notes"].append(f"grep -F found the needle {grep_matches} times in corpus-{key}; the generator "
                                  f"says {corpus[key]['needle_lines']}")

        c1 = os.path.join(workdir, "corpus-1k")
        server, r["ingest"] = ingest_phase(bin_dir, binary, workdir, "server-1k", c1, os.path.join(c1, "push.pb"),
                                           "application/x-protobuf", args.connections, half_rate_share=0.3)
        if "replay" not in skip:
            replay_and_disk_phase(server, r["ingest"])
        else:
            server.stop(signal.SIGTERM)
        if "queries" not in skip:
            r["queries"] = query_phase(bin_dir, server, c1, args.query_repeats)

        if "ingest10k" not in skip:
            c10 = os.path.join(workdir, "corpus-10k")
            s, r["ingest10k"] = ingest_phase(bin_dir, binary, workdir, "server-10k", c10,
                                             os.path.join(c10, "push.pb"), "application/x-protobuf",
                                             args.connections)
            s.stop(signal.SIGTERM)
            r["ingest10k"]["sigterm_s"] = s.last_stop_s
        if "json" not in skip:
            s, r["json"] = ingest_phase(bin_dir, binary, workdir, "server-json", c1, os.path.join(c1, "push.json"),
                                        "application/json", args.connections)
            s.stop(signal.SIGTERM)
            r["json"]["sigterm_s"] = s.last_stop_s

        for key in ("ingest", "ingest10k", "json"):
            if r.get(key, {}).get("discarded_lines"):
                r["notes"].append(f"{key}: the server discarded {r[key]['discarded_lines']:.0f} lines")
        r["notes"].append("CPU figures are the server process' utime+stime over the phase (all threads, "
                          "background loops included); reference tools are timed by getrusage, best of "
                          f"{args.tool_repeats}, single-threaded (`-T1`).")
        r["notes"].append("The machine's 2 cores are shared with other work: CPU-second ratios are robust to "
                          "that, wall-clock figures (throughput, latency) are not.")
        if args.lines < 4_000_000:
            r["notes"].append(f"Peak RSS targets are stated for the 4M-line corpus; this run pushed {args.lines:,} "
                              "lines (`--full` for 4M).")
        if any(q["metric"] and not q["supported"] for q in r.get("queries", [])):
            r["notes"].append("Metric queries answer 400 until the LogQL engine lands; the runner then measures "
                              "them with no change.")
        r["loadavg_end"] = list(os.getloadavg())
        if os.path.exists(args.analysis):
            with open(args.analysis) as f:
                r["analysis"] = f.read()
        r["elapsed_s"] = time.monotonic() - started
        write_results(args.out, r)
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(r, f, indent=1, default=str)
        log(f"wrote {args.out} ({r['elapsed_s'] / 60:.1f} min)")
        with open(args.out) as f:
            print(f.read())
    finally:
        for s in STARTED:
            if s.proc is not None and s.proc.poll() is None:
                s.stop(signal.SIGTERM, timeout=60)
        finish_workdir(workdir, args)


if __name__ == "__main__":
    main()
