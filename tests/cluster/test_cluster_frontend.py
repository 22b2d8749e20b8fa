"""The query frontend as a process of its own: queriers pull its split sub-queries; a querier
killed mid-query costs a retry on another one; tenants are served fairly across queriers."""

import os
import signal
import threading
import time

MINUTE = 60_000_000_000


def _push_history(front, tenant, app, minutes, per_minute=6):
    """Lines spread over the last `minutes` minutes, so a split query has work in every split."""
    now = time.time_ns()
    start = (now // MINUTE - minutes) * MINUTE
    values = []
    for m in range(minutes):
        for k in range(per_minute):
            ts = start + m * MINUTE + k * (MINUTE // per_minute)
            values.append([str(ts), f"level=info minute={m} k={k} app={app}"])
    for i in range(0, len(values), 500):
        r = front.push_json([{"stream": {"app": app}, "values": values[i:i + 500]}], tenant=tenant)
        assert r.status_code == 204, r.text
    return start, start + minutes * MINUTE


def _matrix(resp):
    assert resp.status_code == 200, resp.text
    return sorted((tuple(sorted(s["metric"].items())), tuple(map(tuple, s["values"])))
                  for s in resp.json()["data"]["result"])


def test_querier_killed_mid_query_is_retried_on_another(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=2,
                              flags=["-limits_config.split_queries_by_interval=1m",
                                     "-limits_config.max_query_parallelism=2",
                                     "-querier.query_ingesters_within=0s"])
    start, end = _push_history(cluster.front, None, "hist", 240, per_minute=30)
    # 240 one-minute splits, two at a time: long enough to lose a querier in the middle.
    q = 'sum by (app) (count_over_time({app="hist"} |~ "minute=[0-9]+ k=[0-9]+" [1m]))'
    expected = _matrix(cluster.front.query_range(q, start, end, step="60s", timeout=120))
    assert expected and sum(float(v) for _, vs in expected for _, v in vs) == 240 * 30

    result = {}

    def run():
        t0 = time.monotonic()
        result["resp"] = cluster.front.query_range(q, start, end, step="60s", timeout=120)
        result["took"] = time.monotonic() - t0

    t = threading.Thread(target=run)
    began = time.monotonic()
    t.start()
    time.sleep(0.15)
    os.kill(cluster.pid("querier-1"), signal.SIGKILL)
    killed_after = time.monotonic() - began
    t.join(timeout=130)
    assert not t.is_alive(), "the query hung after its querier was killed"
    assert result["took"] > killed_after, "the query ended before the querier was killed"
    resp = result["resp"]
    if resp.status_code == 200:
        assert _matrix(resp) == expected
    else:  # a clean failure names what happened, never a hang or a partial answer
        assert resp.status_code >= 500 and "querier" in resp.text, resp.text
    # The surviving querier serves everything afterwards.
    assert _matrix(cluster.front.query_range(q, start, end, step="60s", timeout=120)) == expected
    cluster.restart("querier-1")


def test_one_split_query_is_not_stuck_behind_another_tenants_hundred(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=2,
                              flags=["-auth_enabled=true",
                                     "-limits_config.split_queries_by_interval=1m",
                                     "-limits_config.max_query_parallelism=100",
                                     "-querier.query_ingesters_within=0s"])
    start, end = _push_history(cluster.front, "heavy", "bulk", 100, per_minute=60)
    small_start, small_end = _push_history(cluster.front, "light", "tiny", 1)
    heavy_q = 'sum(count_over_time({app="bulk"} |~ "k=[0-9]*5" [1m]))'
    done = {}

    def heavy():
        r = cluster.front.query_range(heavy_q, start, end, step="60s", tenant="heavy", timeout=120)
        done["heavy"] = (time.monotonic(), r.status_code)

    t = threading.Thread(target=heavy)
    t0 = time.monotonic()
    t.start()
    time.sleep(0.05)
    r = cluster.front.query_range('count_over_time({app="tiny"}[1m])', small_start, small_end,
                                  step="60s", tenant="light", timeout=60)
    light_done = time.monotonic()
    assert r.status_code == 200, r.text
    t.join(timeout=130)
    assert done["heavy"][1] == 200
    # Round-robin over tenants: the light query waits for at most one split per worker slot, not
    # for the heavy tenant's 100.
    assert light_done < done["heavy"][0], "the one-split query finished after the 100-split one"
    assert (light_done - t0) < 0.5 * (done["heavy"][0] - t0) + 0.5
