"""Incident drills on one shared cluster (3 ingesters, RF 3): each injects one incident and
asserts that its alert reaches Alertmanager within 2 minutes and that no alert outside the
drill's allowed companions fires (tests/drills/README.md).

Short form (the README's test command): tenant flood, hot stream, hung ingester (SIGSTOP).
Full set (SLUICE_DRILLS=full): also a crash-looping ingester, a failing and a slow object store,
and an ingester slowed by the test-only push delay; test_drills_kafka.py and
test_drills_zones.py hold the drills that need clusters of their own.
"""

import threading
import time

import pytest

from drills import drillkit
from drills.drillkit import Pusher, restart_with_flags, wait_all_active
from helpers import rules

INGESTERS = 3


@pytest.fixture(scope="module")
def cluster(module_drill_cluster):
    return module_drill_cluster(ingesters=INGESTERS, rf=3, queriers=1, backends=1)


@pytest.fixture(scope="module")
def drills(cluster, alertmanager, drill_workdir):
    # Background traffic for the whole module: a healthy tenant pushing 100 lines/s.
    load = Pusher(cluster.front, "drill-load", "load", streams=3, lines=10, interval=0.1,
                  max_seconds=1800).start()
    try:
        yield drillkit.Drills(cluster, alertmanager, drill_workdir)
    finally:
        load.stop()
    # No incident here fails another tenant's pushes.
    assert set(load.statuses) == {204}, f"background pushes by status: {load.statuses}"


def _over_a_limit(drills, cluster, drill, alert, **pusher):
    """Pushes with Pusher(**pusher) past a limit: `alert`, alone, and the pushes got 429s."""
    p = Pusher(cluster.front, **pusher)
    drills.run(drill, expect={alert}, allowed=set(), inject=p.start, recover=p.stop)
    assert p.statuses.get(429, 0) > 0, p.statuses


def test_tenant_flood(drills, cluster):
    """A tenant pushing 10x its ingestion_rate_mb (500 KB/s against 50 KB/s)."""
    _over_a_limit(drills, cluster, "tenant-flood", "SluiceTenantRateLimited", tenant="drill-flood",
                  tag="flood", streams=2, lines=50, line_bytes=1000, interval=0.1)


def test_hot_stream(drills, cluster):
    """One stream pushed at 3x its per_stream_rate_limit (30 KB/s against 10 KB/s)."""
    _over_a_limit(drills, cluster, "hot-stream", "SluiceStreamRateLimited", tenant="drill-hot",
                  tag="hot", streams=1, lines=10, line_bytes=300, interval=0.1)


def test_hung_ingester(drills, cluster):
    """An ingester stopped with SIGSTOP: pushes to it time out until the distributor's circuit
    breaker opens. It also cannot be scraped (SluiceComponentDown) and its heartbeat goes stale
    (SluiceRingMembersUnhealthy)."""

    def recover():
        cluster.resume("ingester-2")
        wait_all_active(cluster, INGESTERS)

    drills.run("hung-ingester", expect={"SluiceIngesterSlow"},
               allowed={"SluiceComponentDown", "SluiceRingMembersUnhealthy"},
               inject=lambda: cluster.pause("ingester-2"), recover=recover)


def test_cluster_exports_every_metric_the_rules_read(drills, cluster):
    """The names in the rules are the names a running cluster exports (families registered on
    first use are used first: one query through the frontend; the drills above discarded
    lines). The Kafka ones are checked by test_drills_kafka.py, which runs that path."""
    r = cluster.front.query_range('{drill="load"}', tenant="drill-load", limit=1)
    assert r.status_code == 200, r.text
    exposed = drillkit.exposed_families(
        [cluster.endpoint(n) for n in cluster.names() if n != "etcd"])
    wanted = {m for m in rules.metrics_read() if not m.startswith("sluice_kafka_")}
    assert not wanted - exposed, (
        f"the rules read {sorted(wanted - exposed)}, which no process of the cluster exports")


@pytest.mark.drill_full
def test_crash_looping_ingester(drills, cluster):
    """ingester-2 killed with SIGKILL about every 3 seconds and started again, as a kubelet
    restarts a crashing container (without its back-off)."""
    stop = threading.Event()
    restarts = []

    def loop():
        for _ in range(60):  # bounded: about 3 minutes
            if stop.is_set():
                return
            cluster.kill("ingester-2")
            cluster.restart("ingester-2")
            restarts.append(time.monotonic())
            stop.wait(2)

    looper = threading.Thread(target=loop, daemon=True)

    def recover():
        stop.set()
        looper.join(timeout=120)
        if not cluster.running("ingester-2"):
            cluster.restart("ingester-2")
        wait_all_active(cluster, INGESTERS)

    drills.run("crash-loop", expect={"SluiceIngesterCrashLooping"},
               allowed={"SluiceComponentDown", "SluiceRingMembersUnhealthy",
                        "SluiceIngesterSlow"},
               inject=looper.start, recover=recover)
    assert len(restarts) >= 3, restarts


def _with_fault(cluster, name, flags):
    """inject and recover callables: restart `name` with `flags`, then without them."""

    def inject():
        restart_with_flags(cluster, name, flags)

    def recover():
        restart_with_flags(cluster, name, [])
        wait_all_active(cluster, INGESTERS)

    return inject, recover


STORE_COMPANIONS = {"SluiceFlushQueueBacklog", "SluiceIngesterMemoryHigh"}


@pytest.mark.drill_full
def test_failing_object_store(drills, cluster):
    """Every object store operation of ingester-1 fails: its flushes fail and are retried."""
    inject, recover = _with_fault(cluster, "ingester-1", ["-testing.fault.store-error-ratio=1"])
    drills.run("store-failing", expect={"SluiceFlushFailures", "SluiceObjectStoreErrors"},
               allowed=STORE_COMPANIONS, inject=inject, recover=recover)


@pytest.mark.drill_full
def test_slow_object_store(drills, cluster):
    """Every object store operation of ingester-1 takes 3 s longer."""
    inject, recover = _with_fault(cluster, "ingester-1", ["-testing.fault.store-delay=3s"])
    drills.run("store-slow", expect={"SluiceObjectStoreLatency"}, allowed=STORE_COMPANIONS,
               inject=inject, recover=recover)


@pytest.mark.drill_full
def test_slow_ingester(drills, cluster):
    """ingester-2 sleeps 2 s in every push (under remote_timeout: no call fails, the breaker
    stays closed); the distributor's per-ingester latency shows it."""
    inject, recover = _with_fault(cluster, "ingester-2", ["-testing.fault.ingester-push-delay=2s"])
    drills.run("slow-ingester", expect={"SluiceIngesterSlow"}, allowed=set(),
               inject=inject, recover=recover)
