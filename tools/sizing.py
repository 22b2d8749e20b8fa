#!/usr/bin/env python3
"""The tables of docs/operations/sizing.md, recomputed from the measured figures in bench/RESULTS.md.

    tools/sizing.py             print every table, each between the markers the guide embeds it in
    tools/sizing.py --check     exit 1 when docs/operations/sizing.md holds other tables than these
    tools/sizing.py --write     replace the tables in docs/operations/sizing.md
    tools/sizing.py --json      the plan and per-pod figures (deploy/kubernetes is checked against them)
    --results FILE              read another RESULTS.md (default bench/RESULTS.md)

Every measured input is looked up in RESULTS.md by section and row (FIGURES below); one that is
missing or unreadable stops the script with exit status 2 and names it. What is assumed rather
than measured (the workload, pod shapes, prices) is in ASSUMPTIONS and printed with the tables.
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"
GUIDE = REPO / "docs" / "operations" / "sizing.md"
MIB = 1 << 20
GIB = 1 << 30
DAY_S = 86400

# --- what is assumed, not measured --------------------------------------------------------------

ASSUMPTIONS = {
    "profiles_gb_day": {"500 GB/day": 500, "5 TB/day": 5000},  # raw line bytes, 10^9
    "peak_to_average": 2.0,          # busiest hour against the daily mean
    "streams_per_gb_day": 20,        # active streams: 10,000 at 500 GB/day, 100,000 at 5 TB/day
    "tenants": 20,
    "largest_tenant_share": 0.25,
    "retention_days": 30,
    "replication_factor": 3,
    "zones": 3,
    # Query mix: bytes scanned per day, as multiples of the day's ingest, and how they are spread.
    "filter_scan_per_ingest": 2.0,   # line filters and searches (full-scan literal figure)
    "metric_scan_per_ingest": 1.0,   # label-only metric queries of dashboards and alerts
    "recent_share": 0.5,             # scanned bytes younger than query_ingesters_within (ingesters)
    "query_peak_to_average": 3.0,
    "queries_per_gb_day": 100,       # 50,000 queries a day at 500 GB/day
    "splits_per_query": 4,           # 1 h splits; one index List per split and tenant
    "cpu_target_utilisation": 0.6,   # at peak; also the distributors' HPA target
    "memory_margin": 1.2,            # allocator slack, flush and query buffers over the model
    "s3_put_latency_s": 0.1,         # one PutObject of a chunk, not measured here
    "grace_margin": 1.5,             # over the modelled flush time
    "grace_extra_s": 30,             # leaving the ring, the final SIGTERM
    # Pod shapes (CPU cores, memory GiB). Ingester memory and the single binary come from the model.
    "ingester_cpu": (1, 4),          # request, limit: flush and replay run on 4 threads
    "ingester_memory_target_gib": 8,
    "distributor": (1, 2, 1),        # cpu request, cpu limit, memory GiB (memory not measured)
    "querier": (2, 4, 4),
    "query_frontend": (0.5, 1, 1),
    "compactor": (1, 2, 2),
    "etcd": (0.5, 1, 1),
    "single_binary_cpu": (2, 4),
    "min_replicas": 2,               # distributors and queriers
    # sluice defaults the model depends on (README's configuration tables)
    "head_memory_budget": 48 * MIB,
    "head_bytes_per_stream_min": 16 << 10,
    "chunk_target_size": 1536 << 10,
    "max_chunk_age_s": 7200,
    "flush_check_period_s": 30,
    "compaction_interval_s": 600,
    "checkpoint_duration_s": 300,
    "wal_segment_size": 128 * MIB,
    "concurrent_flushes": 4,
    "default_ingestion_rate_mb": 4,
    "default_max_global_streams_per_user": 5000,
    "s3_put_per_s_per_prefix": 3500,  # AWS's documented request rate per prefix
    # AWS S3 Standard, us-east-1, list prices as of March 2026 (USD).
    "price_storage_gb_month": ((50_000, 0.023), (450_000, 0.022), (math.inf, 0.021)),
    "price_put_per_1000": 0.005,     # PUT, COPY, POST, LIST
    "price_get_per_1000": 0.0004,    # GET, SELECT
    "days_per_month": 30,
}

# --- what is measured: bench/RESULTS.md ----------------------------------------------------------

NUM = r"([0-9][0-9,]*(?:\.[0-9]+)?)"

# key: (section heading prefix, row pattern or None for the section's text, column, value regex)
FIGURES = {
    "line_bytes": ("sluice benchmark results", None, None, r"corpus: .*?mean " + NUM),
    "stored_mb_per_gb": ("Targets", r"disk after flush \+ checkpoint, MB per GB raw", "sluice", NUM),
    "replay_mb_s": ("Targets", r"WAL replay, MB raw per second", "sluice", NUM),
    "scan_filter_gb_cpu_s": ("Targets", r"full-scan literal", "sluice", NUM),
    "scan_metric_gb_cpu_s": ("Targets", r"sum by \(level\) \(count_over_time", "sluice", NUM),
    "rf3_filter_factor": ("Issue 11", r"query rare needle .*\(x single\)", "3 ingesters, RF=3",
                          r"\(" + NUM + r"x\)"),
    "rf3_metric_factor": ("Issue 11", r"query `sum by \(level\).*\(x single\)", "3 ingesters, RF=3",
                          r"\(" + NUM + r"x\)"),
    "distributor_cpu_direct": ("Issue 13", r"by role, CPU-s per GB", "direct, RF=3", r"frontdoor " + NUM),
    "ingester_cpu_direct": ("Issue 13", r"by role, CPU-s per GB", "direct, RF=3", r"ingesters " + NUM),
    "distributor_cpu_kafka": ("Issue 13", r"by role, CPU-s per GB", "Kafka, 3 partitions",
                              r"frontdoor " + NUM),
    "ingester_cpu_kafka": ("Issue 13", r"by role, CPU-s per GB", "Kafka, 3 partitions",
                           r"ingesters " + NUM),
    "single_cpu": ("Issue 12", r"push \+ flush: server CPU-s per GB raw", "filesystem", NUM),
    "flush_s_per_gb": ("Issue 14", None, None, r"b = " + NUM + r" s per GB raw"),
    "flush_ms_per_chunk": ("Issue 14", None, None, r"a = " + NUM + r" ms per chunk"),
    "rss_low": ("Issue 14", r"1,000$", "RSS MB", NUM),
    "rss_low_unflushed": ("Issue 14", r"1,000$", "unflushed MB (budget)", NUM),
    "rss_high": ("Issue 14", r"10,000$", "RSS MB", NUM),
    "rss_high_unflushed": ("Issue 14", r"10,000$", "unflushed MB (budget)", NUM),
}

STREAMS_LOW, STREAMS_HIGH = 1000, 10000  # the stream counts of the Issue 14 rows above


class MissingFigure(Exception):
    pass


def _sections(text):
    """{heading: body} for '# ' and '## ' headings (a '### ' stays in its '## ' section)."""
    out, name, body = {}, "", []
    for line in text.splitlines():
        m = re.match(r"^#{1,2} (.*)", line)
        if m:
            out[name] = body
            name, body = m.group(1).strip(), []
        else:
            body.append(line)
    out[name] = body
    return out


def _cells(line):
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _tables(lines):
    """Each markdown table as (header cells, [row cells])."""
    tables, i = [], 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|$", lines[i + 1]):
            header, rows, i = _cells(lines[i]), [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            tables.append((header, rows))
        else:
            i += 1
    return tables


def _number(text):
    return float(text.replace(",", ""))


def read_figures(path):
    """{key: (value, citation)} for every FIGURES entry; raises MissingFigure naming the first gap."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise MissingFigure(f"cannot read {path}: {e}") from e
    sections = _sections(text)
    out = {}
    for key, (sec, row, col, rx) in FIGURES.items():
        name = next((n for n in sections if n.startswith(sec)), None)
        where = f"{path}: section '{sec}'"
        if name is None:
            raise MissingFigure(f"{where} not found (needed for {key})")
        if row is None:
            m = re.search(rx, "\n".join(sections[name]))
            if not m:
                raise MissingFigure(f"{where}: no text matching /{rx}/ (needed for {key})")
            out[key] = (_number(m.group(1)), f"{name.split(':')[0]}: `{m.group(0)}`")
            continue
        cell, label = None, None
        for header, rows in _tables(sections[name]):
            if col not in header:
                continue
            for r in rows:
                if len(r) > header.index(col) and any(re.search(row, c) for c in r[:2]):
                    cell, label = r[header.index(col)], next(c for c in r[:2] if re.search(row, c))
                    break
            if cell is not None:
                break
        if cell is None:
            raise MissingFigure(f"{where}: no table row /{row}/ with a column '{col}' (needed for {key})")
        m = re.search(rx, cell)
        if not m:
            raise MissingFigure(f"{where}, row '{label}', column '{col}': '{cell}' has no /{rx}/ "
                                f"(needed for {key})")
        out[key] = (_number(m.group(1)), f"{name.split(':')[0]}: {label.strip()} ({col})")
    return out


# --- the model ------------------------------------------------------------------------------------


def ceil_to(x, step):
    return math.ceil(x / step - 1e-9) * step


def storage_price(gb):
    cost, left, prev = 0.0, gb, 0
    for upto, price in ASSUMPTIONS["price_storage_gb_month"]:
        band = min(left, upto - prev)
        cost += band * price
        left -= band
        prev = upto
        if left <= 0:
            break
    return cost


def compute(fig):
    A = ASSUMPTIONS
    f = {k: v for k, (v, _) in fig.items()}
    c = f["stored_mb_per_gb"] / 1000  # compressed bytes per raw byte
    util = A["cpu_target_utilisation"]
    rf, zones = A["replication_factor"], A["zones"]
    # Memory: RSS = base + per_stream x streams + unflushed bytes (Issue 14's two rows).
    over_low = (f["rss_low"] - f["rss_low_unflushed"]) * 1e6
    over_high = (f["rss_high"] - f["rss_high_unflushed"]) * 1e6
    per_stream = (over_high - over_low) / (STREAMS_HIGH - STREAMS_LOW)
    base = over_low - per_stream * STREAMS_LOW
    stream_rate = 1e9 / DAY_S / A["streams_per_gb_day"]  # raw bytes/s of one stream, every profile
    chunk_full = min(A["chunk_target_size"], c * stream_rate * A["max_chunk_age_s"])

    def heads(s):
        return max(A["head_memory_budget"], A["head_bytes_per_stream_min"] * s)

    def pod_memory(s):  # bytes, with the margin
        return (base + per_stream * s + heads(s) + s * chunk_full) * A["memory_margin"]

    def unflushed_raw(s):
        return heads(s) + s * chunk_full / c

    def grace(s):
        flush = (f["flush_ms_per_chunk"] / 1000 * s + f["flush_s_per_gb"] * unflushed_raw(s) / 1e9
                 + s * A["s3_put_latency_s"] / A["concurrent_flushes"])
        return flush, int(ceil_to(flush * A["grace_margin"] + A["grace_extra_s"], 30))

    def pvc(s, raw_rate):  # WAL: the checkpoint of what is unflushed, two checkpoint periods, a segment
        need = unflushed_raw(s) + 2 * raw_rate * A["checkpoint_duration_s"] + A["wal_segment_size"]
        return int(ceil_to(need * 1.5 / GIB, 10))

    target = A["ingester_memory_target_gib"] * GIB
    s_pod = 500
    while pod_memory(s_pod + 500) <= target:
        s_pod += 500
    ing_cpu_req, ing_cpu_lim = A["ingester_cpu"]

    plans = {}
    for name, gb_day in A["profiles_gb_day"].items():
        avg = gb_day * 1e9 / DAY_S
        peak = avg * A["peak_to_average"]
        streams = gb_day * A["streams_per_gb_day"]
        p = {"gb_day": gb_day, "avg_mb_s": avg / 1e6, "peak_mb_s": peak / 1e6,
             "peak_lines_s": peak / f["line_bytes"], "streams": streams}
        d_cores = peak / 1e9 * f["distributor_cpu_direct"]
        p["distributor_cores"] = d_cores
        p["distributors"] = max(A["min_replicas"], math.ceil(d_cores / (A["distributor"][0] * util)))
        i_cores = peak / 1e9 * f["ingester_cpu_direct"]
        n_cpu = math.ceil(i_cores / (ing_cpu_req * util))
        n_mem = math.ceil(streams * rf / s_pod)
        p["ingester_cores"] = i_cores
        p["ingesters"] = int(ceil_to(max(n_cpu, n_mem, zones), zones))
        p["ingester_bound"] = "memory" if n_mem >= n_cpu else "CPU"
        p["streams_per_ingester"] = streams * rf / p["ingesters"]
        p["wal_mb_s_per_ingester"] = peak * rf / p["ingesters"] / 1e6
        # Kafka: one owner's CPU per partition; two owners per partition (zones) for reads.
        part_mb_s = 1e3 / f["ingester_cpu_kafka"] * ing_cpu_req * util
        p["partitions"] = max(math.ceil(peak / 1e6 / part_mb_s), math.ceil(streams / s_pod))
        p["kafka_ingesters"] = 2 * p["partitions"]
        p["kafka_distributors"] = max(A["min_replicas"], math.ceil(
            peak / 1e9 * f["distributor_cpu_kafka"] / (A["distributor"][0] * util)))
        filt = gb_day * A["filter_scan_per_ingest"]
        metr = gb_day * A["metric_scan_per_ingest"]
        r = A["recent_share"]
        q_cpu_day = (filt / f["scan_filter_gb_cpu_s"] * (r * f["rf3_filter_factor"] + 1 - r)
                     + metr / f["scan_metric_gb_cpu_s"] * (r * f["rf3_metric_factor"] + 1 - r))
        p["query_cores"] = q_cpu_day / DAY_S * A["query_peak_to_average"]
        p["queriers"] = max(A["min_replicas"], math.ceil(p["query_cores"] / (A["querier"][0] * util)))
        share = A["largest_tenant_share"]
        p["tenant_rate_mb"] = math.ceil(peak / 1e6 * share * 1.5)
        p["tenant_streams"] = int(ceil_to(streams * share * 1.5, 1000))
        # Object storage, per day.
        chunks_per_stream = max(DAY_S / A["max_chunk_age_s"],
                                stream_rate * DAY_S * c / A["chunk_target_size"])
        chunks = streams * chunks_per_stream
        raw_per_chunk = stream_rate * DAY_S / chunks_per_stream
        sweeps = DAY_S / A["flush_check_period_s"]
        per_sweep = chunks * rf / p["ingesters"] / sweeps
        index_puts = p["ingesters"] * min(A["tenants"], math.ceil(per_sweep)) * sweeps
        compactor_index = A["tenants"] * DAY_S / A["compaction_interval_s"]
        store_scan = (filt + metr) * (1 - r)
        queries = gb_day * A["queries_per_gb_day"]
        s3 = {"stored_gb_day": gb_day * c, "at_rest_gb": gb_day * c * A["retention_days"],
              "chunks": chunks, "chunk_kb": raw_per_chunk * c / 1e3,
              "put_ingesters": rf * chunks, "put_compactor": chunks, "put_index": index_puts + compactor_index,
              "get_queries": store_scan * 1e9 / raw_per_chunk, "get_compactor": rf * chunks + index_puts,
              "list": queries * A["splits_per_query"]}
        # The Kafka path flushes one copy: nothing for the compactor to merge.
        kafka_index = p["kafka_ingesters"] / 2 * min(A["tenants"], math.ceil(
            chunks / (p["kafka_ingesters"] / 2) / sweeps)) * sweeps + compactor_index
        s3["kafka_put"] = chunks + kafka_index
        s3["kafka_get"] = s3["get_queries"] + kafka_index
        m = A["days_per_month"]
        s3["cost_storage"] = storage_price(s3["at_rest_gb"])
        s3["puts"] = s3["put_ingesters"] + s3["put_compactor"] + s3["put_index"]
        s3["gets"] = s3["get_queries"] + s3["get_compactor"]
        s3["cost_put"] = (s3["puts"] + s3["list"]) * m / 1000 * A["price_put_per_1000"]
        s3["cost_get"] = s3["gets"] * m / 1000 * A["price_get_per_1000"]
        s3["cost_kafka_requests"] = ((s3["kafka_put"] + s3["list"]) * m / 1000 * A["price_put_per_1000"]
                                     + s3["kafka_get"] * m / 1000 * A["price_get_per_1000"])
        s3["peak_put_s_tenant"] = s3["puts"] / DAY_S * A["peak_to_average"] * share
        p["s3"] = s3
        plans[name] = p

    base_plan = plans[next(iter(plans))]
    hpa_max = 2 * plans[list(plans)[-1]]["distributors"]
    flush_s, grace_s = grace(s_pod)
    single_streams = base_plan["streams"]
    single_flush, single_grace = grace(single_streams)
    pods = {
        "ingester": {"cpu_request": ing_cpu_req, "cpu_limit": ing_cpu_lim,
                     "memory_mib": int(ceil_to(pod_memory(s_pod) / MIB, 256)), "streams": s_pod,
                     "chunk_memory_budget_mib": int(ceil_to(s_pod * chunk_full / MIB, 64)),
                     "pvc_gib": pvc(s_pod, plans[list(plans)[-1]]["wal_mb_s_per_ingester"] * 1e6),
                     "flush_s": flush_s, "grace_s": grace_s,
                     "replay_s": unflushed_raw(s_pod) / (f["replay_mb_s"] * 1e6),
                     "unflushed_raw_gb": unflushed_raw(s_pod) / 1e9},
        "single-binary": {"cpu_request": A["single_binary_cpu"][0], "cpu_limit": A["single_binary_cpu"][1],
                          "memory_mib": int(ceil_to(pod_memory(single_streams) / MIB, 256)),
                          "streams": single_streams,
                          "chunk_memory_budget_mib": int(ceil_to(single_streams * chunk_full / MIB, 64)),
                          "pvc_gib": pvc(single_streams, base_plan["peak_mb_s"] * 1e6),
                          "flush_s": single_flush, "grace_s": single_grace,
                          "cores_at_peak": base_plan["peak_mb_s"] / 1e3 * f["single_cpu"]},
    }
    for comp in ("distributor", "querier", "query_frontend", "compactor", "etcd"):
        req, lim, mem = A[comp]
        pods[comp.replace("_", "-")] = {"cpu_request": req, "cpu_limit": lim, "memory_mib": int(mem * 1024)}
    pods["distributor"].update({"hpa_min": base_plan["distributors"], "hpa_max": hpa_max,
                                "hpa_cpu_percent": int(util * 100)})
    model = {"compressed_per_raw": c, "stream_rate_b_s": stream_rate, "chunk_full_bytes": chunk_full,
             "overhead_base_mb": base / 1e6, "overhead_per_stream_kb": per_stream / 1e3}
    return {"plans": plans, "pods": pods, "model": model, "figures": fig}


def bottlenecks(res):
    """Each limit of the first plan as deployed, as the multiple of its volume at which it is
    reached, sorted; with the headroom the last plan leaves on the same limit."""
    A = ASSUMPTIONS
    first, last = list(res["plans"].values())[0], list(res["plans"].values())[-1]
    pods = res["pods"]
    share = A["largest_tenant_share"]

    def rows(p, rate_mb, streams):
        dist_max = pods["distributor"]["hpa_max"]
        return [
            ("largest tenant's ingestion rate (`ingestion_rate_mb`)",
             rate_mb / (p["peak_mb_s"] * share), "429 `rate_limited` for that tenant"),
            ("largest tenant's streams (`max_global_streams_per_user`)",
             streams / (p["streams"] * share), "429 `stream_limit` for that tenant"),
            ("ingester memory (streams per ingester against the pod's budget)",
             p["ingesters"] * pods["ingester"]["streams"] / (p["streams"] * A["replication_factor"]),
             "early flushes into smaller chunks, then OOM kills and WAL replays"),
            ("ingester CPU (requests at peak)",
             p["ingesters"] * pods["ingester"]["cpu_request"] / p["ingester_cores"], "push latency, then timeouts"),
            ("querier CPU (requests at the query peak)",
             p["queriers"] * pods["querier"]["cpu_request"] / p["query_cores"], "slow queries, 429 from the queue"),
            ("distributor CPU (HPA at its maximum)",
             dist_max * pods["distributor"]["cpu_request"] / p["distributor_cores"], "push latency, 5xx"),
            ("S3 PUT rate of the largest tenant's prefix (3,500/s)",
             A["s3_put_per_s_per_prefix"] / p["s3"]["peak_put_s_tenant"], "503 SlowDown, flush retries"),
        ]

    # As deploy/kubernetes ships (Loki's default limits), then the larger plan with its overrides.
    a = rows(first, A["default_ingestion_rate_mb"], A["default_max_global_streams_per_user"])
    b = {name: k for name, k, _ in rows(last, last["tenant_rate_mb"], last["tenant_streams"])}
    return sorted(((name, k, b[name], effect) for name, k, effect in a), key=lambda r: r[1])


# --- rendering ------------------------------------------------------------------------------------


def n(x, digits=0):
    return f"{x:,.{digits}f}"


def money(x):
    return f"${x:,.0f}"


def cores(x):
    return f"{x:g}"


def render(res):
    A = ASSUMPTIONS
    plans, pods, fig, model = res["plans"], res["pods"], res["figures"], res["model"]
    names = list(plans)
    blocks = {}

    def row(label, fn):
        return f"| {label} | " + " | ".join(fn(plans[k]) for k in names) + " |"

    head = "| | " + " | ".join(names) + " |\n| --- |" + " --- |" * len(names)

    share = int(A["largest_tenant_share"] * 100)
    blocks["assumptions"] = "\n".join([
        "| assumption | value |", "| --- | --- |",
        "| volume | " + " and ".join(names)
        + " of raw log lines (what `loki_distributor_bytes_received_total` counts) |",
        f"| busiest hour against the daily mean | {A['peak_to_average']:g}x |",
        f"| mean line | {n(fig['line_bytes'][0], 1)} bytes (the benchmark corpus, so the per-GB figures apply) |",
        f"| active streams | {A['streams_per_gb_day']} per GB/day: "
        + " and ".join(f"{n(plans[k]['streams'])}" for k in names) + f" ({n(model['stream_rate_b_s'])} bytes/s each) |",
        f"| tenants | {A['tenants']}; the largest sends {share}% of the bytes and holds {share}% of the streams |",
        f"| retention | {A['retention_days']} days (`limits_config.retention_period: {A['retention_days'] * 24}h`) |",
        f"| replication | RF {A['replication_factor']} over {A['zones']} zones (the direct write path); "
        "Kafka as the alternative |",
        f"| queries | a day's searches scan {A['filter_scan_per_ingest']:g}x and its metric queries "
        f"{A['metric_scan_per_ingest']:g}x the day's ingest; {int(A['recent_share'] * 100)}% of those bytes are "
        f"younger than `query_ingesters_within` (read from every replica); busiest hour "
        f"{A['query_peak_to_average']:g}x the mean; {A['queries_per_gb_day']} queries per GB/day of "
        f"{A['splits_per_query']} splits each |",
        f"| headroom | {int(A['cpu_target_utilisation'] * 100)}% CPU at peak (the distributors' HPA target); "
        f"memory model x{A['memory_margin']:g}; grace period x{A['grace_margin']:g} + {A['grace_extra_s']} s |",
        f"| not measured here | S3 PUT latency {A['s3_put_latency_s'] * 1000:.0f} ms; the memory of distributors, "
        "queriers, frontends, the compactor and etcd (starting points, to be checked against "
        "`container_memory_working_set_bytes`) |",
    ])

    def src(key):
        return re.sub(r"(?<!\\)\|", r"\\|", fig[key][1])

    per_core = lambda cpu_s: f"{1000 / cpu_s:,.0f}"  # noqa: E731  MB raw per second per core
    blocks["throughput"] = "\n".join([
        "| component, work | CPU-s per GB raw | MB raw per s per core | bench/RESULTS.md |",
        "| --- | --- | --- | --- |",
        f"| distributor, direct RF 3 (validate, replicate) | {fig['distributor_cpu_direct'][0]:g} | "
        f"{per_core(fig['distributor_cpu_direct'][0])} | {src('distributor_cpu_direct')} |",
        f"| ingesters, direct RF 3 (all three copies: WAL, chunks, flush) | {fig['ingester_cpu_direct'][0]:g} | "
        f"{per_core(fig['ingester_cpu_direct'][0])} | {src('ingester_cpu_direct')} |",
        f"| distributor, Kafka writes | {fig['distributor_cpu_kafka'][0]:g} | "
        f"{per_core(fig['distributor_cpu_kafka'][0])} | {src('distributor_cpu_kafka')} |",
        f"| ingester, Kafka (one owner per partition) | {fig['ingester_cpu_kafka'][0]:g} | "
        f"{per_core(fig['ingester_cpu_kafka'][0])} | {src('ingester_cpu_kafka')} |",
        f"| single binary, push + flush | {fig['single_cpu'][0]:g} | {per_core(fig['single_cpu'][0])} | "
        f"{src('single_cpu')} |",
        f"| querier, full-scan line filter | {1 / fig['scan_filter_gb_cpu_s'][0]:.1f} | "
        f"{fig['scan_filter_gb_cpu_s'][0] * 1000:,.0f} | {src('scan_filter_gb_cpu_s')} |",
        f"| querier, label-only metric query | {1 / fig['scan_metric_gb_cpu_s'][0]:.1f} | "
        f"{fig['scan_metric_gb_cpu_s'][0] * 1000:,.0f} | {src('scan_metric_gb_cpu_s')} |",
        f"| querier, RF 3 data still in ingesters (x the store's cost) | filter {fig['rf3_filter_factor'][0]:g}x, "
        f"metric {fig['rf3_metric_factor'][0]:g}x | | {src('rf3_filter_factor')}; {src('rf3_metric_factor')} |",
        f"| ingester, WAL replay | | {fig['replay_mb_s'][0]:g} (wall) | {src('replay_mb_s')} |",
        f"| ingester, flush at shutdown | {fig['flush_s_per_gb'][0]:g} s per GB raw + "
        f"{fig['flush_ms_per_chunk'][0]:g} ms per chunk (wall, 2 shared cores) | | {src('flush_s_per_gb')} |",
        f"| stored bytes (chunks + index) | {fig['stored_mb_per_gb'][0]:g} MB per GB raw | | "
        f"{src('stored_mb_per_gb')} |",
        f"| ingester memory: RSS = {model['overhead_base_mb']:.0f} MB + {model['overhead_per_stream_kb']:.1f} KB "
        "per stream + unflushed bytes | | | Issue 14: RSS MB and unflushed MB of the 1,000 and 10,000 rows |",
    ])

    ing = pods["ingester"]
    blocks["plan"] = "\n".join([
        head,
        row("ingest, mean / peak MB/s", lambda p: f"{p['avg_mb_s']:.1f} / {p['peak_mb_s']:.1f}"),
        row("lines/s at peak", lambda p: n(p["peak_lines_s"])),
        row("distributors (1 core each)", lambda p: f"{p['distributors']} ({p['distributor_cores']:.2f} "
            f"cores at peak)"),
        row("ingesters (per zone), bound by", lambda p: f"{p['ingesters']} ({p['ingesters'] // A['zones']}), "
            f"{p['ingester_bound']}"),
        row("streams per ingester (pod holds up to " + n(ing["streams"]) + ")",
            lambda p: n(p["streams_per_ingester"])),
        row("ingester CPU at peak, all pods", lambda p: f"{p['ingester_cores']:.1f} cores"),
        row("WAL writes per ingester at peak", lambda p: f"{p['wal_mb_s_per_ingester']:.1f} MB/s"),
        row("queriers (2 cores each)", lambda p: f"{p['queriers']} ({p['query_cores']:.1f} cores at the query peak)"),
        row("query frontend / compactor / etcd", lambda p: "1 / 1 / 3"),
        row("Kafka instead: partitions; ingesters (2 owners each)",
            lambda p: f"{p['partitions']}; {p['kafka_ingesters']}"),
        row("Kafka instead: distributors", lambda p: str(p["kafka_distributors"])),
        row("largest tenant: `ingestion_rate_mb`; `max_global_streams_per_user` (1.5x its peak)",
            lambda p: f"{p['tenant_rate_mb']}; {n(p['tenant_streams'])}"),
    ])

    def q(mib):
        return f"{mib // 1024}Gi" if mib % 1024 == 0 else f"{mib}Mi"

    sb = pods["single-binary"]
    blocks["pods"] = "\n".join([
        "| pod | CPU request / limit | memory request = limit | also |", "| --- | --- | --- | --- |",
        f"| ingester | {cores(ing['cpu_request'])} / {cores(ing['cpu_limit'])} | {q(ing['memory_mib'])} | "
        f"{n(ing['streams'])} streams; `chunk_memory_budget: {ing['chunk_memory_budget_mib']}MB`; WAL volume "
        f"{ing['pvc_gib']}Gi; {ing['unflushed_raw_gb']:.1f} GB raw unflushed at most: flush {ing['flush_s']:.0f} s, "
        f"`terminationGracePeriodSeconds: {ing['grace_s']}`; replay {ing['replay_s']:.0f} s |",
        f"| distributor | {cores(pods['distributor']['cpu_request'])} / {cores(pods['distributor']['cpu_limit'])} | "
        f"{q(pods['distributor']['memory_mib'])} | HPA "
        f"{pods['distributor']['hpa_min']}-{pods['distributor']['hpa_max']} "
        f"replicas at {pods['distributor']['hpa_cpu_percent']}% CPU |",
        f"| querier | {cores(pods['querier']['cpu_request'])} / {cores(pods['querier']['cpu_limit'])} | "
        f"{q(pods['querier']['memory_mib'])} | |",
        f"| query-frontend | {cores(pods['query-frontend']['cpu_request'])} / "
        f"{cores(pods['query-frontend']['cpu_limit'])} | {q(pods['query-frontend']['memory_mib'])} | |",
        f"| compactor | {cores(pods['compactor']['cpu_request'])} / {cores(pods['compactor']['cpu_limit'])} | "
        f"{q(pods['compactor']['memory_mib'])} | |",
        f"| etcd | {cores(pods['etcd']['cpu_request'])} / {cores(pods['etcd']['cpu_limit'])} | "
        f"{q(pods['etcd']['memory_mib'])} | |",
        f"| single binary ({names[0]}, RF 1, no redundancy) | {cores(sb['cpu_request'])} / {cores(sb['cpu_limit'])} "
        f"| {q(sb['memory_mib'])} | {n(sb['streams'])} streams; "
        f"`chunk_memory_budget: {sb['chunk_memory_budget_mib']}MB`; "
        f"volume {sb['pvc_gib']}Gi; `terminationGracePeriodSeconds: {sb['grace_s']}`; ingest alone "
        f"{sb['cores_at_peak']:.2f} cores at peak |",
    ])

    def s3row(label, fn):
        return row(label, lambda p: fn(p["s3"]))

    blocks["storage"] = "\n".join([
        head,
        s3row("stored per day; at rest after retention", lambda s: f"{s['stored_gb_day']:,.0f} GB; "
              f"{s['at_rest_gb'] / 1000:,.1f} TB"),
        s3row("chunks per day (one copy); mean chunk", lambda s: f"{n(s['chunks'])}; {s['chunk_kb']:.0f} KB"),
        s3row("PUT per day: ingesters (RF copies) + compactor + index", lambda s: f"{n(s['put_ingesters'])} + "
              f"{n(s['put_compactor'])} + {n(s['put_index'])}"),
        s3row("GET per day: queries (no cache hits) + compactor", lambda s: f"{n(s['get_queries'])} + "
              f"{n(s['get_compactor'])}"),
        s3row("LIST per day (queries)", lambda s: n(s["list"])),
        s3row("per month: storage", lambda s: money(s["cost_storage"])),
        s3row("per month: PUT + LIST", lambda s: money(s["cost_put"])),
        s3row("per month: GET", lambda s: money(s["cost_get"])),
        s3row("**per month, direct RF 3**",
              lambda s: f"**{money(s['cost_storage'] + s['cost_put'] + s['cost_get'])}**"),
        s3row("per month, Kafka writes (one copy flushed)",
              lambda s: money(s["cost_storage"] + s["cost_kafka_requests"])),
    ])

    b_rows = bottlenecks(res)
    blocks["bottlenecks"] = "\n".join(
        [f"| # | limit | {names[0]} plan with Loki's default limits: reached at (x its volume) | "
         f"{names[-1]} plan with its overrides: headroom | what happens there |", "| --- | --- | --- | --- | --- |"]
        + [f"| {i} | {name} | {k:.1f}x | {k2:.1f}x | {effect} |" for i, (name, k, k2, effect) in enumerate(b_rows, 1)])
    return blocks


def wrap(name, body):
    return f"<!-- sizing.py:{name} begin -->\n{body}\n<!-- sizing.py:{name} end -->"


def _markers(name):
    return re.compile(rf"<!-- sizing.py:{name} begin -->\n(.*?)<!-- sizing.py:{name} end -->", re.S)


def embedded(text, name):
    """The table between the guide's markers for `name` ('' when empty), or None without markers."""
    m = _markers(name).search(text)
    return m.group(1).rstrip("\n") if m else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default=str(RESULTS))
    ap.add_argument("--guide", default=str(GUIDE))
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        res = compute(read_figures(args.results))
    except MissingFigure as e:
        print(f"sizing.py: missing benchmark figure: {e}", file=sys.stderr)
        return 2
    blocks = render(res)
    if args.json:
        print(json.dumps({"plans": res["plans"], "pods": res["pods"], "model": res["model"]}, indent=1))
        return 0
    if not (args.check or args.write):
        print("\n\n".join(wrap(k, v) for k, v in blocks.items()))
        return 0
    text = Path(args.guide).read_text()
    stale = [k for k, v in blocks.items() if embedded(text, k) != v]
    if args.check:
        for k in stale:
            print(f"sizing.py: {args.guide}: table '{k}' differs from tools/sizing.py's output "
                  "(run tools/sizing.py --write)", file=sys.stderr)
        return 1 if stale else 0
    for k in stale:
        if embedded(text, k) is None:
            print(f"sizing.py: {args.guide} has no markers for '{k}'", file=sys.stderr)
            return 1
        text = _markers(k).sub(lambda _: wrap(k, blocks[k]), text)
    Path(args.guide).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
