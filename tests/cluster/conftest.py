"""Fixtures for cluster tests: real etcd, ingesters, queriers and a front door started by
scripts/cluster.sh (which needs Debian's etcd-server; scripts/deps.sh --test installs it).

  cluster_factory  (function) make(ingesters=3, rf=3, zones=1, distributors=1, queriers=2,
                              flags=()) -> a started helpers.cluster.Cluster; stopped at teardown.
"""

import shutil
import tempfile

import pytest

from helpers.cluster import Cluster


class _ClusterFactory:
    def __init__(self, binary, prefix):
        self.binary, self.prefix = binary, prefix
        self.made = []

    def __call__(self, **kwargs):
        workdir = tempfile.mkdtemp(prefix=f"sluice-cluster-{self.prefix}-")
        c = Cluster(self.binary, workdir, **kwargs)
        self.made.append(c)
        c.start()
        return c

    def close(self, keep):
        for c in self.made:
            try:
                c.stop()
            except Exception as e:  # noqa: BLE001 - teardown reports, does not mask the test
                print(f"cluster stop failed: {e}")
            if keep:
                print(f"\nkept cluster directory for inspection: {c.dir}")
            else:
                shutil.rmtree(c.dir, ignore_errors=True)


@pytest.fixture
def cluster_factory(request, sluice_bin):
    if shutil.which("etcd") is None:
        pytest.fail("etcd is not installed (scripts/deps.sh --test installs etcd-server)")
    name = "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:30]
    factory = _ClusterFactory(sluice_bin, name)
    yield factory
    failed = getattr(request.node, "_sluice_failed", False)
    if failed:
        for c in factory.made:
            print(c.logs_tail(40))
    factory.close(keep=failed)
