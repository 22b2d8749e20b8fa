"""Incident drill with zone awareness (scripts/cluster.sh --zones 3: 6 ingesters, two per zone,
RF 3 with one replica per zone): a whole zone lost."""

import pytest

from drills import drillkit
from drills.drillkit import Pusher, wait_all_active

pytestmark = pytest.mark.drill_full

INGESTERS = 6


@pytest.fixture(scope="module")
def zone_cluster(module_drill_cluster):
    return module_drill_cluster(ingesters=INGESTERS, rf=3, zones=3, queriers=1, backends=1)


def test_zone_lost(zone_cluster, alertmanager, drill_workdir):
    """Both ingesters of zone-1 killed with SIGKILL: pushes go on with two replicas of three."""
    cluster = zone_cluster
    victims = sorted(i for i, s in cluster.ring().items() if s["zone"] == "zone-1")
    assert len(victims) == 2, cluster.ring()
    load = Pusher(cluster.front, "drill-load", "zone-load", streams=3, lines=10, interval=0.1,
                  max_seconds=600).start()
    drills = drillkit.Drills(cluster, alertmanager, drill_workdir)

    def inject():
        for name in victims:
            cluster.kill(name)

    def recover():
        for name in victims:
            cluster.restart(name)
        wait_all_active(cluster, INGESTERS)

    try:
        drills.run("zone-lost", expect={"SluiceIngesterZoneDown"},
                   allowed={"SluiceComponentDown", "SluiceRingMembersUnhealthy",
                            "SluiceIngesterSlow"},
                   inject=inject, recover=recover)
    finally:
        load.stop()
    assert set(load.statuses) == {204}, load.statuses
