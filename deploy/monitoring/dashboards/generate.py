#!/usr/bin/env python3
"""Writes sluice's Grafana dashboards (sluice-*.json beside this file) from the panel lists below.

    deploy/monitoring/dashboards/generate.py           rewrite the JSON files
    deploy/monitoring/dashboards/generate.py --check   exit 1 if a file differs from what is here

The JSON files are what Grafana imports (or a provisioning directory mounts); this script is
where they are edited, so that every panel has the same shape: a `datasource` variable,
`cluster` and `job` variables on every dashboard (`tenant` on the tenants one), every selector
restricted by them, ids and grid positions assigned in order. tests/monitoring/test_dashboards.py
checks the files are up to date and runs every panel's PromQL against a real Prometheus scraping
a real sluice.

Metric names are Loki's where sluice counts the same thing (loki-mixin users recognise them);
sluice's own are prefixed `sluice_`.
"""

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Every panel's selector: the instances of the chosen clusters and jobs.
SEL = 'cluster=~"$cluster", job=~"$job"'
RATE = "$__rate_interval"

# Route names are Loki's ("/loki/api/v1/push" -> loki_api_v1_push).
PUSH_ROUTES = ("loki_api_v1_push|api_prom_push|otlp_v1_logs|insert_jsonline|"
               "insert_elasticsearch_bulk|insert_elasticsearch_index_bulk")
READ_ROUTES = ("loki_api_v1_(query|query_range|labels?|label_name_values|series|index_stats|"
               "index_volume|index_volume_range|detected_labels|detected_fields|"
               "detected_field_name_values|patterns|tail)|"
               "api_prom_(query|label|label_name_values|tail)")

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


# --- PromQL building blocks ----------------------------------------------------------------------

def sel(extra=""):
    return "{" + SEL + (", " + extra if extra else "") + "}"


def rate(metric, extra="", by=None):
    inner = f"rate({metric}{sel(extra)}[{RATE}])"
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def quantile(q, histogram, by=None, extra=""):
    grouping = f"le, {by}" if by else "le"
    return (f"histogram_quantile({q}, sum by ({grouping}) "
            f"(rate({histogram}_bucket{sel(extra)}[{RATE}])))")


def ratio_or_zero(counter, bad, by, extra):
    """Share of `counter` whose labels match `bad`, per `by`; 0 (not "No data") where none did."""
    scope = extra + ", " if extra else ""
    total = rate(counter, extra, by)
    return f"({rate(counter, scope + bad, by)} or 0 * {total}) / {total}"


# --- panel constructors --------------------------------------------------------------------------

def target(expr, legend=""):
    return {"expr": expr, "legend": legend}


def panel(title, description, targets, unit="short", width=8, kind="timeseries", stack=False,
          no_value=None, minimum=None):
    return {"title": title, "description": description, "targets": targets, "unit": unit,
            "width": width, "kind": kind, "stack": stack, "no_value": no_value,
            "min": minimum}


def row(title, panels):
    return {"row": title, "panels": panels}


def p99_and_p50(histogram, by=None, extra=""):
    """Two targets: the 99th and 50th percentiles of `histogram`, per `by` (one label) if set."""
    return [target(quantile(q, histogram, by, extra), f"{name} {{{{{by}}}}}" if by else name)
            for q, name in ((0.99, "p99"), (0.5, "p50"))]


# The RED panels of a set of HTTP routes (every sluice process counts its requests in
# loki_request_duration_seconds, by route and status code).
def route_requests(title, description, routes):
    return panel(title, description,
                 [target(rate("loki_request_duration_seconds_count", f'route=~"{routes}"',
                              "route, status_code"), "{{route}} {{status_code}}")],
                 unit="reqps", stack=True)


def route_errors(title, description, routes):
    return panel(title, description,
                 [target(ratio_or_zero("loki_request_duration_seconds_count",
                                       'status_code=~"5.."', "route", f'route=~"{routes}"'),
                         "{{route}}")],
                 unit="percentunit", minimum=0)


def route_latency(title, description, routes, extra=""):
    matchers = f'route=~"{routes}"' + (", " + extra if extra else "")
    return panel(title, description,
                 p99_and_p50("loki_request_duration_seconds", "route", matchers), unit="s")


# --- the dashboards ------------------------------------------------------------------------------

WRITES = {
    "uid": "sluice-writes",
    "title": "sluice / Writes",
    "description": "The push path: distributors (validation, limits, replication or Kafka) as "
                   "clients see it.",
    "rows": [
        row("Push requests", [
            route_requests(
                "Push requests by route and status",
                "Requests per second on every push route (Loki's, OTLP, JSON lines, "
                "Elasticsearch bulk), by HTTP status. 4xx are refused pushes (limits, "
                "validation); 5xx are sluice's failures (no quorum of ingesters, Kafka down, "
                "memory budget exhausted).", PUSH_ROUTES),
            route_errors(
                "Push 5xx ratio by route",
                "Share of push requests answered 5xx, per route: what SluiceRequestErrors "
                "alerts on. Clients retry 5xx, so a sustained ratio means a backlog growing at "
                "the agents.", PUSH_ROUTES),
            route_latency(
                "Push latency by route",
                "p99 and p50 of push requests, from receipt to answer (validation, WAL write "
                "and replication included): what SluiceRequestLatency alerts on.", PUSH_ROUTES),
        ]),
        row("Received and discarded", [
            panel("Bytes received per tenant",
                  "Uncompressed bytes of lines and structured metadata received, before "
                  "validation and limits (what the rate limit is measured in).",
                  [target(rate("loki_distributor_bytes_received_total", by="tenant"),
                          "{{tenant}}")],
                  unit="Bps", stack=True),
            panel("Lines received per tenant",
                  "Lines received, before validation and limits.",
                  [target(rate("loki_distributor_lines_received_total", by="tenant"),
                          "{{tenant}}")],
                  unit="short", stack=True),
            panel("Discarded lines by reason and tenant",
                  "Lines not stored, by Loki's reason names: rate_limited, per_stream_rate_limit "
                  "and stream_limit are limits (SluiceTenantRateLimited, SluiceStreamRateLimited); "
                  "the others are validation (SluiceDiscardedLines). The reason's value is the "
                  "limit to look at in limits_config.",
                  [target(rate("loki_discarded_samples_total", by="reason, tenant"),
                          "{{reason}} {{tenant}}")],
                  unit="short", no_value="0"),
        ]),
        row("Replication to ingesters (cluster)", [
            panel("Appends per ingester",
                  "Batches sent to each ingester per second. Uneven shares mean uneven tokens "
                  "or a hot stream.",
                  [target(rate("loki_distributor_ingester_appends_total", by="ingester"),
                          "{{ingester}}")],
                  unit="short"),
            panel("Replication failures per ingester",
                  "Batches an ingester did not acknowledge (timeout, unavailable, breaker open). "
                  "One ingester failing costs no push while a quorum answers; failures on two "
                  "(of RF 3) for the same streams fail pushes with 503.",
                  [target(rate("loki_distributor_ingester_append_failures_total", by="ingester"),
                          "{{ingester}}")],
                  unit="short", no_value="0"),
            panel("Push latency per ingester",
                  "p99 of the distributors' pushes to each ingester, answered or not: a slow "
                  "ingester stands out from its peers before its breaker opens, which the "
                  "quorum otherwise hides (SluiceIngesterSlow).",
                  [target(quantile(0.99, "loki_ingester_client_request_duration_seconds",
                                   "ingester", 'operation="/logproto.Pusher/Push"'),
                          "{{ingester}}")],
                  unit="s"),
            panel("Circuit breakers open",
                  "1 while the distributor's circuit breaker to an ingester is open or half-open: "
                  "pushes to it fail at once instead of waiting out "
                  "ingester_client.remote_timeout. A hung (SIGSTOPped, swapping) ingester keeps "
                  "it open; a restarted one closes it with its first heartbeat.",
                  [target(f"max by (ingester) (sluice_ingester_client_circuit_breaker_open{sel()})",
                          "{{ingester}}")],
                  unit="short", minimum=0),
            panel("Circuit breaker transitions",
                  "State changes of the breakers, by the state entered (open, half_open, "
                  "closed).",
                  [target("sum by (ingester, state) (increase(sluice_ingester_client_circuit_"
                          f"breaker_transitions_total{sel()}[{RATE}]))",
                          "{{ingester}} {{state}}")],
                  unit="short", no_value="0"),
        ]),
        row("Kafka writes", [
            panel("Kafka appends by status",
                  "Stream records produced to Kafka per second by the distributors, by outcome. "
                  "Failures answer the push 5xx (timeout, brokers down) or 429 (producer buffer "
                  "full).",
                  [target(rate("loki_distributor_kafka_appends_total", by="status"),
                          "{{status}}")],
                  unit="short"),
            panel("Kafka produce failures by reason",
                  "Produce requests Kafka refused or that timed out (kafka_config.write_timeout).",
                  [target(rate("loki_kafka_client_produce_failures_total", by="reason"),
                          "{{reason}}")],
                  unit="short", no_value="0"),
            panel("Kafka write latency",
                  "p99 and p50 of writing one push to Kafka (acks=all).",
                  p99_and_p50("loki_distributor_kafka_latency_seconds"),
                  unit="s"),
            panel("Kafka consumer lag by partition",
                  "Records of each partition its ingesters' consumer group has not committed "
                  "(the distributors' lag monitor) and the age of the last record the owning "
                  "ingester applied while it lags: what SluiceKafkaConsumerLag alerts on.",
                  [target(f"max by (partition) (sluice_kafka_consumer_group_lag_records{sel()})",
                          "records p{{partition}}"),
                   target(f"max by (partition) (sluice_kafka_reader_lag_seconds{sel()})",
                          "seconds p{{partition}}")],
                  unit="short", width=24),
        ]),
    ],
}

READS = {
    "uid": "sluice-reads",
    "title": "sluice / Reads",
    "description": "The query path: query frontend, queriers, their reads of ingesters and "
                   "the store.",
    "rows": [
        row("Query requests", [
            route_requests(
                "Query requests by route and status",
                "Requests per second on the read API, by route and HTTP status. 429 is the "
                "frontend's full queue (frontend.max_outstanding_per_tenant) or a query "
                "limit; 504 a query past limits_config.query_timeout.", READ_ROUTES),
            route_errors("Query 5xx ratio by route",
                         "Share of read requests answered 5xx, per route.", READ_ROUTES),
            route_latency(
                "Query latency by route",
                "p99 and p50 of read requests: what SluiceQueryLatency alerts on. The tail "
                "route is a websocket held open; it is left out.", READ_ROUTES,
                'route!~".*tail"'),
        ]),
        row("Query frontend and queriers", [
            panel("Query frontend queue length",
                  "Sub-queries waiting in the frontend's per-tenant queues (a multi-tenant "
                  "query's under \"a|b\"): what SluiceQueryQueueBacklog alerts on. Past "
                  "frontend.max_outstanding_per_tenant the tenant's new queries get 429.",
                  [target(f"sum by (user) (loki_query_frontend_queue_length{sel()})",
                          "{{user}}")],
                  unit="short"),
            panel("Querier ingester failures by operation",
                  "Ingester calls of queriers' reads that failed (skipped while the ring "
                  "tolerates it, else the query fails with 503 naming them).",
                  [target(rate("sluice_querier_ingester_failures_total", by="operation"),
                          "{{operation}}")],
                  unit="short", no_value="0"),
        ]),
        row("Blocks read", [
            panel("Blocks scanned and skipped",
                  "Stored blocks in the range of queries' streams per second: decompressed, "
                  "ruled out by their bloom filter without reading, and decompressed without a "
                  "match.",
                  [target(rate("sluice_query_blocks_total"), "in range"),
                   target(rate("sluice_query_blocks_decompressed_total"), "decompressed"),
                   target(rate("sluice_query_blocks_skipped_by_bloom_total"), "skipped by bloom"),
                   target(rate("sluice_query_blocks_skipped_by_scan_total"),
                          "decompressed, no match")],
                  unit="short"),
            panel("Blocks skipped by bloom filters",
                  "Share of blocks in range that bloom filters ruled out: high for needle "
                  "queries (|= \"trace-id\"), near 0 for metric queries over whole streams. A "
                  "drop for the same dashboards means chunks without blooms "
                  "(ingester.chunk_flush_blooms).",
                  [target(f"{rate('sluice_query_blocks_skipped_by_bloom_total')} / "
                          f"{rate('sluice_query_blocks_total')}", "skipped")],
                  unit="percentunit", minimum=0),
        ]),
    ],
}

INGESTER = {
    "uid": "sluice-ingester",
    "title": "sluice / Ingester",
    "description": "Ingesters: streams and memory, the WAL, checkpoints, flushes, the ring.",
    "rows": [
        row("Streams and memory", [
            panel("Streams in memory by instance",
                  "Streams each ingester holds (with RF 3, every stream is on three).",
                  [target(f"sum by (instance) (loki_ingester_memory_streams{sel()})",
                          "{{instance}}")],
                  unit="short"),
            panel("Streams created and removed",
                  "Streams created (first push) and removed (flushed and idle) per second.",
                  [target(rate("loki_ingester_streams_created_total"), "created"),
                   target(rate("loki_ingester_streams_removed_total"), "removed")],
                  unit="short"),
            panel("Unflushed bytes against the memory budget",
                  "Bytes of heads and compressed blocks not yet in the object store, per "
                  "ingester, and its budget (ingester.head_memory_budget, raised to 16KB a "
                  "stream, plus ingester.chunk_memory_budget). Past the budget chunks are "
                  "flushed early; past it while the store fails (or past twice it), pushes get "
                  "503. The process' resident memory is drawn too: the rest is queries, "
                  "caches and buffers.",
                  [target(f"max by (instance) (sluice_ingester_unflushed_bytes{sel()})",
                          "unflushed {{instance}}"),
                   target(f"max by (instance) (sluice_ingester_memory_budget_bytes{sel()})",
                          "budget {{instance}}"),
                   target(f"max by (instance) (process_resident_memory_bytes{sel()} "
                          f"and on (instance) sluice_ingester_unflushed_bytes{sel()})",
                          "resident {{instance}}")],
                  unit="bytes"),
            panel("Pushes refused: memory budget exhausted",
                  "Pushes answered 503 \"ingester memory budget exhausted\" because chunks "
                  "waiting for the object store filled the budget.",
                  [target(rate("sluice_ingester_pushes_refused_total", by="instance"),
                          "{{instance}}")],
                  unit="short", no_value="0"),
            panel("Duplicate entries dropped",
                  "Entries dropped because the stream already held them: retried pushes, or "
                  "Kafka records read again after a restart. Harmless; a steady high rate means "
                  "clients retrying pushes that succeeded.",
                  [target(rate("sluice_ingester_duplicate_entries_total", by="instance"),
                          "{{instance}}")],
                  unit="short", no_value="0"),
        ]),
        row("WAL", [
            panel("WAL fsync latency",
                  "p99 and p50 of the WAL's fsyncs (ingester.wal.fsync=batch: one per group of "
                  "concurrent pushes, on the push's path): what SluiceWALFsyncSlow alerts on.",
                  p99_and_p50("loki_ingester_wal_fsync_duration_seconds", "instance"),
                  unit="s"),
            panel("WAL bytes written",
                  "Bytes written to WAL segments and to checkpoints per second.",
                  [target(rate("loki_ingester_wal_logged_bytes_total", by="instance"),
                          "segments {{instance}}"),
                   target(rate("loki_ingester_checkpoint_logged_bytes_total", by="instance"),
                          "checkpoints {{instance}}")],
                  unit="Bps"),
            panel("WAL records written",
                  "WAL records (one per group-committed push batch) per second.",
                  [target(rate("loki_ingester_wal_records_logged_total", by="instance"),
                          "{{instance}}")],
                  unit="short"),
            panel("WAL replay",
                  "The last replay's duration, and while one runs (loki_ingester_wal_replay_active "
                  "= 1, /ready 503), its progress: what SluiceWALReplayTooLong alerts on. "
                  "Flushing = 1 means replay passed ingester.wal.replay_memory_ceiling and "
                  "flushes as it goes.",
                  [target(f"max by (instance) (loki_ingester_wal_replay_duration_seconds{sel()})",
                          "duration {{instance}}"),
                   target(f"max by (instance) (loki_ingester_wal_replay_active{sel()})",
                          "active {{instance}}"),
                   target(f"max by (instance) (sluice_ingester_wal_replay_progress_ratio{sel()})",
                          "progress {{instance}}"),
                   target(f"max by (instance) (loki_ingester_wal_replay_flushing{sel()})",
                          "flushing {{instance}}")],
                  unit="short"),
            panel("Recovered by the last replay",
                  "Entries and bytes the process recovered from its WAL when it started (counters "
                  "since start), and torn or corrupt tails it truncated.",
                  [target(f"max by (instance) (loki_ingester_wal_recovered_entries_total{sel()})",
                          "entries {{instance}}"),
                   target(f"max by (instance) (loki_ingester_wal_recovered_bytes_total{sel()})",
                          "bytes {{instance}}"),
                   target(f"max by (instance) (loki_ingester_wal_corruptions_total{sel()})",
                          "corrupt tails {{instance}}")],
                  unit="short"),
            panel("Checkpoints",
                  "Checkpoints written per second (every ingester.wal.checkpoint_duration, and "
                  "after memory flushes), and failed ones: while they fail, WAL segments are "
                  "not deleted and replay grows.",
                  [target(rate("loki_ingester_checkpoint_creations_total", by="instance"),
                          "written {{instance}}"),
                   target(rate("loki_ingester_checkpoint_creations_failed_total", by="instance"),
                          "failed {{instance}}")],
                  unit="short"),
        ]),
        row("Flushes", [
            panel("Chunks flushed by reason",
                  "Chunks stored per second by why they were closed: full "
                  "(chunk_target_size), idle (chunk_idle_period), max_age, memory (the budget), "
                  "forced (/flush, shutdown).",
                  [target(rate("loki_ingester_chunks_flushed_total", by="reason"), "{{reason}}")],
                  unit="short", stack=True),
            panel("Flush failures",
                  "Chunk flushes that failed and will be retried (after "
                  "ingester.flush_op_backoff): the object store refused or timed out. What "
                  "SluiceFlushFailures alerts on.",
                  [target(rate("sluice_ingester_flush_failures_total", by="instance"),
                          "{{instance}}")],
                  unit="short", no_value="0"),
            panel("Flush queue length",
                  "Chunks closed and waiting to be stored (during a flush, those it still has "
                  "to store; after it, those that failed and wait for the next): what "
                  "SluiceFlushQueueBacklog alerts on.",
                  [target(f"sum by (instance) (loki_ingester_flush_queue_length{sel()})",
                          "{{instance}}")],
                  unit="short"),
            panel("Average stored chunk size",
                  "Compressed bytes per stored chunk: far below ingester.chunk_target_size "
                  "means chunks closed early (idle streams, the memory budget), each costing a "
                  "PUT and an index entry.",
                  [target(f"{rate('loki_ingester_chunk_stored_bytes_total')} / "
                          f"{rate('loki_ingester_chunks_stored_total')}", "bytes per chunk")],
                  unit="bytes"),
        ]),
        row("Ring and processes", [
            panel("Ring members by state",
                  "Instances of each ring by state; Unhealthy = no heartbeat for "
                  "heartbeat_timeout: what SluiceRingMembersUnhealthy alerts on. /ring shows "
                  "which.",
                  [target(f"max by (name, state) (loki_ring_members{sel()})",
                          "{{name}} {{state}}")],
                  unit="short"),
            panel("Ring members by zone",
                  "Ingesters per availability zone and state (with zone awareness): what "
                  "SluiceIngesterZoneDown alerts on, when every member of a zone is "
                  "Unhealthy. /ring lists which instance is where.",
                  [target("max by (zone, state) (sluice_ring_zone_members"
                          + sel('name="ingester"') + ")",
                          "{{zone}} {{state}}")],
                  unit="short"),
            panel("Components up",
                  "Prometheus' scrape of each sluice process (0: down or not answering "
                  "/metrics): what SluiceComponentDown alerts on.",
                  [target(f"min by (job, instance) (up{sel()})", "{{job}} {{instance}}")],
                  unit="short", minimum=0),
            panel("Restarts",
                  "Process starts in the last hour, per instance (changes of "
                  "process_start_time_seconds): what SluiceIngesterCrashLooping alerts on. An "
                  "ingester that restarts replays its WAL each time (\"WAL replay\").",
                  [target(f"sum by (instance) (changes(process_start_time_seconds{sel()}[1h]))",
                          "{{instance}}")],
                  unit="short"),
        ]),
    ],
}

STORAGE = {
    "uid": "sluice-storage",
    "title": "sluice / Storage",
    "description": "The object store (S3), caches, the compactor, retention and deletes.",
    "rows": [
        row("Object store", [
            panel("Object store operations by operation",
                  "Operations per second against the store (an S3 bucket, or \"filesystem\") "
                  "by operation: upload (flushes, the compactor), get and get_range (queries, "
                  "the compactor), iter (listings: index refresh, the compactor), delete "
                  "(retention, the compactor).",
                  [target(rate("loki_objstore_bucket_operations_total", by="bucket, operation"),
                          "{{bucket}} {{operation}}")],
                  unit="ops", stack=True),
            panel("Object store error ratio by operation",
                  "Share of operations that failed, after the S3 client's retries "
                  "(common.storage.s3.backoff_config), per operation; a missing object is not "
                  "a failure. What SluiceObjectStoreErrors alerts on. A failed upload is "
                  "retried by the next flush, a failed get fails a query.",
                  [target(f"{rate('loki_objstore_bucket_operation_failures_total', by='operation')}"
                          f" / {rate('loki_objstore_bucket_operations_total', by='operation')}",
                          "{{operation}}")],
                  unit="percentunit", minimum=0),
            panel("Object store latency by operation",
                  "p99 and p50 of successful operations (S3 retries included): what "
                  "SluiceObjectStoreLatency alerts on. Slow uploads slow flushes (memory "
                  "grows), slow gets slow queries over old data.",
                  p99_and_p50("loki_objstore_bucket_operation_duration_seconds", "operation"),
                  unit="s"),
            panel("S3 requests by operation and status",
                  "S3 HTTP requests per second by operation (S3.PutObject, S3.GetObject, "
                  "S3.List ...) and status: 403 is credentials or permissions, 404 a missing "
                  "bucket or object, 503 throttling (SlowDown); 500 also stands for a transport "
                  "failure (connection refused, timeout).",
                  [target(rate("loki_s3_request_duration_seconds_count",
                               by="operation, status_code"), "{{operation}} {{status_code}}")],
                  unit="reqps", stack=True),
            panel("S3 retries by operation",
                  "S3 requests retried after a 5xx, 429/SlowDown, timeout or connection error.",
                  [target(rate("sluice_s3_request_retries_total", by="operation"),
                          "{{operation}}")],
                  unit="short", no_value="0"),
            panel("Chunks and bytes stored",
                  "Chunks and compressed bytes the ingesters wrote to the store per second.",
                  [target(rate("loki_ingester_chunks_stored_total"), "chunks"),
                   target(rate("loki_ingester_chunk_stored_bytes_total"), "bytes")],
                  unit="short"),
        ]),
        row("Caches", [
            panel("Cache hit ratio by cache",
                  "Keys found per key asked, per cache (the chunk cache, the results cache, "
                  "the index cache when configured).",
                  [target(f"{rate('loki_cache_hits', by='name')} / "
                          f"{rate('loki_cache_fetched_keys', by='name')}", "{{name}}")],
                  unit="percentunit", minimum=0),
            panel("Cache lookups by cache",
                  "Keys asked per second, per cache.",
                  [target(rate("loki_cache_fetched_keys", by="name"), "{{name}}")],
                  unit="short"),
            panel("Embedded cache memory",
                  "Bytes held by each in-process (embedded) cache, against its max_size_mb.",
                  [target(f"max by (instance, cache) (loki_embeddedcache_memory_bytes{sel()})",
                          "{{cache}} {{instance}}")],
                  unit="bytes"),
        ]),
        row("Compactor", [
            panel("Compactor running",
                  "1 on the instance holding the compactor's lease: exactly one in a cluster. "
                  "What SluiceCompactorNotRunning alerts on, with the next panel.",
                  [target(f"max by (instance) (loki_compactor_running{sel()})", "{{instance}}")],
                  unit="short", minimum=0),
            panel("Time since the last successful compaction",
                  "Seconds since a compaction run last succeeded (runs every "
                  "compactor.compaction_interval).",
                  [target("time() - max(loki_compactor_compact_tables_operation_"
                          f"last_successful_run_timestamp_seconds{sel()})", "age")],
                  unit="s"),
            panel("Compaction runs by status",
                  "Compaction runs per interval, by status (success, failure), and the last "
                  "run's duration.",
                  [target(f"sum by (status) (increase(loki_compactor_compact_tables_operation_total"
                          f"{sel()}[{RATE}]))", "{{status}}"),
                   target(f"max(loki_compactor_compact_tables_operation_duration_seconds{sel()})",
                          "last duration (s)")],
                  unit="short"),
            panel("Chunks merged, rewritten and written",
                  "Per second: chunks replaced by merging replicas (RF 3 copies into one), "
                  "rewritten for delete requests, and written by the compactor.",
                  [target(rate("sluice_compactor_chunks_merged_total"), "merged"),
                   target(rate("sluice_compactor_chunks_rewritten_total"), "rewritten"),
                   target(rate("sluice_compactor_chunks_written_total"), "written")],
                  unit="short"),
        ]),
        row("Retention and deletes", [
            panel("Chunks expired by retention",
                  "Chunk refs retention removed from the index per second, and markers "
                  "created for their deletion.",
                  [target(rate("sluice_compactor_chunks_expired_total"), "expired"),
                   target(rate("loki_boltdb_shipper_retention_marker_count_total"),
                          "markers created")],
                  unit="short"),
            panel("Chunk deletes pending and done",
                  "Marker files waiting for compactor.retention_delete_delay, and chunks "
                  "deleted per second by status.",
                  [target("max(loki_boltdb_shipper_retention_sweeper_marker_files_current"
                          f"{sel()})", "marker files"),
                   target(rate("loki_boltdb_shipper_retention_sweeper_chunk_deleted_duration_"
                               "seconds_count", by="status"), "deleted {{status}}")],
                  unit="short"),
            panel("Lines removed by delete requests per tenant",
                  "Lines the compactor removed when it rewrote chunks for processed delete "
                  "requests (after compactor.delete_request_cancel_period).",
                  [target(rate("loki_compactor_deleted_lines", by="user"), "{{user}}")],
                  unit="short", no_value="0"),
        ]),
    ],
}

TENANT_SEL = 'tenant=~"$tenant"'


def per_tenant(title, description, counter, unit):
    """The rate of `counter` for each of the chosen tenants."""
    return panel(title, description,
                 [target(rate(counter, TENANT_SEL, "tenant"), "{{tenant}}")], unit=unit)
RATE_LIMIT_REASONS = 'reason=~"rate_limited|per_stream_rate_limit|stream_limit"'

TENANTS = {
    "uid": "sluice-tenants",
    "title": "sluice / Tenants",
    "description": "Per tenant: ingestion, streams, discards and rate limiting.",
    "tenant": True,
    "rows": [
        row("Ingestion", [
            per_tenant("Ingestion rate (bytes)",
                       "Bytes received per second per tenant, before limits: compare with "
                       "the tenant's ingestion_rate_mb (the runtime overrides, "
                       "/config/tenant/v1/limits with its X-Scope-OrgID).",
                       "loki_distributor_bytes_received_total", "Bps"),
            per_tenant("Ingestion rate (lines)",
                       "Lines received per second per tenant.",
                       "loki_distributor_lines_received_total", "short"),
            panel("Top tenants by bytes received",
                  "The ten tenants sending the most, over the dashboard's range.",
                  [target("topk(10, sum by (tenant) (increase(loki_distributor_bytes_received_"
                          f"total{sel(TENANT_SEL)}[$__range])))", "{{tenant}}")],
                  unit="bytes", kind="bargauge"),
        ]),
        row("Streams", [
            panel("Streams in memory",
                  "Streams per tenant summed over ingesters (with RF 3 each stream counts three "
                  "times): compare with max_global_streams_per_user.",
                  [target(f"sum by (tenant) (loki_ingester_memory_streams{sel(TENANT_SEL)})",
                          "{{tenant}}")],
                  unit="short"),
            per_tenant("Streams created per tenant",
                       "New streams per second: a steady high rate is a label with unbounded "
                       "values (a request id, a timestamp).",
                       "loki_ingester_streams_created_total", "short"),
            per_tenant("Bytes stored per tenant",
                       "Compressed chunk bytes written to the store per second.",
                       "loki_ingester_chunk_stored_bytes_total", "Bps"),
        ]),
        row("Discards and rate limiting", [
            panel("Discarded lines by tenant and reason",
                  "Lines refused per second, by tenant and Loki's reason.",
                  [target(rate("loki_discarded_samples_total", TENANT_SEL, "tenant, reason"),
                          "{{tenant}} {{reason}}")],
                  unit="short", no_value="0"),
            panel("Rate-limited lines by tenant and limit",
                  "Lines refused with 429 by a limit: rate_limited (ingestion_rate_mb, at the "
                  "distributor: SluiceTenantRateLimited), per_stream_rate_limit (one hot stream, "
                  "at the ingester: SluiceStreamRateLimited), stream_limit "
                  "(max_global_streams_per_user).",
                  [target(rate("loki_discarded_samples_total",
                               f"{TENANT_SEL}, {RATE_LIMIT_REASONS}", "tenant, reason"),
                          "{{tenant}} {{reason}}")],
                  unit="short", no_value="0"),
            panel("Share of lines rate-limited",
                  "Rate-limited lines per line received, per tenant.",
                  [target(rate("loki_discarded_samples_total",
                               f"{TENANT_SEL}, {RATE_LIMIT_REASONS}", "tenant") + " / "
                          + rate("loki_distributor_lines_received_total", TENANT_SEL, "tenant"),
                          "{{tenant}}")],
                  unit="percentunit", minimum=0),
            panel("Lines removed by delete requests",
                  "Lines the compactor removed for the tenant's processed delete requests.",
                  [target(rate("loki_compactor_deleted_lines", 'user=~"$tenant"', "user"),
                          "{{user}}")],
                  unit="short", no_value="0"),
        ]),
    ],
}

DASHBOARDS = {
    "sluice-writes.json": WRITES,
    "sluice-reads.json": READS,
    "sluice-ingester.json": INGESTER,
    "sluice-storage.json": STORAGE,
    "sluice-tenants.json": TENANTS,
}


# --- JSON model ----------------------------------------------------------------------------------

def query_variable(name, label, metric_selector, label_name):
    query = f"label_values({metric_selector}, {label_name})"
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,  # on time range change
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "sort": 1,
        "hide": 0,
        "regex": "",
    }


def templating(with_tenant):
    variables = [
        {"name": "datasource", "label": "Data source", "type": "datasource",
         "query": "prometheus", "current": {}, "options": [], "refresh": 1, "regex": "",
         "hide": 0},
        query_variable("cluster", "Cluster", "loki_request_duration_seconds_count", "cluster"),
        query_variable("job", "Job", 'loki_request_duration_seconds_count{cluster=~"$cluster"}',
                       "job"),
    ]
    if with_tenant:
        variables.append(query_variable(
            "tenant", "Tenant",
            'loki_distributor_lines_received_total{cluster=~"$cluster", job=~"$job"}', "tenant"))
    return {"list": variables}


def panel_json(p, panel_id, x, y):
    defaults = {"unit": p["unit"], "custom": {"fillOpacity": 10, "lineWidth": 1,
                                              "showPoints": "never",
                                              "stacking": {"mode": "normal" if p["stack"]
                                                           else "none", "group": "A"}}}
    if p["kind"] != "timeseries":
        defaults = {"unit": p["unit"]}
    if p["no_value"] is not None:
        defaults["noValue"] = p["no_value"]
    if p["min"] is not None:
        defaults["min"] = p["min"]
    out = {
        "id": panel_id,
        "type": p["kind"],
        "title": p["title"],
        "description": p["description"],
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": p["width"], "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {"datasource": DATASOURCE, "expr": t["expr"], "legendFormat": t["legend"],
             "refId": chr(ord("A") + i), "range": p["kind"] == "timeseries",
             "instant": p["kind"] != "timeseries"}
            for i, t in enumerate(p["targets"])],
    }
    if p["kind"] == "timeseries":
        out["options"] = {"legend": {"displayMode": "list", "placement": "bottom",
                                     "showLegend": True},
                          "tooltip": {"mode": "multi", "sort": "desc"}}
    else:
        out["options"] = {"orientation": "horizontal", "displayMode": "gradient",
                          "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                            "values": False}}
    return out


def dashboard_json(spec):
    panels, panel_id, y = [], 1, 0
    for r in spec["rows"]:
        panels.append({"id": panel_id, "type": "row", "title": r["row"], "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
        panel_id, y, x = panel_id + 1, y + 1, 0
        for p in r["panels"]:
            if x + p["width"] > 24:
                x, y = 0, y + 8
            panels.append(panel_json(p, panel_id, x, y))
            panel_id, x = panel_id + 1, x + p["width"]
        y += 8
    return {
        "uid": spec["uid"],
        "title": spec["title"],
        "description": spec["description"] + " Alerts lead here from docs/operations/runbook.md.",
        "tags": ["sluice"],
        "editable": True,
        "graphTooltip": 1,  # shared crosshair
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "timezone": "",
        "annotations": {"list": []},
        "links": [
            {"title": "sluice dashboards", "type": "dashboards", "tags": ["sluice"],
             "asDropdown": True, "includeVars": True, "keepTime": True},
        ],
        "templating": templating(spec.get("tenant", False)),
        "panels": panels,
    }


def render(spec):
    return json.dumps(dashboard_json(spec), indent=2) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a JSON file is not what this script writes")
    args = parser.parse_args()
    stale = []
    for name, spec in DASHBOARDS.items():
        path, text = HERE / name, render(spec)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date (run {Path(__file__).name}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
