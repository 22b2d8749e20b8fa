"""Every push limit and validation rule: HTTP status, exact Loki message, discard counters.

Messages are Loki's (pkg/validation/validate.go, ingester stream errors, dskit tenant errors);
see /work/notes/loki-facts.md section 1. Bodies are plain text; a trailing newline is tolerated.
Label-string messages are checked through protobuf pushes, whose label string reaches the
validator verbatim.

The shared server has auth enabled; each test writes as its own tenant so the per-tenant
discard counters it checks are its own.
"""

import os
import time

import pytest

from helpers import push as pf
from helpers.server import wait_until

S = 10**9
MIN = 60 * S


@pytest.fixture(scope="module")
def srv(module_sluice_factory):
    return module_sluice_factory([
        "-auth_enabled=true",
        "-limits_config.max_line_size=100",
        "-limits_config.max_label_name_length=20",
        "-limits_config.max_label_value_length=30",
        "-limits_config.max_label_names_per_series=4",
        "-limits_config.reject_old_samples=true",
        "-limits_config.reject_old_samples_max_age=1h",
        "-limits_config.creation_grace_period=1m",
        "-ingester.max-chunk-age=2m",
    ], name="validation")


def expect_error(r, status, message):
    body = r.text
    assert r.status_code == status, f"want {status} {message!r}, got {r.status_code} {body!r}"
    assert body.rstrip("\n") == message, f"\nwant: {message!r}\ngot:  {body!r}"
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers


def discarded(srv, reason, tenant):
    m = srv.metrics()
    return (m.value("loki_discarded_samples_total", reason=reason, tenant=tenant),
            m.value("loki_discarded_bytes_total", reason=reason, tenant=tenant))


def stored_lines(srv, selector, tenant=None, around=None):
    around = around or pf.now_ns()
    return srv.query_lines(selector, around - 3 * 3600 * S, around + 3600 * S, limit=5000, tenant=tenant)


def raw_stream(labels, values):
    return [{"labels": labels, "values": values}]


# --- entry validation -----------------------------------------------------------------------


def test_line_too_long(srv):
    tenant = "v-line"
    ts = pf.now_ns()
    r = srv.push_proto(raw_stream('{app="v"}', [[ts, "x" * 150]]), tenant=tenant)
    expect_error(r, 400, "Max entry size '100' bytes exceeded for stream '{app=\"v\"}' while adding an entry "
                         "with length '150' bytes")
    assert discarded(srv, "line_too_long", tenant) == (1, 150)
    # Exactly the limit is fine.
    assert srv.push_proto(raw_stream('{app="v"}', [[ts + 1, "y" * 100]]), tenant=tenant).status_code == 204
    assert stored_lines(srv, '{app="v"}', tenant) == ["y" * 100]


def test_line_too_long_counts_bytes_not_characters(srv):
    tenant = "v-line-utf8"
    ts = pf.now_ns()
    line = "é" * 60  # 60 characters, 120 bytes
    r = srv.push_json([{"stream": {"app": "v"}, "values": [[ts, line]]}], tenant=tenant)
    expect_error(r, 400, "Max entry size '100' bytes exceeded for stream '{app=\"v\"}' while adding an entry "
                         "with length '120' bytes")


def test_line_too_long_truncate_mode(sluice_factory):
    srv = sluice_factory(["-limits_config.max_line_size=100", "-limits_config.max_line_size_truncate=true"])
    ts = pf.now_ns()
    r = srv.push_json([{"stream": {"app": "trunc"}, "values": [[ts, "a" * 100 + "b" * 50], [ts + 1, "short"]]}])
    assert r.status_code == 204, r.text
    assert stored_lines(srv, '{app="trunc"}') == ["a" * 100, "short"]
    m = srv.metrics()
    assert m.value("loki_mutated_samples_total", reason="line_too_long") == 1
    assert m.value("loki_mutated_bytes_total", reason="line_too_long") == 50
    assert m.value("loki_discarded_samples_total", reason="line_too_long") == 0


def test_timestamp_too_old(srv):
    tenant = "v-old"
    before = pf.now_ns()
    ts = before - 2 * 3600 * S
    r = srv.push_proto(raw_stream('{app="v"}', [[ts, "ancient"]]), tenant=tenant)
    after = pf.now_ns()
    assert r.status_code == 400, r.text
    prefix = f"entry for stream '{{app=\"v\"}}' has timestamp too old: {pf.rfc3339(ts)}, oldest acceptable timestamp is: "
    body = r.text.rstrip("\n")
    assert body.startswith(prefix), body
    cutoff = body[len(prefix):]
    assert cutoff in {pf.rfc3339(t - 3600 * S) for t in range(before - S, after + S, S // 2)}, body
    assert discarded(srv, "greater_than_max_sample_age", tenant) == (1, len("ancient"))
    # Inside the max age is fine.
    assert srv.push_proto(raw_stream('{app="v"}', [[before - 50 * MIN, "recent"]]), tenant=tenant).status_code == 204


def test_timestamp_too_new(srv):
    tenant = "v-new"
    ts = pf.now_ns() + 10 * MIN
    r = srv.push_proto(raw_stream('{app="v"}', [[ts, "future"]]), tenant=tenant)
    expect_error(r, 400, f"entry for stream '{{app=\"v\"}}' has timestamp too new: {pf.rfc3339(ts)}")
    assert discarded(srv, "too_far_in_future", tenant) == (1, len("future"))
    # Inside the creation grace period is fine.
    soon = pf.now_ns() + 30 * S
    assert srv.push_proto(raw_stream('{app="v"}', [[soon, "soon"]]), tenant=tenant).status_code == 204
    assert srv.query_lines('{app="v"}', soon - MIN, soon + MIN, tenant=tenant) == ["soon"]


def test_first_failing_check_wins_old_before_long(srv):
    tenant = "v-order"
    ts = pf.now_ns() - 2 * 3600 * S
    r = srv.push_proto(raw_stream('{app="v"}', [[ts, "z" * 500]]), tenant=tenant)
    assert r.status_code == 400
    assert "has timestamp too old" in r.text
    assert discarded(srv, "greater_than_max_sample_age", tenant) == (1, 500)
    assert discarded(srv, "line_too_long", tenant) == (0, 0)


# --- label validation -----------------------------------------------------------------------


def test_label_name_too_long(srv):
    tenant = "v-lname"
    ts = pf.now_ns()
    name = "n" * 21
    labels = f'{{app="v", {name}="x"}}'
    r = srv.push_proto(raw_stream(labels, [[ts, "l1"], [ts + 1, "l2"]]), tenant=tenant)
    expect_error(r, 400, f"stream '{labels}' has label name too long: '{name}'")
    assert discarded(srv, "label_name_too_long", tenant) == (2, 4)
    ok = f'{{app="v", {"n" * 20}="x"}}'
    assert srv.push_proto(raw_stream(ok, [[ts, "fine"]]), tenant=tenant).status_code == 204


def test_label_value_too_long(srv):
    tenant = "v-lvalue"
    ts = pf.now_ns()
    value = "v" * 31
    labels = f'{{app="v", big="{value}"}}'
    r = srv.push_proto(raw_stream(labels, [[ts, "l1"]]), tenant=tenant)
    expect_error(r, 400, f"stream '{labels}' has label value too long: '{value}'")
    assert discarded(srv, "label_value_too_long", tenant) == (1, 2)
    ok = f'{{app="v", big="{"v" * 30}"}}'
    assert srv.push_proto(raw_stream(ok, [[ts, "fine"]]), tenant=tenant).status_code == 204


def test_too_many_label_names(srv):
    tenant = "v-lcount"
    ts = pf.now_ns()
    labels = '{a="1", b="2", c="3", d="4", e="5"}'
    r = srv.push_proto(raw_stream(labels, [[ts, "l1"]]), tenant=tenant)
    expect_error(r, 400, f"entry for stream '{labels}' has 5 label names; limit 4")
    assert discarded(srv, "max_label_names_per_series", tenant) == (1, 2)
    assert srv.push_proto(raw_stream('{a="1", b="2", c="3", d="4"}', [[ts, "fine"]]),
                          tenant=tenant).status_code == 204


def test_duplicate_label_names(srv):
    tenant = "v-ldup"
    ts = pf.now_ns()
    labels = '{app="v", app="w"}'
    r = srv.push_proto(raw_stream(labels, [[ts, "l1"]]), tenant=tenant)
    expect_error(r, 400, f"stream '{labels}' has duplicate label name: 'app'")
    assert discarded(srv, "duplicate_label_names", tenant) == (1, 2)


@pytest.mark.parametrize("labels", [
    '{app="v"',           # unterminated selector
    'app="v"',            # no braces
    '{app=v}',            # unquoted value
    '{0app="v"}',         # name starting with a digit
    '{app-name="v"}',     # '-' in a name
    '{app.name="v"}',     # '.' in a name
    '{app="v" env="x"}',  # missing comma
    '{app="v\\q"}',       # invalid escape
    '',                   # nothing at all
])
def test_invalid_labels(srv, labels):
    tenant = f"v-inv-{abs(hash(labels)) % 10**8}"
    ts = pf.now_ns()
    r = srv.push_proto(raw_stream(labels, [[ts, "l1"]]), tenant=tenant)
    assert r.status_code == 400, r.text
    assert r.text.startswith(f"Error parsing labels '{labels}' with error: "), r.text
    assert len(r.text.rstrip("\n")) > len(f"Error parsing labels '{labels}' with error: "), r.text
    assert discarded(srv, "invalid_labels", tenant) == (1, 2)


def test_invalid_label_name_in_json(srv):
    tenant = "v-inv-json"
    r = srv.push_json([{"stream": {"my-label": "x"}, "values": [[pf.now_ns(), "l1"]]}], tenant=tenant)
    assert r.status_code == 400, r.text
    assert r.text.startswith("Error parsing labels '"), r.text
    assert discarded(srv, "invalid_labels", tenant) == (1, 2)


@pytest.mark.parametrize("fmt", ["proto", "json"])
def test_missing_labels(srv, fmt):
    tenant = f"v-missing-{fmt}"
    ts = pf.now_ns()
    if fmt == "proto":
        r = srv.push_proto(raw_stream("{}", [[ts, "l1"]]), tenant=tenant)
    else:
        r = srv.push_json([{"stream": {}, "values": [[ts, "l1"]]}], tenant=tenant)
    expect_error(r, 400, "error at least one label pair is required per stream")
    assert discarded(srv, "missing_labels", tenant) == (1, 2)


# --- partial success and error grouping -----------------------------------------------------


def test_partial_success_good_stream_is_stored(srv):
    tenant = "v-partial"
    ts = pf.now_ns()
    streams = [
        {"labels": '{app="good"}', "values": [[ts, "good-1"], [ts + 1, "good-2"]]},
        {"labels": '{app="bad"}', "values": [[ts, "b" * 101]]},
    ]
    r = srv.push_proto(streams, tenant=tenant)
    expect_error(r, 400, "Max entry size '100' bytes exceeded for stream '{app=\"bad\"}' while adding an entry "
                         "with length '101' bytes")
    assert stored_lines(srv, '{app="good"}', tenant) == ["good-1", "good-2"]
    assert stored_lines(srv, '{app="bad"}', tenant) == []
    assert srv.metric("loki_distributor_lines_received_total", tenant=tenant) == 3


def test_partial_success_bad_entry_within_a_stream(srv):
    tenant = "v-partial-entry"
    ts = pf.now_ns()
    values = [[ts, "ok-1"], [ts + 1, "c" * 120], [ts + 2, "ok-2"]]
    r = srv.push_proto(raw_stream('{app="pe"}', values), tenant=tenant)
    assert r.status_code == 400
    assert stored_lines(srv, '{app="pe"}', tenant) == ["ok-1", "ok-2"]


def test_identical_errors_are_grouped(srv):
    """Loki 3 groups identical validation messages: "<n> errors like: <msg>"."""
    tenant = "v-grouped"
    ts = pf.now_ns()
    values = [[ts, "d" * 120], [ts + 1, "e" * 120]]
    r = srv.push_proto(raw_stream('{app="g"}', values), tenant=tenant)
    expect_error(r, 400, "2 errors like: Max entry size '100' bytes exceeded for stream '{app=\"g\"}' while "
                         "adding an entry with length '120' bytes")
    assert discarded(srv, "line_too_long", tenant) == (2, 240)


# --- ordering and duplicates ----------------------------------------------------------------


def ignored_message(tenant, stream, failures, total):
    lines = "".join(f"entry with timestamp {pf.go_time_string(ts)} ignored, reason: '{why}',\n"
                    for ts, why in failures)
    return lines + f"user '{tenant}', total ignored: {len(failures)} out of {total} for stream: {stream}"


def test_out_of_order_rejected_when_unordered_writes_disabled(sluice_factory):
    srv = sluice_factory(["-limits_config.unordered_writes=false"])
    t1 = pf.now_ns() - 10 * S + 123_456_789
    assert srv.push_json([{"stream": {"app": "ooo"}, "values": [[t1, "first"]]}]).status_code == 204
    t0 = t1 - 10 * S
    r = srv.push_json([{"stream": {"app": "ooo"}, "values": [[t0, "older"]]}])
    expect_error(r, 400, ignored_message("fake", '{app="ooo"}', [(t0, "entry out of order")], 1))
    assert discarded(srv, "out_of_order", "fake") == (1, len("older"))
    # The same timestamp is not out of order; a later one neither.
    assert srv.push_json([{"stream": {"app": "ooo"}, "values": [[t1, "same-ts"], [t1 + 1, "later"]]}]).status_code == 204
    assert stored_lines(srv, '{app="ooo"}') == ["first", "same-ts", "later"]


def test_out_of_order_within_one_request(sluice_factory):
    srv = sluice_factory(["-limits_config.unordered_writes=false"])
    t = pf.now_ns() - 10 * S
    values = [[t, "a"], [t - 2 * S, "b"], [t + S, "c"], [t - S, "d"]]
    r = srv.push_json([{"stream": {"app": "ooo2"}, "values": values}])
    expect_error(r, 400, ignored_message("fake", '{app="ooo2"}', [(t - 2 * S, "entry out of order"),
                                                                  (t - S, "entry out of order")], 4))
    assert stored_lines(srv, '{app="ooo2"}') == ["a", "c"]


def test_too_far_behind_with_unordered_writes(srv):
    """unordered_writes=true (default): anything newer than highest - max_chunk_age/2 (here 1m)
    is accepted in any order; older is rejected."""
    tenant = "v-tfb"
    t1 = pf.now_ns() - 10 * S + 500_000_000
    assert srv.push_proto(raw_stream('{app="tfb"}', [[t1, "newest"]]), tenant=tenant).status_code == 204
    assert srv.push_proto(raw_stream('{app="tfb"}', [[t1 - 30 * S, "30s behind"]]), tenant=tenant).status_code == 204
    old = t1 - 5 * MIN
    r = srv.push_proto(raw_stream('{app="tfb"}', [[old, "5m behind"]]), tenant=tenant)
    why = (f"entry too far behind, entry timestamp is: {pf.rfc3339(old)}, "
           f"oldest acceptable timestamp is: {pf.rfc3339(t1 - MIN)}")
    expect_error(r, 400, ignored_message(tenant, '{app="tfb"}', [(old, why)], 1))
    assert discarded(srv, "too_far_behind", tenant) == (1, len("5m behind"))
    assert stored_lines(srv, '{app="tfb"}', tenant) == ["30s behind", "newest"]


def test_exact_duplicates_are_dropped_silently(srv):
    tenant = "v-dups"
    ts = pf.now_ns()
    values = [[ts, "dup"], [ts, "dup"], [ts, "same ts other line"], [ts + 1, "next"]]
    for _ in range(2):
        r = srv.push_proto(raw_stream('{app="dups"}', values), tenant=tenant)
        assert r.status_code == 204, r.text
    r = srv.push_json([{"stream": {"app": "dups"}, "values": [[ts, "dup"]]}], tenant=tenant)
    assert r.status_code == 204, r.text
    got = sorted(stored_lines(srv, '{app="dups"}', tenant))
    assert got == ["dup", "next", "same ts other line"]
    m = srv.metrics()
    assert not any(v for labels, v in m.series("loki_discarded_samples_total", tenant=tenant)), \
        m.series("loki_discarded_samples_total", tenant=tenant)


def test_increment_duplicate_timestamp(sluice_factory):
    srv = sluice_factory(["-limits_config.increment_duplicate_timestamp=true"])
    ts = pf.now_ns() - 10 * S
    # Same timestamp, different lines: each moves 1ns past the previous one.
    values = [[ts, "one"], [ts, "two"], [ts - 5, "three"], [ts + 10, "four"]]
    assert srv.push_json([{"stream": {"app": "idt"}, "values": values}]).status_code == 204
    got = srv.query_entries('{app="idt"}', ts - S, ts + S)
    assert [(e[1] - ts, e[2]) for e in got] == [(0, "one"), (1, "two"), (2, "three"), (10, "four")]
    # Identical lines keep their timestamp, so the duplicate is dropped as usual.
    ts2 = ts + 100
    values = [[ts2, "same"], [ts2, "same"]]
    assert srv.push_json([{"stream": {"app": "idt2"}, "values": values}]).status_code == 204
    got = srv.query_entries('{app="idt2"}', ts - S, ts + S)
    assert [(e[1] - ts2, e[2]) for e in got] == [(0, "same")]


# --- rate and stream limits -----------------------------------------------------------------


def test_ingestion_rate_limit(sluice_factory):
    srv = sluice_factory(["-limits_config.ingestion_rate_mb=0.01", "-limits_config.ingestion_burst_size_mb=0.02"])
    ts = pf.now_ns()
    values = [[ts + i, f"{i:04d}" + "r" * 996] for i in range(30)]
    r = srv.push_json([{"stream": {"app": "rate"}, "values": values}])
    expect_error(r, 429, "Ingestion rate limit exceeded for user fake (limit: 10485 bytes/sec) while attempting to "
                         "ingest '30' lines totaling '30000' bytes, reduce log volume or contact your Loki "
                         "administrator to see if the limit can be increased")
    assert discarded(srv, "rate_limited", "fake") == (30, 30000)
    assert stored_lines(srv, '{app="rate"}') == []
    # Within the burst it goes through.
    assert srv.push_json([{"stream": {"app": "rate"}, "values": [[ts + 100, "small"]]}]).status_code == 204
    assert stored_lines(srv, '{app="rate"}') == ["small"]


def test_per_stream_rate_limit(sluice_factory):
    srv = sluice_factory(["-limits_config.per_stream_rate_limit=4KB",
                          "-limits_config.per_stream_rate_limit_burst=4KB"])
    ts = pf.now_ns()
    values = [[ts + i * 1000, f"{i}" + "p" * 1499] for i in range(5)]
    r = srv.push_json([{"stream": {"app": "psr"}, "values": values}])
    why = ("Per stream rate limit exceeded (limit: 4KB/sec) while attempting to ingest for stream "
           "'{app=\"psr\"}' totaling 1500B, consider splitting a stream via additional labels or contact your "
           "Loki administrator to see if the limit can be increased")
    expect_error(r, 429, ignored_message("fake", '{app="psr"}', [(values[i][0], why) for i in (2, 3, 4)], 5))
    assert discarded(srv, "per_stream_rate_limit", "fake") == (3, 4500)
    assert stored_lines(srv, '{app="psr"}') == [values[0][1], values[1][1]]
    # Another stream has its own limiter.
    assert srv.push_json([{"stream": {"app": "psr2"}, "values": [values[0]]}]).status_code == 204


@pytest.mark.parametrize("flag", ["max_global_streams_per_user", "max_streams_per_user"])
def test_stream_limit(sluice_factory, flag):
    srv = sluice_factory([f"-limits_config.{flag}=2"])
    ts = pf.now_ns()
    for i in (1, 2):
        assert srv.push_json([{"stream": {"app": f"s{i}"}, "values": [[ts, "x"]]}]).status_code == 204
    r = srv.push_json([{"stream": {"app": "s3"}, "values": [[ts, "x"], [ts + 1, "yy"]]}])
    expect_error(r, 429, "Maximum active stream limit exceeded when trying to create stream {app=\"s3\"}, reduce the "
                         "number of active streams (reduce labels or reduce label values), or contact your Loki "
                         "administrator to see if the limit can be increased, user: 'fake'")
    assert discarded(srv, "stream_limit", "fake") == (2, 3)
    # Existing streams still take entries; in one request with a new stream, they are stored.
    r = srv.push_json([{"stream": {"app": "s1"}, "values": [[ts + 1, "more"]]},
                       {"stream": {"app": "s4"}, "values": [[ts, "x"]]}])
    assert r.status_code == 429
    assert stored_lines(srv, '{app="s1"}') == ["x", "more"]
    assert stored_lines(srv, '{app=~"s3|s4"}') == []
    assert srv.metric("loki_ingester_memory_streams", tenant="fake") == 2


# --- structured metadata limits -------------------------------------------------------------


def test_structured_metadata_limits(sluice_factory):
    srv = sluice_factory(["-limits_config.max_structured_metadata_size=30",
                          "-limits_config.max_structured_metadata_entries_count=2"])
    ts = pf.now_ns()
    r = srv.push_json([{"stream": {"app": "sm"}, "values": [[ts, "big", {"k": "v" * 40}]]}])
    expect_error(r, 400, "stream '{app=\"sm\"}' has structured metadata too large: '41' bytes, limit: '30' bytes. "
                         "Please see `limits_config.max_structured_metadata_size` or contact your Loki administrator "
                         "to increase it.")
    r = srv.push_json([{"stream": {"app": "sm"}, "values": [[ts, "many", {"a": "1", "b": "2", "c": "3"}]]}])
    expect_error(r, 400, "stream '{app=\"sm\"}' has too many structured metadata labels: '3', limit: '2'. Please see "
                         "`limits_config.max_structured_metadata_entries_count` or contact your Loki administrator "
                         "to increase it.")
    m = srv.metrics()
    assert m.value("loki_discarded_samples_total", reason="structured_metadata_too_large") == 1
    assert m.value("loki_discarded_samples_total", reason="structured_metadata_too_many") == 1
    r = srv.push_json([{"stream": {"app": "sm"}, "values": [[ts, "fine", {"a": "1", "b": "2"}]]}])
    assert r.status_code == 204, r.text


def test_structured_metadata_disallowed(sluice_factory):
    srv = sluice_factory(["-limits_config.allow_structured_metadata=false"])
    ts = pf.now_ns()
    r = srv.push_json([{"stream": {"app": "sm"}, "values": [[ts, "md", {"a": "1"}], [ts + 1, "plain"]]}])
    expect_error(r, 400, "stream '{app=\"sm\"}' includes structured metadata, but this feature is disallowed. "
                         "Please see `limits_config.allow_structured_metadata` or contact your Loki administrator "
                         "to enable it.")
    assert srv.metric("loki_discarded_samples_total", reason="disallowed_structured_metadata") == 1
    assert stored_lines(srv, '{app="sm"}') == ["plain"]


# --- tenants --------------------------------------------------------------------------------


def one_line(app="tenants"):
    return [{"stream": {"app": app}, "values": [[pf.now_ns(), "x"]]}]


def test_missing_tenant_header_is_401(srv):
    expect_error(srv.push_json(one_line()), 401, "no org id")
    expect_error(srv.push_json(one_line(), tenant=""), 401, "no org id")
    r = srv.query_range('{app="tenants"}')
    expect_error(r, 401, "no org id")
    expect_error(srv.get("/loki/api/v1/labels"), 401, "no org id")


@pytest.mark.parametrize("tenant,message", [
    ("../x", "tenant ID '../x' contains unsupported character '/'"),
    ("a b", "tenant ID 'a b' contains unsupported character ' '"),
    (".", "tenant ID is '.' or '..'"),
    ("..", "tenant ID is '.' or '..'"),
    ("t" * 151, "tenant ID is too long: max 150 characters"),
    ("a|b", "multiple org IDs present"),
])
def test_invalid_tenant_ids(srv, tenant, message):
    expect_error(srv.push_json(one_line(), tenant=tenant), 400, message)


@pytest.mark.parametrize("tenant", ["t" * 150, "a|a", "Az09!-_.*'()"])
def test_valid_tenant_ids(srv, tenant):
    ts = pf.now_ns()
    app = f"vt{len(tenant)}"
    r = srv.push_json([{"stream": {"app": app}, "values": [[ts, "x"]]}], tenant=tenant)
    assert r.status_code == 204, r.text
    stored_as = tenant.split("|")[0]
    assert srv.query_lines(f'{{app="{app}"}}', ts - S, ts + S, tenant=stored_as) == ["x"]


def test_tenants_are_isolated(srv):
    ts = pf.now_ns()
    assert srv.push_json([{"stream": {"app": "iso"}, "values": [[ts, "mine"]]}], tenant="iso-a").status_code == 204
    assert srv.query_lines('{app="iso"}', ts - S, ts + S, tenant="iso-a") == ["mine"]
    assert srv.query_lines('{app="iso"}', ts - S, ts + S, tenant="iso-b") == []


def test_auth_disabled_uses_tenant_fake(sluice):
    ts = pf.now_ns()
    r = sluice.push_json([{"stream": {"app": "noauth"}, "values": [[ts, "x"]]}], tenant="ignored")
    assert r.status_code == 204, r.text
    assert sluice.push_json([{"stream": {"app": "noauth"}, "values": [[ts + 1, "y"]]}]).status_code == 204
    assert sluice.query_lines('{app="noauth"}', ts - S, ts + S) == ["x", "y"]
    assert sluice.metric("loki_distributor_lines_received_total", tenant="fake") == 2


# --- runtime overrides ----------------------------------------------------------------------


def write_overrides(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def test_runtime_overrides_reload_without_restart(sluice_factory, tmp_path):
    overrides = tmp_path / "overrides.yaml"
    write_overrides(overrides, "overrides:\n  tenant-a:\n    max_line_size: 50\n")
    srv = sluice_factory(["-auth_enabled=true", "-limits_config.max_line_size=1000",
                          f"-runtime_config.file={overrides}", "-runtime_config.period=1s"])
    pid = srv.pid

    def push(tenant, n):
        return srv.push_json([{"stream": {"app": "rt"}, "values": [[pf.now_ns(), "o" * n]]}], tenant=tenant)

    expect_error(push("tenant-a", 80), 400, "Max entry size '50' bytes exceeded for stream '{app=\"rt\"}' while "
                                            "adding an entry with length '80' bytes")
    assert push("tenant-b", 80).status_code == 204  # global limit for everyone else

    write_overrides(overrides, "overrides:\n  tenant-a:\n    max_line_size: 200\n")
    wait_until(lambda: push("tenant-a", 80).status_code == 204, timeout=15, interval=0.3,
               what="raised max_line_size to apply")

    write_overrides(overrides, "overrides:\n  tenant-a:\n    max_line_size: 20\n  tenant-b:\n    max_line_size: 10\n")
    wait_until(lambda: push("tenant-b", 30).status_code == 400, timeout=15, interval=0.3,
               what="lowered max_line_size to apply")
    expect_error(push("tenant-a", 30), 400, "Max entry size '20' bytes exceeded for stream '{app=\"rt\"}' while "
                                            "adding an entry with length '30' bytes")

    # A broken file keeps the previous overrides.
    write_overrides(overrides, "overrides: [this is: not valid\n")
    time.sleep(2.5)
    assert push("tenant-a", 30).status_code == 400
    assert srv.get("/ready").status_code == 200

    # Removing the override restores the global limit.
    write_overrides(overrides, "overrides: {}\n")
    wait_until(lambda: push("tenant-a", 500).status_code == 204, timeout=15, interval=0.3,
               what="override removal to apply")
    assert srv.pid == pid and srv.alive
