"""The Kafka write path on a real cluster (scripts/cluster.sh --kafka): the front door produces
every push to the topic sluice-logs of sluice-kafka-testbroker, each ingester consumes its
partition(s), queriers read one ACTIVE owner of each partition.

  1. The push/query suite (tests/integration/test_push_query.py) through the front door of a
     Kafka cluster (3 ingesters, a partition each), every answer identical to the single binary's
     on its direct write path: test_cluster_suites.py's Pair, whose tee waits (bounded) before
     each read until the ingesters applied every acknowledged push (Cluster.wait_kafka_applied).
     A push is acknowledged once Kafka has it; its lines are readable up to fetch.wait.max.ms
     later on the test broker (it answers an idle fetch only then), and the reader's lag_records
     gauge reads 0 meanwhile (it uses the end seen in the last fetch), so the wait compares the
     front door's appends with the ingesters' applied records instead.
  2-4. Drills under continuous pushes (helpers.cluster.PushLoad) on one cluster for the module,
     4 ingesters and 2 partitions, so each partition has two owners (ingester-1 and ingester-3
     own partition 0, ingester-2 and ingester-4 partition 1), in this order:
  2. kill -9 of both owners of partition 0, restarted: pushes never fail (Kafka takes them; the
     partition is read later), each resumes from its group's committed offset, and every
     acknowledged line is read exactly once through them.
  3. SIGSTOP of one owner of partition 1: pushes never fail, the front door's consumer-group lag
     of the paused one grows, returns near zero after SIGCONT, nothing is lost. Queries while it
     is paused: see test_paused_owner_lag_grows_and_queries_time_out_until_it_is_unhealthy.
  4. Partition 1 moves: both owners leave (SIGTERM: flush, commit the handover offset), a new
     ingester started with -ingester.kafka_ingestion.partitions=1 (its default would be 0) starts
     at the handover offset; no acknowledged line is skipped or returned twice. While no
     instance in the ring lists partition 1, queries answer 200 without what it took since the
     handover (see _query_while_unowned; printed with -s).

Run time: about 100 s (two clusters and a single binary).
"""

import re
import shutil
import tempfile
import time

import pytest
import requests

from cluster import test_cluster_suites as suites
from helpers.cluster import Cluster, PushLoad
from helpers.server import wait_until
from integration import test_push_query as push_query

pytestmark = pytest.mark.slow

S = 10**9
QUERY_TIMEOUT = 5  # seconds: limits_config.query_timeout of the drill cluster
HEARTBEAT_TIMEOUT = 10  # seconds: ingester.lifecycler.ring.heartbeat_timeout (scripts/cluster.sh)
HEDGE = 1  # seconds: a partition owner's answer awaited before its other owner is asked


# --- 1. the push/query suite through Kafka, compared with the single binary -----------------------

@pytest.fixture(scope="module")
def kafka_pair(request, sluice_bin, module_sluice_factory):
    yield from suites._pair(request, sluice_bin, module_sluice_factory, ["-auth_enabled=true"],
                            kafka=True)


@pytest.fixture(scope="module")
def srv(kafka_pair):
    return suites.TeeDoor(kafka_pair)


filters_t0 = push_query.filters_t0
matchers_t0 = push_query.matchers_t0
timefmt_t0 = push_query.timefmt_t0
for _name in dir(push_query):
    if _name.startswith("test_"):
        globals()[_name] = suites.differential(getattr(push_query, _name))


def test_pushes_went_through_kafka(kafka_pair):
    """The suite above really wrote through Kafka: the front door appended records to every
    partition and each ingester applied its partition's."""
    cluster = kafka_pair.cluster
    cluster.wait_kafka_applied()
    appended = cluster.metrics("frontdoor").series("loki_distributor_kafka_appends_total",
                                                   status="success")
    assert sorted(l["partition"] for l, v in appended if v > 0) == ["0", "1", "2"], appended
    for i in (1, 2, 3):
        m = cluster.metrics(f"ingester-{i}")
        assert m.value("sluice_kafka_reader_records_total", partition=str(i - 1)) > 0


# --- 2-4. drills ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kcluster(request, sluice_bin):
    if shutil.which("etcd") is None:
        pytest.fail("etcd is not installed (scripts/deps.sh --test installs etcd-server)")
    cluster = Cluster(sluice_bin, tempfile.mkdtemp(prefix="sluice-cluster-kafka-"), ingesters=4,
                      rf=3, queriers=1, kafka=True, partitions=2,
                      flags=[f"-limits_config.query_timeout={QUERY_TIMEOUT}s"])
    failed_before = request.session.testsfailed
    keep = False
    try:
        cluster.start()
        yield cluster
    finally:
        try:
            if request.session.testsfailed > failed_before:
                keep = True
                print(cluster.logs_tail(40))
                print(f"\nkept cluster directory for inspection: {cluster.dir}")
            cluster.stop()
        finally:
            if not keep:
                shutil.rmtree(cluster.dir, ignore_errors=True)


def _partition_of(cluster, name):
    return [l["partition"] for l, _ in
            cluster.metrics(name).series("sluice_kafka_reader_lag_records")]


def _appended(cluster, partition):
    return cluster.metrics("frontdoor").value("loki_distributor_kafka_appends_total",
                                              partition=partition, status="success")


def _starts(cluster, name):
    """[(partition, offset, how, end, group)] of every "starts at offset" line of name's log."""
    return [(int(m[1]), int(m[2]), m[3], int(m[4]), m[5]) for m in re.finditer(
        r"partition (\d+) of sluice-logs starts at offset (\d+) "
        r"\((\w+); end (-?\d+), group ([\w-]+)\)",
        cluster.log(name))]


def _settle_and_verify(cluster, load):
    """Stops the load, waits until the ingesters applied everything, checks exactly once."""
    load.stop()
    cluster.wait_kafka_applied(timeout=60)
    acked, _found = load.verify()
    return acked


def _group_lag(cluster, group, partition):
    """The front door's sluice_kafka_consumer_group_lag_records of one group and partition, or
    None while it has none."""
    found = cluster.metrics("frontdoor").series("sluice_kafka_consumer_group_lag_records",
                                                group=group, partition=partition)
    return found[0][1] if found else None


def test_kill9_both_owners_of_a_partition_pushes_never_fail(kcluster):
    """kill -9 of ingester-1 and ingester-3 (partition 0's owners) for 8 s under pushes, then
    `cluster.sh restart` of each. Pushes never fail: Kafka takes partition 0's records, which are
    read after the restart. Each restarted one starts at its own group's committed offset (WAL
    replay gives back what it applied after that; the re-read records are dropped as
    duplicates), and, as the partition's only owners, serves every acknowledged line exactly once.
    While both are down a query fails (5xx) rather than answer without partition 0."""
    cluster = kcluster
    assert _partition_of(cluster, "ingester-1") == ["0"]
    assert _partition_of(cluster, "ingester-3") == ["0"]
    load = PushLoad(cluster.front, "kafka-kill9", threads=4).start()
    try:
        time.sleep(3)  # commits (every second) of a few hundred records
        committed = {n: cluster.metrics(n).value(
            "loki_kafka_client_partition_reader_last_committed_offset", partition="0")
            for n in ("ingester-1", "ingester-3")}
        assert min(committed.values()) > 0, committed
        t_kill = time.monotonic()
        cluster.kill("ingester-1")
        cluster.kill("ingester-3")
        appended_at_kill = _appended(cluster, "0")
        time.sleep(1)
        # Partition 0's recent data cannot be read: a query fails rather than answer without it.
        down = cluster.front.query_range(load.selector(0), load.start_ns, time.time_ns(),
                                         limit=10, timeout=QUERY_TIMEOUT + 15)
        time.sleep(7)  # partition 0 has no owner: Kafka holds its records
        appended_while_down = _appended(cluster, "0") - appended_at_kill
        t_end = time.monotonic()
        starts_before = {n: len(_starts(cluster, n)) for n in ("ingester-1", "ingester-3")}
        cluster.restart("ingester-1")
        cluster.restart("ingester-3")
        cluster.wait_ring(lambda r: sum(s["state"] == "ACTIVE" for s in r.values()) == 4,
                          timeout=60, what="4 ACTIVE ingesters")
        time.sleep(2)
    finally:
        load.stop()
    assert appended_while_down > 20, "no pushes for partition 0 while its owners were down"
    # The ring still shows them ACTIVE (heartbeat_timeout not passed): the querier calls them and
    # fails on the refused connection.
    assert down.status_code >= 500, (down.status_code, down.text[:300])
    print(f"query with partition 0's owners killed: {down.status_code} {down.text[:300]}")
    assert load.failures_between(t_kill, t_end) == [], load.failures[:5]
    assert load.failures == [], load.failures[:5]
    for name in ("ingester-1", "ingester-3"):
        starts = _starts(cluster, name)[starts_before[name]:]
        assert len(starts) == 1, starts
        partition, offset, how, end, group = starts[0]
        # Its own group's committed offset (at least what it had committed before the kill), with
        # the records pushed while it was down still to read.
        assert (partition, how, group) == (0, "committed", name), starts[0]
        assert committed[name] <= offset < end, (committed[name], starts[0])
    acked = _settle_and_verify(cluster, load)
    assert acked > 1000


def test_paused_owner_lag_grows_and_queries_go_to_the_other_owner(kcluster):
    """SIGSTOP of ingester-2 (partition 1; ingester-4 owns it too) for 2 heartbeat timeouts.

    Pushes: never fail (the front door writes to Kafka only).
    Lag: the front door's sluice_kafka_consumer_group_lag_records{group="ingester-2"} grows while
    it is paused and comes back near zero after SIGCONT.
    Queries while it is paused: a query asks one ACTIVE owner of each partition, the owners taking
    turns; until the ring sees the paused one's heartbeat as stale (heartbeat_timeout, 10 s), a
    query whose turn picks it asks ingester-4 too after the hedge delay (1 s,
    rpc::RingIngestersOptions::partition_hedge_ns) and answers then. Every query answers 200 with
    every line acknowledged before it, once, in under the hedge delay plus 2 s.
    """
    cluster = kcluster
    assert _partition_of(cluster, "ingester-2") == ["1"]
    assert _partition_of(cluster, "ingester-4") == ["1"]
    load = PushLoad(cluster.front, "kafka-pause", threads=3).start()
    answers = []  # (seconds since the pause, seconds taken, status, detail)
    lags = []     # (seconds since the pause, lag of ingester-2's group, of ingester-4's)
    try:
        time.sleep(2)
        t_pause = time.monotonic()
        cluster.pause("ingester-2")
        appended_at_pause = _appended(cluster, "1")
        k = 0
        while time.monotonic() - t_pause < 2 * HEARTBEAT_TIMEOUT:
            lags.append((time.monotonic() - t_pause, _group_lag(cluster, "ingester-2", "1"),
                         _group_lag(cluster, "ingester-4", "1")))
            k = (k + 1) % 3
            # Lines acknowledged by now and pushed a second before: applied by the time of the
            # query (the test broker answers an idle fetch after fetch.wait.max.ms, so a record
            # may take that long to reach the ingesters).
            with load._lock:
                horizon = time.time_ns() - S
                expected = [v for v in load.acked[k] if v[0] < horizon]
            time.sleep(0.5)
            began = time.monotonic()
            try:
                r = cluster.front.query_range(load.selector(k), load.start_ns, time.time_ns() + S,
                                              limit=5000, direction="forward",
                                              timeout=QUERY_TIMEOUT + 15)
                status, detail = r.status_code, r.text[:300]
                if status == 200:
                    got = [(int(ts), line) for s in r.json()["data"]["result"]
                           for ts, line, *_ in s["values"]]
                    missing = set(expected) - set(got)
                    detail = (f"{len(got)} lines, {len(got) - len(set(got))} duplicates, "
                              f"{len(missing)} of {len(expected)} acknowledged missing")
                    if len(got) != len(set(got)) or missing:
                        status = "WRONG"
                        detail += f", e.g. {sorted(missing)[:2]}"
            except requests.RequestException as e:
                status, detail = type(e).__name__, str(e)[:300]
            answers.append((began - t_pause, time.monotonic() - began, status, detail))
        t_resume = time.monotonic()
        cluster.resume("ingester-2")
        appended_while_paused = _appended(cluster, "1") - appended_at_pause
        report = "\n".join(f"  {a:5.1f}s +{b:5.2f}s {c} {d}" for a, b, c, d in answers)
        print(f"queries during the pause:\n{report}\nlags (s, ingester-2, ingester-4): {lags}")
        # Back near zero while pushes go on: under a second of records (commits are every second,
        # the monitor's rounds every few).
        peak = max(l[1] or 0 for l in lags)
        wait_until(lambda: (_group_lag(cluster, "ingester-2", "1") or 0) < min(100, peak / 10),
                   timeout=30, interval=0.5, what="ingester-2's group lag to come back near zero")
        t_recovered = time.monotonic()
    finally:
        cluster.resume("ingester-2")
        load.stop()
    print(f"lag near zero {t_recovered - t_resume:.1f}s after SIGCONT")
    assert load.failures == [], load.failures[:5]
    assert appended_while_paused > 200, "too few pushes for partition 1 while ingester-2 was paused"
    # The lag grew: what ingester-2's group had not committed went up across the pause.
    seen = [(t, lag) for t, lag, _ in lags if lag is not None]
    assert seen, f"the front door exported no lag of group ingester-2: {lags}"
    early = [lag for t, lag in seen if t < 3]
    late = [lag for t, lag in seen if t > 2 * HEARTBEAT_TIMEOUT - 6]
    assert early and late and max(late) > max(early) + 100, seen
    # ... by about what was appended to partition 1 meanwhile (the monitor's rounds are 2 s apart;
    # the late samples are from the last 6 s of the pause).
    assert max(late) >= 0.4 * appended_while_paused, (appended_while_paused, seen)
    # The other owner of the partition kept up.
    assert max(l4 or 0 for _, _, l4 in lags) < 200, lags
    assert not [a for a in answers if a[2] == "WRONG"], report
    assert all(status == 200 for _, _, status, _ in answers), report
    assert all(took < HEDGE + 2 for _, took, _, _ in answers), report
    # Some asked the paused owner first and were hedged (the owners take turns).
    assert any(took >= HEDGE for _, took, _, _ in answers), report
    _settle_and_verify(cluster, load)


def _query_while_unowned(cluster, load):
    """Each load stream queried once: [(status, detail, acknowledged lines pushed over a second
    before the query that the answer lacks)]; asserts a 200 holds no duplicates nor foreign
    lines."""
    out = []
    for k in load.acked:
        with load._lock:
            pushed = set(load.acked[k])
            expected = {v for v in pushed if v[0] < time.time_ns() - S}
        r = cluster.front.query_range(load.selector(k), load.start_ns, time.time_ns() + S,
                                      limit=5000, direction="forward", timeout=QUERY_TIMEOUT + 15)
        if r.status_code != 200:
            out.append((r.status_code, r.text[:300], None))
            continue
        got = [(int(ts), line) for st in r.json()["data"]["result"]
               for ts, line, *_ in st["values"]]
        assert len(got) == len(set(got)), f"thread {k}: duplicates"
        assert all(f"thread={k} " in line for _, line in got), f"thread {k}: foreign lines"
        out.append((200, f"{len(got)} lines", len(expected - set(got))))
    return out


def test_partition_moves_to_a_new_owner_at_the_handover_offset(kcluster):
    """Both owners of partition 1 leave in turn (SIGTERM: stop reading, flush, commit the handover
    offset); ingester-5, started with -ingester.kafka_ingestion.partitions=1 through
    `cluster.sh add-ingester DIR -- FLAGS` (its default would be partition 0), starts at the last
    one's handover offset and is then partition 1's only owner: what was read before the move is
    in the store, what comes after is read by ingester-5, every acknowledged line exactly once."""
    cluster = kcluster
    load = PushLoad(cluster.front, "kafka-move", threads=4).start()
    try:
        time.sleep(2)
        cluster.leave("ingester-4")
        time.sleep(2)
        # The leaving one's committed offset a moment before it leaves: its handover is later.
        committed = cluster.metrics("ingester-2").value(
            "loki_kafka_client_partition_reader_last_committed_offset", partition="1")
        t_leave = time.monotonic()
        cluster.leave("ingester-2")
        appended_at_leave = _appended(cluster, "1")
        time.sleep(1.5)
        unowned = _query_while_unowned(cluster, load)
        time.sleep(1.5)  # partition 1 has no owner: Kafka holds its records
        appended_while_unowned = _appended(cluster, "1") - appended_at_leave
        name = cluster.add_ingester(flags=["-ingester.kafka_ingestion.partitions=1"])
        t_owned = time.monotonic()
        assert name == "ingester-5"
        assert _partition_of(cluster, name) == ["1"]
        cluster.wait_ring(lambda r: r.get(name, {}).get("state") == "ACTIVE" and
                          "ingester-2" not in r and "ingester-4" not in r,
                          timeout=60, what="ingester-5 ACTIVE, ingester-2 and -4 gone")
        time.sleep(3)
    finally:
        load.stop()
    assert appended_while_unowned > 10, "no pushes for partition 1 while it had no owner"
    print(f"queries while partition 1 had no owner in the ring: {unowned}")
    for status, detail, missing in unowned:
        # The ring remembers partition 1 after its last owner left (Desc.kafka_partitions), so a
        # read fails naming it rather than answering 200 without what partition 1 took since the
        # handover: complete, or a clear 503.
        if status == 200:
            assert missing == 0, (status, detail, missing)
        else:
            assert status == 503 and "Kafka partition 1" in detail, (status, detail)
    assert any(status == 503 for status, _, _ in unowned), unowned
    assert load.failures_between(t_leave, t_owned) == [], load.failures[:5]
    assert load.failures == [], load.failures[:5]
    assert "handed over 1 partitions of sluice-logs" in cluster.log("ingester-2")
    starts = _starts(cluster, "ingester-5")
    assert len(starts) == 1, starts
    partition, offset, how, end, group = starts[0]
    assert (partition, how, group) == (1, "handover", "ingester-5"), starts[0]
    assert committed <= offset <= appended_at_leave, (committed, appended_at_leave, starts[0])
    assert offset < end, starts[0]  # the records pushed while no one owned it, read after
    _settle_and_verify(cluster, load)
