"""Fixtures for the incident drills (tests/drills/README.md).

  alertmanager   (session)  one prometheus-alertmanager every drill's Prometheus sends to.
  drill_workdir  (session)  a directory for the Prometheus and Alertmanager files; removed at the
                            end unless a drill failed.
  module_drill_cluster (module) make(**Cluster kwargs) -> a started helpers.cluster.Cluster
                            with the drill flags (auth on, the drill tenants' runtime limits,
                            fast flushes), shared by the module's drills; stopped at teardown.

Drills marked `drill_full` run only with SLUICE_DRILLS=full (scripts/drills.sh sets it); the
others are the short form, part of the README's test command.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from helpers import prometheus
from helpers.cluster import Cluster

# Per-tenant limits of the drill tenants (runtime overrides, Loki's limits_config names).
OVERRIDES = """\
overrides:
  drill-flood:            # pushed at 10x this
    ingestion_rate_mb: 0.05
    ingestion_burst_size_mb: 0.05
  drill-hot:              # one stream pushed at 3x this
    per_stream_rate_limit: 10KB
    per_stream_rate_limit_burst: 10KB
"""

# Every drill cluster: tenants apart (auth on), the overrides above re-read every second, and
# chunks closed within seconds so flushes (and the object store) are busy during a drill.
DRILL_FLAGS = (
    "-auth_enabled=true",
    "-runtime_config.period=1s",
    "-ingester.chunk_idle_period=2s",
    "-ingester.max_chunk_age=10s",
)


def pytest_configure(config):
    config.addinivalue_line("markers", "drill_full: an incident drill of the full set only "
                                       "(SLUICE_DRILLS=full, scripts/drills.sh)")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("SLUICE_DRILLS") == "full":
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("drill_full") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def drill_workdir(request):
    for tool in (prometheus.BINARY, prometheus.ALERTMANAGER_BINARY):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed (scripts/deps.sh --test installs prometheus "
                        "and prometheus-alertmanager)")
    path = Path(tempfile.mkdtemp(prefix="sluice-drills-"))
    yield path
    if request.session.testsfailed:
        print(f"\nkept drill directory for inspection: {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def alertmanager(drill_workdir):
    am = prometheus.Alertmanager(drill_workdir)
    try:
        yield am.start()
    finally:
        am.stop()


@pytest.fixture(scope="module")
def module_drill_cluster(request, sluice_bin, drill_workdir):
    """make(**kwargs) -> a started cluster shared by the module's drills."""
    made = []

    def make(**kwargs):
        if shutil.which("etcd") is None:
            pytest.fail("etcd is not installed (scripts/deps.sh --test installs etcd-server)")
        workdir = Path(tempfile.mkdtemp(prefix="cluster-", dir=drill_workdir))
        overrides = workdir / "overrides.yaml"
        overrides.write_text(OVERRIDES)
        flags = [*DRILL_FLAGS, f"-runtime_config.file={overrides}", *kwargs.pop("flags", ())]
        c = Cluster(sluice_bin, workdir / "cluster", flags=flags, **kwargs)
        made.append(c)
        c.start()
        return c

    yield make
    for c in made:
        if request.session.testsfailed:
            print(c.logs_tail(30))
        try:
            c.stop()
        except Exception as e:  # noqa: BLE001 - teardown reports, does not mask the test
            print(f"cluster stop failed: {e}")
