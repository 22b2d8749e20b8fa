"""Incident drill on the Kafka write path (scripts/cluster.sh --kafka: 3 ingesters, each
consuming its own partition of 3): a consumer that stops reading."""

import pytest

from drills import drillkit
from drills.drillkit import Pusher, wait_all_active
from helpers import rules

pytestmark = pytest.mark.drill_full


@pytest.fixture(scope="module")
def kafka_cluster(module_drill_cluster):
    return module_drill_cluster(ingesters=3, rf=3, queriers=1, backends=1, kafka=True)


def test_kafka_consumer_lag(kafka_cluster, alertmanager, drill_workdir):
    """ingester-2, the only consumer of partition 1, stopped with SIGSTOP while pushes go on:
    its group's lag grows by what is produced. Stopped, it also cannot be scraped and its
    heartbeat goes stale."""
    cluster = kafka_cluster
    # Six streams, so every partition gets records.
    load = Pusher(cluster.front, "drill-load", "kafka-load", streams=6, lines=12, interval=0.1,
                  max_seconds=600).start()
    drills = drillkit.Drills(cluster, alertmanager, drill_workdir)

    def recover():
        cluster.resume("ingester-2")
        wait_all_active(cluster, 3)

    try:
        seen = drills.run("kafka-lag", expect={"SluiceKafkaConsumerLag"},
                          allowed={"SluiceComponentDown", "SluiceRingMembersUnhealthy"},
                          inject=lambda: cluster.pause("ingester-2"), recover=recover)
    finally:
        load.stop()
    # The lag is 30 s of production no sooner than 30 s after the consumer stopped.
    assert seen["SluiceKafkaConsumerLag"] >= 30, seen
    assert load.statuses.get(204, 0) > 100, load.statuses
    exposed = drillkit.exposed_families(
        [cluster.endpoint(n) for n in cluster.names() if n not in ("etcd", "kafka")])
    kafka_metrics = {m for m in rules.metrics_read() if m.startswith("sluice_kafka_")}
    assert kafka_metrics and not kafka_metrics - exposed, sorted(kafka_metrics - exposed)
