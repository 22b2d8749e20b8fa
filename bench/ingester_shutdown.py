#!/usr/bin/env python3
"""How long an ingester takes to flush at its memory budget, and what answers while it replays
(issue 14: the figures behind deploy/kubernetes' terminationGracePeriodSeconds and probes).

For each stream count (default 1,000 and 10,000), a fresh single binary (run.py's bench config:
zstd blocks, WAL fsync=batch, no rate limits) takes JSON pushes of generated log lines until
sluice_ingester_unflushed_bytes reaches 95% of its memory budget (heads + chunk_memory_budget,
the point past which it would flush early), then:

  preStop    GET /ingester/shutdown?terminate=false (what the Kubernetes preStop hook calls):
             wall time until its 204, i.e. until every chunk is stored; server CPU meanwhile; and
             the liveness probe's endpoint polled every 100 ms while it runs
  SIGTERM    then SIGTERM: wall time until the process exits

Two stream counts at one budget separate the per-chunk cost from the per-byte cost of a flush
(flush time = a x chunks + b x raw bytes), which docs/operations/sizing.md extrapolates to an
ingester's real budget. Then, with the larger stream count, a third server is filled the same
way, killed with SIGKILL and restarted: while it replays its WAL, /ready, /metrics and
/loki/api/v1/status/buildinfo are polled every 100 ms (2 s timeout each) and their statuses and
slowest answers recorded: the liveness probe must answer during a replay.

    bench/ingester_shutdown.py [--streams 1000,10000] [--out bench/RESULTS.md]

SLUICE_BIN (default build/sluice) is the binary. Writes the "Issue 14" section of --out (kept in
place when it exists). Every wait is bounded; only processes started here are signalled.
"""

import argparse
import datetime
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (bench/run.py: Server, metrics, machine and git info)

MB = run.MB
log = run.log
SECTION = "## Issue 14: ingester shutdown flush and WAL replay"
READING = "### Reading the figures"  # written by hand under the section: kept when it is rewritten
TENANT = "bench"
LINES_PER_REQUEST = 1000


def line_pool(n, seed):
    """n log lines in nginx, logfmt and JSON shapes (about 200 bytes), each with its size, quoted for JSON."""
    rnd = random.Random(seed)
    paths = [f"/api/v{v}/{r}/{i}" for v in (1, 2) for r in ("users", "orders", "cart", "search")
             for i in range(40)]
    agents = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0",
              "curl/8.4.0", "Go-http-client/1.1", "python-requests/2.31.0",
              "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1.15"]
    out = []
    for i in range(n):
        ip = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(256)}"
        kind = i % 3
        if kind == 0:
            line = (f'{ip} - - [08/Dec/2026:00:{rnd.randrange(60):02d}:{rnd.randrange(60):02d} +0000] '
                    f'"GET {rnd.choice(paths)}?page={rnd.randrange(50)} HTTP/1.1" '
                    f'{rnd.choice((200, 200, 200, 201, 304, 404, 500))} {rnd.randrange(100, 90000)} "-" '
                    f'"{rnd.choice(agents)}" rt={rnd.randrange(1, 3000) / 1000:.3f} '
                    f'upstream={rnd.choice(("api", "auth", "search"))}-{rnd.randrange(12)}:8080')
        elif kind == 1:
            line = (f'ts=2026-12-08T00:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}Z '
                    f'level={rnd.choice(("info", "info", "debug", "warn", "error"))} '
                    f'msg="{rnd.choice(("request served", "cache miss", "retrying upstream", "job done"))}" '
                    f'duration_ms={rnd.randrange(1, 5000)} trace_id={rnd.getrandbits(128):032x} '
                    f'user={rnd.randrange(100000)} path={rnd.choice(paths)} '
                    f'component={rnd.choice(("http", "db", "cache", "queue"))}')
        else:
            line = json.dumps({"level": rnd.choice(("info", "warn", "error")),
                               "msg": rnd.choice(("order created", "payment declined", "cart updated")),
                               "order_id": rnd.getrandbits(64), "amount": rnd.randrange(1, 100000) / 100,
                               "duration_ms": rnd.randrange(1, 3000), "client": ip,
                               "path": rnd.choice(paths), "region": rnd.choice(("eu-west-1", "us-east-1"))})
        out.append((json.dumps(line), len(line.encode())))
    return out


class Pusher:
    """Threads that push JSON requests of LINES_PER_REQUEST lines, each to 100 consecutive streams
    (10 lines each, drawn at random from the pool), cycling over every stream; timestamps only
    grow, so no entry is a duplicate."""

    def __init__(self, server, streams, pool, threads=2):
        self.server, self.streams, self.pool, self.threads = server, streams, pool, threads
        self.lock = threading.Lock()
        self.next_request = 0
        self.raw_bytes = 0
        self.errors = []
        self.stop = threading.Event()
        self.t0_ns = time.time_ns() - 600 * 10**9

    def _body(self, k):
        per_stream = 10
        first = (k * (LINES_PER_REQUEST // per_stream)) % self.streams
        pick = random.Random(k).randrange
        streams, raw = [], 0
        for j in range(LINES_PER_REQUEST // per_stream):
            values = []
            for e in range(per_stream):
                quoted, size = self.pool[pick(len(self.pool))]
                values.append(f'["{self.t0_ns + k * LINES_PER_REQUEST + j * per_stream + e}",{quoted}]')
                raw += size
            s = (first + j) % self.streams
            streams.append(f'{{"stream":{{"job":"bench","stream":"s{s}"}},"values":[{",".join(values)}]}}')
        return f'{{"streams":[{",".join(streams)}]}}'.encode(), raw

    def _loop(self):
        while not self.stop.is_set():
            with self.lock:
                k = self.next_request
                self.next_request += 1
            body, raw = self._body(k)
            req = urllib.request.Request(self.server.url("/loki/api/v1/push"), data=body, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "X-Scope-OrgID": TENANT})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    r.read()
                with self.lock:
                    self.raw_bytes += raw
            except (urllib.error.URLError, OSError) as e:
                self.errors.append(str(e))
                self.stop.set()

    def run_until(self, done, timeout):
        threads = [threading.Thread(target=self._loop, daemon=True) for _ in range(self.threads)]
        for t in threads:
            t.start()
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < timeout and not self.stop.is_set():
                if done():
                    break
                time.sleep(0.5)
            else:
                if not self.errors:
                    raise RuntimeError(f"the memory budget was not reached within {timeout}s")
        finally:
            self.stop.set()
            for t in threads:
                t.join(timeout=60)
        if self.errors:
            raise RuntimeError(f"push failed: {self.errors[0]}")
        return time.monotonic() - t0


def budget_bytes(streams, head_budget=48 << 20, chunk_budget=256 << 20):
    """HeadBudget() + chunk_memory_budget, as src/ingester/ingester.cc computes them (defaults)."""
    return max(head_budget, streams * (16 << 10)) + chunk_budget


def fill(server, streams, pool):
    """Pushes until unflushed bytes reach 95% of the budget; returns what is in memory."""
    target = 0.95 * budget_bytes(streams)
    pusher = Pusher(server, streams, pool)
    push_s = pusher.run_until(lambda: server.metrics().get("sluice_ingester_unflushed_bytes", 0) >= target,
                              timeout=900)
    m = server.metrics()
    early = sum(v for name, labels, v in run.metrics_samples(server.url("/metrics"))
                if name == "loki_ingester_chunks_flushed_total" and labels.get("reason") == "memory")
    return {"streams": streams, "raw_bytes": pusher.raw_bytes, "push_s": push_s,
            "unflushed_bytes": m.get("sluice_ingester_unflushed_bytes", 0),
            "budget_bytes": budget_bytes(streams), "early_flushes": early,
            "rss_bytes": run.proc_status_kb(server.pid, "VmRSS") * 1024}


def shutdown_run(binary, workdir, streams, pool):
    server = run.Server(binary, workdir, f"shutdown-{streams}")
    server.start()
    try:
        r = fill(server, streams, pool)
        log(f"{streams} streams: {r['raw_bytes'] / MB:.0f} MB raw pushed, "
            f"{r['unflushed_bytes'] / MB:.0f} MB unflushed; calling /ingester/shutdown")
        polls, done = [], threading.Event()

        def poll_liveness():
            while not done.wait(0.1):
                polls.append(probe(server.url("/loki/api/v1/status/buildinfo")))

        poller = threading.Thread(target=poll_liveness, daemon=True)
        cpu0, t0 = server.cpu(), time.monotonic()
        poller.start()
        try:
            with urllib.request.urlopen(server.url("/ingester/shutdown?terminate=false"), timeout=900) as resp:
                r["prestop_status"] = resp.status
        finally:
            done.set()
            poller.join(timeout=10)
        r["prestop_s"] = time.monotonic() - t0
        r["liveness_during_prestop"] = {"answers": len(polls),
                                        "not_200": sum(1 for st, _ in polls if st != 200),
                                        "slowest_s": max((t for _, t in polls), default=0.0)}
        r["prestop_cpu_s"] = server.cpu() - cpu0
        m = server.metrics()
        r["chunks_stored"] = m.get("loki_ingester_chunks_stored_total", 0)
        r["stored_bytes"] = m.get("loki_ingester_chunk_stored_bytes_total", 0)
        r["unflushed_after"] = m.get("sluice_ingester_unflushed_bytes", 0)
        server.stop(signal.SIGTERM, timeout=300)
        r["sigterm_s"] = server.last_stop_s
        return r
    finally:
        server.stop(signal.SIGKILL)


def probe(url):
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        status = e.code
    except (urllib.error.URLError, OSError):
        status = "no answer"
    return status, time.monotonic() - t0


def replay_run(binary, workdir, streams, pool):
    server = run.Server(binary, workdir, f"replay-{streams}")
    server.start()
    r = fill(server, streams, pool)
    server.stop(signal.SIGKILL)
    paths = ("/ready", "/metrics", "/loki/api/v1/status/buildinfo")
    seen = {p: {} for p in paths}
    slowest = {p: 0.0 for p in paths}
    t0 = time.monotonic()
    server.logfile = open(os.path.join(server.dir, "server.log"), "ab")
    server.proc = run.subprocess.Popen([binary, f"-config.file={server.config}"],
                                       stdout=server.logfile, stderr=run.subprocess.STDOUT)
    try:
        while time.monotonic() - t0 < 900:
            if server.proc.poll() is not None:
                raise RuntimeError("sluice exited during the replay")
            for p in paths:
                status, took = probe(server.url(p))
                seen[p][str(status)] = seen[p].get(str(status), 0) + 1
                slowest[p] = max(slowest[p], took)
            if seen["/ready"].get("200"):
                break
            time.sleep(0.1)
        r["ready_s"] = time.monotonic() - t0
        r["probes"] = {p: {"statuses": seen[p], "slowest_s": slowest[p]} for p in paths}
        m = server.metrics()
        r["replay_duration_s"] = m.get("loki_ingester_wal_replay_duration_seconds", 0)
        r["recovered_bytes"] = m.get("loki_ingester_wal_recovered_bytes_total", 0)
        return r
    finally:
        server.stop(signal.SIGTERM, timeout=300)
        server.stop(signal.SIGKILL)


def section(res):
    out = [SECTION, "", "Written by `bench/ingester_shutdown.py`: a fresh single binary per row (run.py's bench "
           "config: "
           "zstd blocks, WAL fsync=batch, filesystem store, default `head_memory_budget` 48 MB and "
           "`chunk_memory_budget` 256 MB) takes JSON pushes of generated lines (nginx, logfmt and JSON "
           "shapes) until `sluice_ingester_unflushed_bytes` reaches 95% of its budget (heads, at least "
           "16 KB a stream, plus the chunk budget), without any early flush. Then the preStop call, then "
           "SIGTERM.", ""]
    out += run.provenance_lines(res)
    out.append("")
    out.append("| streams | raw MB pushed | unflushed MB (budget) | early flushes | RSS MB | preStop "
               "`/ingester/shutdown?terminate=false`: wall s (CPU s) | chunks stored; MB | SIGTERM after it: "
               "wall s | flush: MB raw per s |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in res["shutdown"]:
        out.append(f"| {r['streams']:,} | {r['raw_bytes'] / MB:,.0f} | {r['unflushed_bytes'] / MB:.0f} "
                   f"({r['budget_bytes'] / MB:.0f}) | {r['early_flushes']:.0f} | {r['rss_bytes'] / MB:.0f} | "
                   f"{r['prestop_s']:.2f} "
                   f"({r['prestop_cpu_s']:.2f}) | {r['chunks_stored']:,.0f}; {r['stored_bytes'] / MB:.1f} | "
                   f"{r['sigterm_s']:.2f} | {r['raw_bytes'] / MB / r['prestop_s']:.0f} |")
    live = [r["liveness_during_prestop"] for r in res["shutdown"] if "liveness_during_prestop" in r]
    if live:
        out += ["", f"While the preStop calls flushed, `/loki/api/v1/status/buildinfo` (the liveness probe) was "
                f"polled every 100 ms: {sum(x['answers'] for x in live)} answers, "
                f"{sum(x['not_200'] for x in live)} of them not 200, the slowest in "
                f"{max(x['slowest_s'] for x in live):.3f} s."]
    a, b = res["model"]["per_chunk_s"], res["model"]["per_raw_gb_s"]
    out += ["", f"Flush time model from the two rows (wall s = a x chunks + b x GB raw): "
            f"**a = {a * 1000:.2f} ms per chunk, b = {b:.2f} s per GB raw**.", ""]
    rp = res["replay"]
    out.append(f"WAL replay after SIGKILL, {rp['streams']:,} streams, {rp['raw_bytes'] / MB:,.0f} MB raw "
               f"pushed: /ready 200 after **{rp['ready_s']:.1f} s** (replay "
               f"{rp['replay_duration_s']:.1f} s, {rp['recovered_bytes'] / MB:,.0f} MB recovered). Polled "
               "every 100 ms meanwhile:")
    out += ["", "| endpoint | answers (status: count) | slowest answer s |", "| --- | --- | --- |"]
    for path, p in rp["probes"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(p["statuses"].items()))
        out.append(f"| `{path}` | {statuses} | {p['slowest_s']:.3f} |")
    out += ["", "- MB are 10^6 bytes. RSS is VmRSS when the budget was reached; unflushed bytes are heads "
            "(raw) plus compressed blocks.",
            "- \"no answer\": the first poll came before the restarted process had bound its port.",
            "- The machine's 2 cores are shared with other builds and tests: wall times are "
            "indicative; the flush model feeds the grace period in docs/operations/sizing.md with a margin.",
            ""]
    return "\n".join(out)




def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", default="1000,10000", help="two stream counts, comma-separated")
    ap.add_argument("--out", default=os.path.join(run.REPO, "bench", "RESULTS.md"))
    ap.add_argument("--json-out")
    ap.add_argument("--from-json", help="write the section from an earlier run's --json-out, without running")
    args = ap.parse_args()
    if args.from_json:
        with open(args.from_json) as f:
            res = json.load(f)
        run.write_section(args.out, SECTION, section(res), keep=READING)
        return
    binary = os.environ.get("SLUICE_BIN") or os.path.join(run.REPO, "build", "sluice")
    counts = [int(x) for x in args.streams.split(",")]
    if len(counts) != 2 or counts[0] == counts[1]:
        sys.exit("--streams: two different stream counts")
    res = {"command": "bench/ingester_shutdown.py " + " ".join(sys.argv[1:]),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": run.machine_info(), "loadavg_start": os.getloadavg()}
    res["commit"], res["dirty"] = run.git_info()
    pool = line_pool(50_000, seed=14)
    with tempfile.TemporaryDirectory(prefix="sluice-shutdown-") as workdir:
        try:
            res["shutdown"] = [shutdown_run(binary, workdir, n, pool) for n in counts]
            res["replay"] = replay_run(binary, workdir, max(counts), pool)
        finally:
            run.stop_each(run.STARTED, lambda s: s.stop(signal.SIGKILL))
    (r1, r2) = res["shutdown"]
    # Two equations, two unknowns: wall = a * chunks + b * raw GB.
    det = r1["chunks_stored"] * r2["raw_bytes"] / 1e9 - r2["chunks_stored"] * r1["raw_bytes"] / 1e9
    a = (r1["prestop_s"] * r2["raw_bytes"] / 1e9 - r2["prestop_s"] * r1["raw_bytes"] / 1e9) / det
    b = (r1["chunks_stored"] * r2["prestop_s"] - r2["chunks_stored"] * r1["prestop_s"]) / det
    res["model"] = {"per_chunk_s": max(a, 0.0), "per_raw_gb_s": max(b, 0.0)}
    res["loadavg_end"] = os.getloadavg()
    text = section(res)
    print(text)
    run.write_section(args.out, SECTION, text, keep=READING)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(res, f, indent=1, default=str)


if __name__ == "__main__":
    main()
