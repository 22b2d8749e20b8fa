#!/usr/bin/env python3
"""S3 vs filesystem store (issue 12): what object storage costs, on one corpus, in one run.

Backends, each a fresh single binary with run.py's bench config (zstd blocks, WAL fsync=batch, no
rate limits, auth on), stopped before the next:

  filesystem  sluice's default store under common.path_prefix
  s3          s3rver (tests/helpers/s3.py) on 127.0.0.1, sluice started with its -common.storage.s3.*
              flags; the embedded chunk cache (100 MB) is on, as sluice turns it on with S3

Per backend:

  push+flush  the corpus' protobuf requests as fast as --connections go, then POST /flush and wait
              until memory is empty (run.wait_flushed): server CPU, S3 requests by operation, and
              the objects in the store (files under chunks/, or the bucket listed by awscli),
              split into index/ objects and the rest (chunks)
  queries     the rare needle and the full-scan literal of sluice-bench-query. Cold: a fresh
              server for each query (empty chunk cache), once, after the compactor's first run has
              finished; warm: the same query --warm-repeats more times on that server. Server CPU
              comes from sluice-bench-query (/proc/PID/stat around the request); S3 requests and
              loki_cache_* {name="chunks"} counters from /metrics around the sluice-bench-query run

The embedded cache cannot be switched off with S3 (EffectiveChunkCache in src/main/storage.cc turns
it on when nothing is configured; max_size_mb=0 is refused), so "cold" means a restarted process.
The filesystem's bytes stay in the OS page cache across restarts: its "cold" is a cold process,
not a cold disk. Every wait is bounded; only processes started here are signalled, by pid.
"""

import argparse
import datetime
import json
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster  # noqa: E402  (bench/cluster.py: ensure_built)
import run  # noqa: E402  (bench/run.py: Server, push, metrics, machine and git info)

sys.path.insert(0, os.path.join(run.REPO, "tests", "helpers"))
from s3 import S3rver  # noqa: E402  (tests/helpers/s3.py: a real s3rver on 127.0.0.1)

GB = run.GB
MB = run.MB
log = run.log
SECTION = "## Issue 12 (object storage)"
QUERIES = (("needle_rare", 'rare needle `|= "<trace id>"`'), ("scan_literal", 'full-scan literal `|= "<marker>"`'))
S3_METRIC = "loki_s3_request_duration_seconds_count"
READ_OPS = ("S3.GetObject", "S3.HeadObject", "S3.List")
WRITE_OPS = ("S3.PutObject", "S3.CreateMultipartUpload", "S3.UploadPart", "S3.CompleteMultipartUpload")


# --- measurements ------------------------------------------------------------------------------


def counters(server):
    """S3 requests by operation, chunk-cache counters and the compactor's runs, from /metrics."""
    out = {"s3": {}, "cache": {}, "compactor_runs": 0.0}
    for name, labels, value in run.metrics_samples(server.url("/metrics")):
        if name == S3_METRIC:
            op = labels.get("operation", "?")
            out["s3"][op] = out["s3"].get(op, 0.0) + value
        elif name.startswith("loki_cache_") and labels.get("name") == "chunks" and not name.endswith(
                ("_bucket", "_sum")):
            out["cache"][name] = out["cache"].get(name, 0.0) + value
        elif name == "loki_compactor_compact_tables_operation_total":
            out["compactor_runs"] += value
    return out


def delta(before, after, per=1):
    def sub(a, b):
        return {k: (a.get(k, 0.0) - b.get(k, 0.0)) / per for k in set(a) | set(b) if a.get(k, 0.0) != b.get(k, 0.0)}
    return {"s3": sub(after["s3"], before["s3"]), "cache": sub(after["cache"], before["cache"])}


def ops_sum(s3, ops):
    return sum(v for k, v in s3.items() if k in ops)


def wait_compactor(server, timeout=120):
    """Waits for the compactor's first run (it starts right after startup) so it does not overlap
    with what is measured next."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if counters(server)["compactor_runs"] >= 1:
            return time.monotonic() - t0
        time.sleep(0.1)
    raise RuntimeError(f"the compactor did not finish a run within {timeout}s")


class Backend:
    def __init__(self, name, binary, workdir):
        self.name = name
        self.s3 = None
        flags = []
        if name == "s3":
            self.s3 = S3rver(os.path.join(workdir, "s3rver"))
            self.s3.start()
            flags = self.s3.sluice_flags()
        self.flags = flags
        self.server = run.Server(binary, workdir, name)

    def start(self):
        run.Server.EXTRA_FLAGS = self.flags
        self.server.start()
        return wait_compactor(self.server)

    def objects(self):
        """{"index": n, "chunks": n} objects in the store (any other top-level folder by its name)."""
        if self.s3:
            keys = self.s3.keys()
        else:
            root = os.path.join(self.server.data, "chunks")
            keys = [os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files]
        out = {"index": 0, "chunks": 0}
        for k in keys:
            top = k.split("/", 1)[0]
            kind = "index" if top == "index" else "chunks" if top not in ("delete", "deletes", "compactor") else top
            out[kind] = out.get(kind, 0) + 1
        return out

    def stop(self):
        self.server.stop(signal.SIGTERM, timeout=300)

    def close(self):
        self.stop()
        if self.s3:
            self.s3.stop()


def flush_phase(bin_dir, be, corpus_dir, meta, args):
    be.start()
    s = be.server
    c0, cpu0 = counters(s), s.cpu()
    log(f"{be.name}: pushing {meta['requests']} requests with {args.connections} connections")
    push = run.push(bin_dir, s, os.path.join(corpus_dir, "push.pb"), "application/x-protobuf", args.connections)
    run.check_push(push, be.name)
    c1, cpu1 = counters(s), s.cpu()
    s.post("/flush")
    wait_s, done_by = run.wait_flushed(s, 600)
    c2, cpu2 = counters(s), s.cpu()
    res = {"raw_bytes": push["raw_bytes_ok"], "lines": push["lines_ok"], "push_cpu_s": cpu1 - cpu0,
           "flush_cpu_s": cpu2 - cpu1, "flush_wait_s": wait_s, "flush_done_by": done_by,
           "push_requests": delta(c0, c1), "flush_requests": delta(c1, c2), "total_requests": delta(c0, c2),
           "objects": be.objects(), "chunks_stored": s.metrics().get("loki_ingester_chunks_stored_total", 0.0)}
    be.stop()
    res["objects_after_sigterm"] = be.objects()
    gb = res["raw_bytes"] / GB
    res["flush_cpu_s_per_gb"] = res["flush_cpu_s"] / gb
    res["push_flush_cpu_s_per_gb"] = (res["push_cpu_s"] + res["flush_cpu_s"]) / gb
    res["objects_per_gb"] = {k: v / gb for k, v in res["objects"].items()}
    res["puts_per_gb"] = ops_sum(res["total_requests"]["s3"], WRITE_OPS) / gb
    log(f"{be.name}: flush {res['flush_cpu_s']:.2f} CPU-s ({done_by}), push+flush "
        f"{res['push_flush_cpu_s_per_gb']:.2f} CPU-s/GB; objects {res['objects']}; "
        f"S3 {res['total_requests']['s3']}")
    return res


def bench_query(bin_dir, be, corpus_dir, name, repeat):
    s = be.server
    c0 = counters(s)
    out = run.run_json([os.path.join(bin_dir, "sluice-bench-query"), "--corpus", os.path.join(corpus_dir, "corpus.json"),
                        "--port", str(s.port), "--pid", str(s.pid), "--repeat", str(repeat), "--only", name],
                       timeout=1800)[0]
    if not out["supported"]:
        raise RuntimeError(f"{be.name}: {name} answered {out['status']}: {out['error']}")
    d = delta(c0, counters(s), per=repeat)
    return {"cpu_s": out["server_cpu_s_mean"], "wall_s": out["wall_s_median"], "entries": out["entries"],
            "correct": out["correct"], "blocks": out["blocks"], "requests": d}


def query_phase(bin_dir, be, corpus_dir, args):
    res = {}
    for name, _ in QUERIES:
        compactor_s = be.start()
        if "objects_after_compactor" not in res:
            res["objects_after_compactor"] = be.objects()
        cold = bench_query(bin_dir, be, corpus_dir, name, 1)
        warm = bench_query(bin_dir, be, corpus_dir, name, args.warm_repeats)
        be.stop()
        res[name] = {"cold": cold, "warm": warm, "compactor_first_run_s": compactor_s}
        for k, q in (("cold", cold), ("warm", warm)):
            log(f"{be.name}: {name} {k}: {q['cpu_s']:.3f} CPU-s, {q['wall_s']:.3f} s, S3 {q['requests']['s3']}, "
                f"cache {q['requests']['cache']}")
    return res


# --- report ------------------------------------------------------------------------------------


def ratio(a, b):
    return f"{a / b:.2f}x" if b else ("1.00x" if a == b else "n/a")


def section(r):
    fs, s3 = r["backends"]["filesystem"], r["backends"]["s3"]
    lines = [SECTION + "\n"]
    lines.append("Written by `bench/storage.py`: the same corpus pushed into a fresh single binary on the filesystem "
                 "store and on S3 (s3rver on 127.0.0.1, same 2 cores: s3rver's own CPU is not counted), then "
                 "flushed and queried. Request counts are sluice's `loki_s3_request_duration_seconds_count` by "
                 "operation; object counts come from listing the bucket (awscli) or the chunks directory.\n")
    lines += run.provenance_lines(r)
    c = r["corpus"]
    lines.append(f"- corpus: {c['lines']:,} lines, {c['raw_bytes'] / MB:.0f} MB raw, {c['streams']:,} streams, "
                 f"{len(c['tenants'])} tenants, 2 h of timestamps, {c['lines_per_request']:,} lines a request, "
                 f"{r['connections']} connections")
    lines.append("- settings: run.py's bench config (zstd blocks, WAL fsync=batch, no rate limits, auth on); S3: "
                 "the embedded chunk cache at its default 100 MB (sluice turns it on with S3), filesystem: no cache")
    lines.append(f"- wall time of the whole run: {r['elapsed_s'] / 60:.1f} min\n")

    lines.append("| figure | filesystem | S3 | S3 / filesystem |")
    lines.append("| --- | --- | --- | --- |")

    def row(label, f, s, fmt="{:.2f}", rat=True):
        cells = [label, fmt.format(f), fmt.format(s), ratio(s, f) if rat else ""]
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")

    def text(label, f, s):
        lines.append("| " + " | ".join(x.replace("|", "\\|") for x in (label, f, s, "")) + " |")

    ff, sf = fs["flush"], s3["flush"]
    row("push: server CPU-s per GB raw", ff["push_cpu_s"] / (ff["raw_bytes"] / GB),
        sf["push_cpu_s"] / (sf["raw_bytes"] / GB))
    row("POST /flush until memory is empty: server CPU-s per GB raw", ff["flush_cpu_s_per_gb"],
        sf["flush_cpu_s_per_gb"])
    row("push + flush: server CPU-s per GB raw", ff["push_flush_cpu_s_per_gb"], sf["push_flush_cpu_s_per_gb"])
    row("chunk objects written per GB raw", ff["objects_per_gb"]["chunks"], sf["objects_per_gb"]["chunks"], "{:,.0f}")
    row("index objects written per GB raw", ff["objects_per_gb"]["index"], sf["objects_per_gb"]["index"], "{:,.0f}")
    row("S3 PUT requests per GB raw (PutObject + multipart parts)", ff["puts_per_gb"], sf["puts_per_gb"], "{:,.0f}",
        False)
    for qn, label in QUERIES:
        fq, sq = fs["queries"][qn], s3["queries"][qn]
        for k in ("cold", "warm"):
            row(f"{label}, {k}: server CPU-s per query", fq[k]["cpu_s"], sq[k]["cpu_s"], "{:.3f}")
        for k in ("cold", "warm"):
            g = sq[k]["requests"]["s3"]
            text(f"{label}, {k}: S3 requests per query (GET / List / HEAD)", "-",
                 f"{g.get('S3.GetObject', 0):.1f} / {g.get('S3.List', 0):.1f} / {g.get('S3.HeadObject', 0):.1f}")
        for k in ("cold", "warm"):
            ch = sq[k]["requests"]["cache"]
            text(f"{label}, {k}: chunk cache keys fetched / hits per query", "-",
                 f"{ch.get('loki_cache_fetched_keys', 0):.0f} / {ch.get('loki_cache_hits', 0):.0f}")
        row(f"{label}: wall s, cold", fq["cold"]["wall_s"], sq["cold"]["wall_s"], "{:.3f}")
    lines.append("")

    gb_f, gb_s = ff["raw_bytes"] / GB, sf["raw_bytes"] / GB
    lines.append(f"Objects per GB ingested: filesystem {sum(ff['objects'].values()) / gb_f:,.0f} "
                 f"({ff['objects']['chunks']:,} chunks + {ff['objects']['index']:,} index objects for "
                 f"{ff['raw_bytes'] / MB:.0f} MB), S3 {sum(sf['objects'].values()) / gb_s:,.0f} "
                 f"({sf['objects']['chunks']:,} chunks + {sf['objects']['index']:,} index objects); "
                 f"S3 PUTs per GB: {sf['puts_per_gb']:,.0f}.\n")
    for qn, label in QUERIES:
        sq = s3["queries"][qn]
        label = label.replace("|", "\\|")
        lines.append(f"Requests per query, {label}: cold {sum(sq['cold']['requests']['s3'].values()):.0f} "
                     f"({', '.join(f'{k} {v:.0f}' for k, v in sorted(sq['cold']['requests']['s3'].items()))}), "
                     f"warm {sum(sq['warm']['requests']['s3'].values()):.1f}"
                     f"{' (' + ', '.join(f'{k} {v:.1f}' for k, v in sorted(sq['warm']['requests']['s3'].items())) + ')' if sq['warm']['requests']['s3'] else ''}.\n")
    for n in r.get("notes", []):
        lines.append(f"- {n}")
    if r.get("analysis"):
        lines.append("")
        lines.append(r["analysis"].rstrip())
    return "\n".join(lines) + "\n"


def notes(r, args):
    out = []
    for name, b in r["backends"].items():
        f = b["flush"]
        if f["flush_done_by"] != "memory empty":
            out.append(f"{name}: the flush ended by '{f['flush_done_by']}', not with memory empty")
        if f["objects_after_sigterm"] != f["objects"]:
            out.append(f"{name}: objects after the flush {f['objects']}, after SIGTERM {f['objects_after_sigterm']} "
                       "(counts in the table are the former)")
        after = b["queries"]["objects_after_compactor"]
        out.append(f"{name}: objects after the next start's compactor run (what the queries read): {after}")
        for qn, _ in QUERIES:
            for k in ("cold", "warm"):
                if b["queries"][qn][k]["correct"] is False:
                    out.append(f"**{name}: {qn} ({k}) answered {b['queries'][qn][k]['entries']} entries, not what "
                               "the corpus holds**")
    out.append("Cold = a freshly started process (empty chunk cache), after its compactor's first run finished, one "
               f"request; warm = the next {args.warm_repeats} requests of the same query on that process, averaged. "
               "The embedded cache cannot be turned off with S3 (max_size_mb=0 is refused), hence the restarts. "
               "The filesystem's files stay in the OS page cache across restarts.")
    out.append("Server CPU is utime+stime of the sluice process over the phase (background loops included); "
               "s3rver (Node) runs on the same cores and its CPU is not counted.")
    return out




def read_analysis(path):
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


# --- main --------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default=os.path.join(run.REPO, "build-bench"))
    ap.add_argument("--build-type", default="RelWithDebInfo")
    ap.add_argument("--no-build", action="store_true", help="use the binaries in --build-dir as they are")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--streams", type=int, default=1_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--warm-repeats", type=int, default=3)
    ap.add_argument("--backends", default="filesystem,s3")
    ap.add_argument("--workdir", default=None, help="default: a new directory under $TMPDIR, removed at the end")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--out", default=os.path.join(run.REPO, "bench", "RESULTS.md"),
                    help="the section 'Issue 12 (object storage)' is replaced or appended here")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--analysis", default=os.path.join(run.REPO, "bench", "STORAGE_ANALYSIS.md"),
                    help="markdown appended to the section (what the figures come from)")
    ap.add_argument("--render-only", default=None, metavar="JSON", help="rewrite the section from a --json-out file")
    args = ap.parse_args()
    if args.render_only:
        with open(args.render_only) as f:
            r = json.load(f)
        r["analysis"] = read_analysis(args.analysis)
        run.write_section(args.out, SECTION, section(r))
        return
    if not args.no_build:
        cluster.ensure_built(args.build_dir, args.build_type,
                             ("sluice", "sluice-bench-corpus", "sluice-bench-load", "sluice-bench-query"))
    bin_dir = os.path.abspath(args.build_dir)
    binary = os.path.join(bin_dir, "sluice")

    started = time.monotonic()
    workdir = args.workdir or tempfile.mkdtemp(prefix="sluice-storage-bench-")
    os.makedirs(workdir, exist_ok=True)
    commit, dirty = run.git_info()
    r = {"command": " ".join(["bench/storage.py", *sys.argv[1:]]),
         "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "commit": commit, "dirty": dirty, "machine": run.machine_info(), "connections": args.connections,
         "loadavg_start": list(os.getloadavg()), "backends": {}}
    live = []
    try:
        corpus_dir = os.path.join(workdir, "corpus")
        log(f"corpus: {args.lines:,} lines, {args.streams:,} streams -> {corpus_dir}")
        meta = run.run_json([os.path.join(bin_dir, "sluice-bench-corpus"), "--out", corpus_dir, "--lines",
                             str(args.lines), "--streams", str(args.streams), "--seed", str(args.seed),
                             "--end-ns", str(time.time_ns() // 10**9 * 10**9)], timeout=1800)
        r["corpus"] = meta
        for name in args.backends.split(","):
            be = Backend(name, binary, workdir)
            live.append(be)
            r["backends"][name] = {"flush": flush_phase(bin_dir, be, corpus_dir, meta, args),
                                   "queries": query_phase(bin_dir, be, corpus_dir, args)}
            be.close()
            live.remove(be)
        r["loadavg_end"] = list(os.getloadavg())
        r["elapsed_s"] = time.monotonic() - started
        r["notes"] = notes(r, args)
        r["analysis"] = read_analysis(args.analysis)
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump(r, f, indent=1, default=str)
        text = section(r)
        run.write_section(args.out, SECTION, text)
        log(f"wrote the issue 12 section of {args.out} ({r['elapsed_s'] / 60:.1f} min)")
        print(text)
    finally:
        run.stop_each(live, lambda be: be.close())
        run.finish_workdir(workdir, args)


if __name__ == "__main__":
    main()
