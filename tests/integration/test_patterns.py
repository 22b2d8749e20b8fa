"""/loki/api/v1/patterns: log patterns mined from stored lines (pattern_ingester.enabled), with
Loki's response shape {"status":"success","data":[{"pattern","level","samples":[[s,n]...]}]}.

Three templates are pushed with known counts per 10s interval (one split over two streams, one
with detected_level metadata), plus a template seen too rarely to be reported (Loki's querier
drops patterns under 30 lines), a template whose lines fail validation (never mined), and a
stream the query does not select.
"""

import time

import pytest

from helpers.server import ServerError

S = 10**9
STEP = 10 * S


@pytest.fixture(scope="module")
def srv(module_sluice_factory):
    return module_sluice_factory(
        ["-pattern_ingester.enabled=true", "-limits_config.max_line_size=120"],
        name="patterns")


@pytest.fixture(scope="module")
def pushed(srv):
    # Ten 10s intervals ending a few minutes ago, aligned to 10s.
    t0 = (time.time_ns() - 300 * S) // STEP * STEP
    login_a, login_b, disk, rare, noise = [], [], [], [], []
    for k in range(10):
        base = t0 + k * STEP
        for j in range(6):  # 6 logins per interval: 4 on pod a, 2 on pod b
            line = f"user {1000 + k * 6 + j} logged in from 10.0.{k}.{j}"
            (login_a if j < 4 else login_b).append([base + j * S, line])
        for j in range(4):  # 4 per interval, level error
            disk.append([base + j * S + 1, f"disk /dev/sd{j} is {90 + j}% full on node-{k}",
                         {"detected_level": "error"}])
        noise.append([base + 2, f"cache miss ratio {k}.{k} for shard {k}"])
    for j in range(5):
        rare.append([t0 + j * S + 3, f"rebalancing partition {j} of topic orders"])
    r = srv.push_json([
        {"stream": {"app": "shop", "pod": "a"}, "values": sorted(login_a + rare)},
        {"stream": {"app": "shop", "pod": "b"}, "values": login_b},
        {"stream": {"app": "shop", "pod": "c"}, "values": disk},
        {"stream": {"app": "other"}, "values": noise},
    ])
    assert r.status_code == 204, r.text
    # Lines over max_line_size are rejected by validation: their template must not be mined.
    long_lines = [[t0 + i * S, f"request {i} failed: " + "x" * 150] for i in range(40)]
    r = srv.push_json([{"stream": {"app": "shop", "pod": "d"}, "values": long_lines}])
    assert r.status_code == 400, r.text
    return t0


def patterns(srv, query, start, end, step=None, tenant=None):
    params = {"query": query, "start": str(start), "end": str(end)}
    if step is not None:
        params["step"] = step
    return srv.get("/loki/api/v1/patterns", params=params, tenant=tenant)


def test_patterns_and_counts_per_interval(srv, pushed):
    t0 = pushed
    r = patterns(srv, '{app="shop"}', t0 - 60 * S, t0 + 200 * S, step="10s")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "success"
    got = {(p["level"], p["pattern"]): p["samples"] for p in body["data"]}
    assert set(got) == {
        ("unknown", "user <_> logged in from <_>"),
        ("error", "disk <_> is <_>% full on <_>"),
    }, body
    for p in body["data"]:
        assert set(p) == {"pattern", "level", "samples"}
    secs = [t0 // S + 10 * k for k in range(10)]
    # Logins merged across pods a and b: 6 per interval.
    assert got[("unknown", "user <_> logged in from <_>")] == [[s, 6] for s in secs]
    assert got[("error", "disk <_> is <_>% full on <_>")] == [[s, 4] for s in secs]
    # Most frequent first.
    assert [p["pattern"] for p in body["data"]][0] == "user <_> logged in from <_>"


def test_wider_step_sums_into_step_multiples(srv, pushed):
    t0 = pushed
    r = patterns(srv, '{app="shop", pod=~"a|b"}', t0 - 60 * S, t0 + 200 * S, step="60s")
    assert r.status_code == 200, r.text
    (login,) = r.json()["data"]
    assert login["pattern"] == "user <_> logged in from <_>"
    assert all(ts % 60 == 0 for ts, _ in login["samples"])
    assert sum(n for _, n in login["samples"]) == 60
    # The interval at t0 + 10k s lands on the step start at or before it.
    want = {}
    for k in range(10):
        s = t0 // S + 10 * k
        want[s - s % 60] = want.get(s - s % 60, 0) + 6
    assert login["samples"] == sorted([ts, n] for ts, n in want.items())


def test_selector_and_range_narrow_the_answer(srv, pushed):
    t0 = pushed
    r = patterns(srv, '{app="other"}', t0 - 60 * S, t0 + 200 * S)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "data": []}  # 10 lines: under Loki's 30
    # Only the last 5 intervals: 5 x 6 logins, 5 x 4 disk lines (under 30: dropped).
    r = patterns(srv, '{app="shop"}', t0 + 50 * S, t0 + 200 * S, step="10s")
    data = r.json()["data"]
    assert [(p["pattern"], sum(n for _, n in p["samples"])) for p in data] == [
        ("user <_> logged in from <_>", 30)]


def test_only_stream_selectors_are_accepted(srv, pushed):
    t0 = pushed
    for q in ('{app="shop"} |= "user"', 'count_over_time({app="shop"}[1m])',
              '{app="shop"} | json'):
        r = patterns(srv, q, t0, t0 + 100 * S)
        assert r.status_code == 400, (q, r.text)
        assert r.text.strip() == "only label matchers are supported", (q, r.text)
    r = patterns(srv, '{app="shop"', t0, t0 + 100 * S)
    assert r.status_code == 400 and "parse error" in r.text, r.text
    r = patterns(srv, '{app="shop"}', t0 + 100 * S, t0)
    assert r.status_code == 400, r.text
    assert "end timestamp must not be before or equal to start time" in r.text


def test_metrics_count_detected_patterns(srv, pushed):
    assert srv.metric("loki_pattern_ingester_patterns_detected_total") >= 4
    assert srv.metric("sluice_pattern_ingester_streams") >= 4


def test_disabled_by_default_answers_404(sluice):
    r = sluice.get("/loki/api/v1/patterns", params={"query": '{app="shop"}'})
    assert r.status_code == 404, r.text
    assert r.text == ""


def test_enabled_from_loki_config_block_and_loki_flag(sluice_factory):
    srv = sluice_factory(config={"pattern_ingester": {"enabled": True, "retain_for": "1h",
                                                      "max_chunk_age": "30m"}})
    r = srv.get("/loki/api/v1/patterns", params={"query": '{app="x"}'})
    assert r.status_code == 200 and r.json() == {"status": "success", "data": []}, r.text
    assert srv.config()["pattern_ingester"]["retain_for"] == "1h"
    srv = sluice_factory(["-pattern-ingester.enabled=true"])
    assert srv.get("/loki/api/v1/patterns", params={"query": '{app="x"}'}).status_code == 200


def test_invalid_durations_stop_the_start_with_lokis_message(sluice_factory):
    srv = sluice_factory(config={"pattern_ingester": {"retain_for": "10m"}}, start=False)
    with pytest.raises(ServerError):
        srv.start(timeout=10)
    # Loki's text; durations as sluice prints them (Loki's Go form would read 10m0s, 1h0m0s).
    assert "retain-for (10m) must be greater than or equal to chunk-duration (1h)" in \
        srv.stderr_text()
