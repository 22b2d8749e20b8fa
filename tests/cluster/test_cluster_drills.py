"""Failure drills on a real cluster (scripts/cluster.sh): crashed, hung, restarted, added and
removed ingesters, a lost zone and a restarted etcd, all under continuous pushes. What must
hold: no acknowledged line is lost or returned twice, and pushes succeed whenever a quorum of
each stream's replicas is up."""

import time

import pytest

from helpers.cluster import PushLoad
from helpers.server import wait_until

pytestmark = pytest.mark.slow


def _active(cluster, n):
    cluster.wait_ring(lambda r: sum(s["state"] == "ACTIVE" for s in r.values()) == n, timeout=60,
                      what=f"{n} ACTIVE ingesters")


def test_kill9_ingesters_one_at_a_time_under_load(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1)
    load = PushLoad(cluster.front, "kill9", threads=3).start()
    try:
        time.sleep(3)
        t_kill = time.monotonic()
        cluster.kill("ingester-2")
        time.sleep(30)
        cluster.restart("ingester-2")
        _active(cluster, 3)
        cluster.kill("ingester-3")
        time.sleep(10)
        t_end = time.monotonic()
        cluster.restart("ingester-3")
        _active(cluster, 3)
        time.sleep(2)
    finally:
        load.stop()
    # Two of three were up the whole time: not one push failed.
    assert load.failures_between(t_kill, t_end) == [], load.failures[:5]
    assert load.failures == [], load.failures[:5]
    acked, _found = load.verify()
    assert acked > 1000


def test_hung_ingester_costs_at_most_the_deadline(cluster_factory):
    # A short deadline so the test stays short; the breaker opens after 5 failed calls.
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1,
                              flags=["-ingester_client.remote_timeout=1s",
                                     "-ingester_client.circuit_breaker.cooldown=2s"])
    load = PushLoad(cluster.front, "sigstop", threads=3).start()
    hung_addr = None
    try:
        time.sleep(2)
        hung_addr = cluster.ring()["ingester-1"]["address"]
        t0 = time.monotonic()
        cluster.pause("ingester-1")
        time.sleep(20)
        cluster.resume("ingester-1")
        t1 = time.monotonic()

        def breaker_closed_again():
            text = cluster.get("frontdoor", "/metrics").text
            opened = closed = 0.0
            for line in text.splitlines():
                if line.startswith("sluice_ingester_client_circuit_breaker_transitions_total") and hung_addr in line:
                    if 'state="open"' in line:
                        opened = float(line.split()[-1])
                    if 'state="closed"' in line:
                        closed = float(line.split()[-1])
            return opened >= 1 and closed >= 1

        wait_until(breaker_closed_again, timeout=30, what="the breaker to open and close again")
        time.sleep(2)
    finally:
        cluster.resume("ingester-1")
        load.stop()
    assert load.failures == [], load.failures[:5]
    during = sorted(took for began, took, status in load.latencies if t0 <= began <= t1)
    assert len(during) > 50
    p99 = during[int(len(during) * 0.99) - 1]
    assert p99 < 2.0, f"push p99 {p99:.3f}s while an ingester was hung (deadline 1s)"
    load.verify()


def test_rolling_restart_under_load(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1)
    load = PushLoad(cluster.front, "rolling", threads=3).start()
    try:
        time.sleep(2)
        for name in ("ingester-1", "ingester-2", "ingester-3"):
            cluster.restart(name)  # SIGTERM: LEAVING, flush, leave the ring; then start again
            _active(cluster, 3)
            time.sleep(1)
    finally:
        load.stop()
    assert load.failures == [], load.failures[:5]
    load.verify()


def test_scale_out_to_four_and_back_under_load(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1)
    load = PushLoad(cluster.front, "scale", threads=3).start()
    try:
        time.sleep(2)
        name = cluster.add_ingester()
        assert name == "ingester-4"
        _active(cluster, 4)
        # New streams spread onto the fourth ingester.
        t = time.time_ns()
        streams = [{"stream": {"job": "spread", "n": str(i)}, "values": [[str(t), f"s{i}"]]}
                   for i in range(60)]
        r = cluster.front.push_json(streams)
        assert r.status_code == 204, r.text
        m = cluster.get("ingester-4", "/metrics").text
        held = sum(float(l.split()[-1]) for l in m.splitlines()
                   if l.startswith("loki_ingester_memory_streams"))
        assert held >= 10, f"ingester-4 holds {held} streams"
        time.sleep(3)
        r = cluster.post("ingester-4", "/ingester/shutdown")
        assert r.status_code == 204, r.text
        wait_until(lambda: "ingester-4" not in cluster.ring(), timeout=60,
                   what="ingester-4 to leave the ring")
        time.sleep(3)
    finally:
        load.stop()
    assert load.failures == [], load.failures[:5]
    load.verify()
    assert len(cluster.front.query_lines('{job="spread"}', t - 10**9, t + 10**9, limit=100)) == 60


def test_losing_a_whole_zone_fails_no_push(cluster_factory):
    cluster = cluster_factory(ingesters=6, rf=3, zones=3, queriers=1)
    zones = {}
    for shard_id, shard in cluster.ring().items():
        zones.setdefault(shard["zone"], []).append(shard_id)
    assert sorted(len(v) for v in zones.values()) == [2, 2, 2], zones
    load = PushLoad(cluster.front, "zone", threads=3).start()
    try:
        time.sleep(2)
        victims = zones["zone-1"]
        for name in victims:
            cluster.kill(name)
        time.sleep(15)
        for name in victims:
            cluster.restart(name)
        _active(cluster, 6)
        time.sleep(2)
    finally:
        load.stop()
    assert load.failures == [], load.failures[:5]
    load.verify()


def test_etcd_restart_under_load(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1)
    load = PushLoad(cluster.front, "etcd", threads=3).start()
    try:
        time.sleep(2)
        cluster.kill("etcd")
        time.sleep(8)  # pushes keep going on the cached ring
        cluster.restart("etcd")
        # The ring is rebuilt from the instances' heartbeats.
        _active(cluster, 3)
        time.sleep(3)
    finally:
        load.stop()
    assert load.failures == [], load.failures[:5]
    load.verify()
