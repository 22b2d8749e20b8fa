#!/usr/bin/env python3
"""Agent throughput benchmark: `sluice agent` shipping the benchmark corpus into a real sluice.

    bench/agent/run.py [--sluice build-bench/sluice] [--corpus-bin build-bench/sluice-bench-corpus]
                       [--lines 1000000] [--files 20] [--out bench/agent/RESULTS.md]

The corpus' lines.txt (sluice-bench-corpus, the same generator as bench/run.py; a built-in
generator of the same shape when the tool is not built) is split round-robin into --files log
files before the agent starts, so the agent ships a backlog from disk as fast as it can: the
figure is its sustained rate, bounded by its own CPU, the server, or both (the server's CPU is
reported next to it). Reported: lines/s and MB/s (raw line bytes) from the agent's first
acknowledged push to its last, the agent's CPU (utime + stime from /proc/<pid>/stat) per GB
shipped, its peak RSS (VmHWM), and the server's CPU over the same time.

Everything runs on 127.0.0.1 with free ports, in a temporary directory that is removed at the
end (--keep keeps it); only processes this script started are signalled, by pid; every wait is
bounded.
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLK_TCK = os.sysconf("SC_CLK_TCK")

SERVER_CONFIG = """server:
  http_listen_address: 127.0.0.1
  http_listen_port: {port}
  log_level: warn
common:
  path_prefix: {data}
ingester:
  wal:
    fsync: batch
limits_config:
  ingestion_rate_mb: 1000000
  ingestion_burst_size_mb: 1000000
  per_stream_rate_limit: 1GB
  per_stream_rate_limit_burst: 1GB
  max_global_streams_per_user: 1000000
  max_line_size: 256KB
"""

AGENT_CONFIG = """server: {{http_listen_address: 127.0.0.1, http_listen_port: {port}, log_level: warn}}
client:
  url: http://127.0.0.1:{server_port}/loki/api/v1/push
  batch_size: {batch_size}
  batch_wait: 1s
  max_inflight: {inflight}
positions: {{filename: {positions}, fsync: {fsync}}}
limits: {{memory_limit: 64MB}}
reader: {{poll_interval: 100ms, scan_period: 1s}}
scrape_configs:
  - job_name: bench
    files: ["{logdir}/*.log"]
    labels: {{job: bench}}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(fn, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if fn():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def synthetic_lines(n, seed=1):
    """Lines shaped like the corpus (nginx, JSON, logfmt; 111-297 bytes) when its tool is absent."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 5
        if kind < 2:
            line = (f'10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)} - - '
                    f'[24/Nov/2026:08:00:{i % 60:02d} +0000] "GET /api/v1/items/{rnd.randrange(10**6)} HTTP/1.1" '
                    f'{rnd.choice([200, 200, 200, 404, 500])} {rnd.randrange(10**5)} "-" "Mozilla/5.0"')
        elif kind < 4:
            line = json.dumps({"level": rnd.choice(["debug", "info", "warn", "error"]), "msg": "request handled",
                               "trace_id": "%032x" % rnd.getrandbits(128), "duration_ms": rnd.randrange(1000),
                               "user": rnd.randrange(10**6)})
        else:
            line = (f'ts=2026-11-24T08:00:00Z level=info caller=worker.go:{rnd.randrange(999)} '
                    f'msg="job done" job_id={rnd.randrange(10**9)} duration={rnd.random():.3f}s')
        out.append(line[:297].ljust(111, "."))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sluice", default=None)
    ap.add_argument("--corpus-bin", default=None)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--inflight", type=int, default=4)
    ap.add_argument("--batch-size", default="1MB")
    ap.add_argument("--fsync", default="true", choices=["true", "false"])
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--out", default=None, help="also write the markdown summary here")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    sluice = args.sluice or next((p for p in (os.path.join(REPO, d, "sluice") for d in ("build-bench", "build"))
                                  if os.access(p, os.X_OK)), None)
    if not sluice:
        sys.exit("no sluice binary: build it (scripts/build.sh build) or pass --sluice")
    corpus_bin = args.corpus_bin or os.path.join(os.path.dirname(sluice), "sluice-bench-corpus")

    work = tempfile.mkdtemp(prefix="sluice-agent-bench-")
    procs = []
    try:
        # The corpus, split into log files.
        corpus_dir = os.path.join(work, "corpus")
        if os.access(corpus_bin, os.X_OK):
            subprocess.run([corpus_bin, "--out", corpus_dir, "--lines", str(args.lines)], check=True,
                           stdout=subprocess.DEVNULL)
            with open(os.path.join(corpus_dir, "lines.txt")) as f:
                lines = f.read().splitlines()
            source = "sluice-bench-corpus"
        else:
            lines = synthetic_lines(args.lines)
            source = "built-in generator"
        logdir = os.path.join(work, "logs")
        os.makedirs(logdir)
        files = [open(os.path.join(logdir, f"app{i}.log"), "w") for i in range(args.files)]
        raw_bytes = 0
        for i, line in enumerate(lines):
            files[i % args.files].write(line + "\n")
            raw_bytes += len(line)
        for f in files:
            f.close()
        n = len(lines)
        del lines

        # The server.
        port = free_port()
        sdir = os.path.join(work, "server")
        os.makedirs(os.path.join(sdir, "data"))
        with open(os.path.join(sdir, "config.yaml"), "w") as f:
            f.write(SERVER_CONFIG.format(port=port, data=os.path.join(sdir, "data")))
        server = subprocess.Popen([sluice, f"-config.file={os.path.join(sdir, 'config.yaml')}"],
                                  stdout=subprocess.DEVNULL, stderr=open(os.path.join(sdir, "stderr"), "w"))
        procs.append(server)
        wait_until(lambda: get(f"http://127.0.0.1:{port}/ready", 1).startswith("ready"), 60, "sluice /ready")

        # The agent.
        aport = free_port()
        acfg = os.path.join(work, "agent.yaml")
        with open(acfg, "w") as f:
            f.write(AGENT_CONFIG.format(port=aport, server_port=port, batch_size=args.batch_size,
                                        inflight=args.inflight, positions=os.path.join(work, "positions"),
                                        fsync=args.fsync, logdir=logdir))
        server_cpu0 = cpu_seconds(server.pid)
        t_start = time.monotonic()
        agent = subprocess.Popen([sluice, "agent", f"-config.file={acfg}"], stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(work, "agent.stderr"), "w"))
        procs.append(agent)
        murl = f"http://127.0.0.1:{aport}/metrics"
        wait_until(lambda: metric(get(murl), "sluice_agent_sent_lines_total") > 0, 60, "first push")
        t_first = time.monotonic()
        sent_first = metric(get(murl), "sluice_agent_sent_bytes_total")
        lines_first = metric(get(murl), "sluice_agent_sent_lines_total")
        wait_until(lambda: metric(get(murl), "sluice_agent_sent_lines_total") >= n, args.timeout, "all lines sent")
        t_end = time.monotonic()
        text = get(murl)
        agent_cpu = cpu_seconds(agent.pid)
        agent_hwm = vm_hwm_kb(agent.pid)
        server_cpu = cpu_seconds(server.pid) - server_cpu0
        sent_bytes = metric(text, "sluice_agent_sent_bytes_total")
        body_bytes = metric(text, "sluice_agent_sent_request_bytes_total")
        secs = t_end - t_first
        res = {
            "corpus": source, "lines": n, "raw_bytes": raw_bytes, "files": args.files,
            "batch_size": args.batch_size, "max_inflight": args.inflight, "positions_fsync": args.fsync,
            "seconds_total": t_end - t_start, "seconds_steady": secs,
            "lines_per_s": (n - lines_first) / secs if secs > 0 else 0,
            "mb_per_s": (sent_bytes - sent_first) / secs / 1e6 if secs > 0 else 0,
            "agent_cpu_s": agent_cpu, "agent_cpu_s_per_gb": agent_cpu / (sent_bytes / 1e9),
            "agent_peak_rss_mb": agent_hwm / 1024,
            "request_bytes_per_line_byte": body_bytes / sent_bytes if sent_bytes else 0,
            "server_cpu_s": server_cpu, "server_cpu_s_per_gb": server_cpu / (sent_bytes / 1e9),
            "retries": metric(text, "sluice_agent_retries_total"),
            "dropped": metric(text, "sluice_agent_dropped_lines_total"),
        }
        md = [
            "# sluice agent throughput (bench/agent/run.py)\n",
            f"{n:,} lines ({raw_bytes / 1e6:.0f} MB raw, {source}) in {args.files} files, shipped as a "
            f"backlog into one local sluice (WAL fsync batch). Agent: batch_size {args.batch_size}, "
            f"max_inflight {args.inflight}, positions fsync {args.fsync}, protobuf+snappy.\n",
            "| figure | value |", "| --- | --- |",
            f"| sustained lines/s | {res['lines_per_s']:,.0f} |",
            f"| sustained MB/s (raw line bytes) | {res['mb_per_s']:.1f} |",
            f"| agent CPU per GB shipped | {res['agent_cpu_s_per_gb']:.1f} s |",
            f"| agent peak RSS | {res['agent_peak_rss_mb']:.0f} MB |",
            f"| request bytes per line byte (snappy) | {res['request_bytes_per_line_byte']:.2f} |",
            f"| server CPU per GB over the same time | {res['server_cpu_s_per_gb']:.1f} s |",
            f"| retries, dropped lines | {res['retries']:.0f}, {res['dropped']:.0f} |",
            "",
            "Both processes share the machine's cores: the rate is the pair's, and the server's CPU is"
            " shown so that the agent's share can be read off.",
        ]
        print(json.dumps(res, indent=2))
        print("\n".join(md))
        if args.out:
            with open(args.out, "w") as f:
                f.write("\n".join(md) + "\n")
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(10)
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
