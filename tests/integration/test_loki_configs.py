"""Loki's own configurations start sluice, which then takes a push and answers a query.

Fixtures: tests/fixtures/loki-configs/ (each file names its source in its first lines): Loki's
cmd/loki/loki-local-config.yaml from 2.9 and 3.7, the config Loki's Helm chart renders for the
single-binary and simple-scalable modes, and every example of docs/sources/configure/examples in
2.9 and 3.7.

Each file is used as-is with -config.file. Flags override what would make the test
non-hermetic, and nothing else (the harness adds the listen address and port, the data directory
via -common.path-prefix, fsync off and service-name discovery off):
  -common.storage.filesystem.chunks-directory  the fixtures' /tmp/loki/chunks (set through
                                               common.storage.filesystem or, renamed, Loki's
                                               storage_config.filesystem.directory)
  -runtime-config.file=                        the Helm chart's /etc/loki/runtime-config/...
S3, GCS, Azure, memberlist, schema_config and the like need no override: sluice ignores them
and says so in one warning, which the test checks names them.
"""

import time
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "loki-configs"
CONFIGS = sorted(FIXTURES.glob("*.yaml"))
WARNING = "ignoring Loki configuration keys that have no meaning in sluice"


def test_fixtures_present():
    names = {p.name for p in CONFIGS}
    for want in ("loki-2.9-local-config.yaml", "loki-3.7-local-config.yaml",
                 "helm-single-binary.yaml", "helm-simple-scalable.yaml"):
        assert want in names
    assert sum(n.startswith("docs-") for n in names) >= 30
    for p in CONFIGS:
        assert p.read_text().startswith("# Source: github.com/grafana/loki, "), p.name


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_loki_config_starts_and_serves(sluice_factory, path):
    s = sluice_factory(config=path.read_text(), start=False, name=path.stem)
    # Fixtures that store in S3 name servers that do not run here: store on the local disk.
    s.flags += [f"-common.storage.filesystem.chunks-directory={s.data_dir}/chunks",
                "-runtime-config.file=", "-common.storage.s3.bucketnames=",
                "-common.storage.s3.s3="]
    s.start()
    # Loki-only keys (grpc_listen_port, schema_config, ...) are named in one warning.
    warnings = [line for line in s.stderr_text().splitlines() if WARNING in line]
    assert len(warnings) <= 1, s.stderr_tail(20)
    text = path.read_text()
    if "schema_config:" in text:
        assert len(warnings) == 1 and "schema_config.configs[0]" in warnings[0]
    # A config that stores in an object store other than S3 gets a second, explicit warning.
    stores = ("  gcs:", "  azure:", "  swift:", "  cos:", "  bos:",
              "  alibabacloud:", "  cassandra:", "  bigtable:")
    object_store = [line for line in s.stderr_text().splitlines()
                    if "only S3-compatible object storage is supported" in line]
    assert len(object_store) == (1 if any(st in text for st in stores) else 0), s.stderr_tail(20)

    now = time.time_ns()
    line = f"hello from {path.stem}"
    r = s.push_json([{"stream": {"job": "loki-config"}, "values": [[str(now), line]]}],
                    tenant="tenant-1")
    assert r.status_code == 204, r.text
    got = s.query_lines('{job="loki-config"}', now - 60 * 10**9, now + 10**9, tenant="tenant-1")
    assert got == [line]


def test_typo_stops_start_with_suggestion(sluice_factory):
    text = (FIXTURES / "loki-3.7-local-config.yaml").read_text()
    text = text.replace("grpc_listen_port:", "grpc_listen_prot:")
    s = sluice_factory(config=text, start=False, name="typo")
    s.spawn()
    assert s.wait_exit(timeout=30) == 1
    assert ('unknown configuration key "grpc_listen_prot" in section server; '
            'did you mean "server.grpc_listen_port"?') in s.stderr_text()


def test_loki_flags(sluice_factory):
    # Loki's flag names: one sluice has (-distributor.ingestion-rate-limit-mb) and one it ignores.
    s = sluice_factory(flags=["-distributor.ingestion-rate-limit-mb=9",
                              "-server.http-write-timeout=1m"])
    assert "ingestion_rate_mb: 9" in s.get("/config").text
    assert "-server.http-write-timeout (server.http_server_write_timeout)" in s.stderr_text()
    bad = sluice_factory(flags=["-distributor.ingestion-rate-limit-mbb=9"], start=False, name="bad")
    bad.spawn()
    assert bad.wait_exit(timeout=30) == 1
    assert ("unknown flag -distributor.ingestion-rate-limit-mbb "
            "(did you mean -distributor.ingestion-rate-limit-mb?)") in bad.stderr_text()
