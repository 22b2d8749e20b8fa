"""A full disk under the WAL (a small tmpfs mounted by the test, which runs as root): pushes get
a clear 503 and nothing acknowledged is lost; the WAL keeps its segment instead of leaving a new
file behind per failed push; /ready and sluice_ingester_wal_failing say the WAL is failing; once
space returns, pushes succeed again without a restart."""

import os
import shutil
import subprocess

import pytest

from helpers import push as pf
from helpers.server import wait_until

S = 10**9


@pytest.fixture
def wal_tmpfs(tmp_path):
    mount = tmp_path / "waltmpfs"
    mount.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"mounting a tmpfs failed (the test runs as root): {r.stderr}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path, leave_bytes):
    """A file taking all but about `leave_bytes` of the filesystem holding `path`."""
    free = shutil.disk_usage(path.parent).free
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))
        f.flush()
        os.fsync(f.fileno())


def test_full_wal_disk_refuses_pushes_keeps_one_segment_and_recovers(sluice_factory, wal_tmpfs):
    wal = wal_tmpfs / "wal"
    s = sluice_factory(flags=[f"-ingester.wal.dir={wal}", "-ingester.wal.fsync=batch"])
    now = pf.now_ns()
    acked, refused = [], 0
    filler = wal_tmpfs / "filler"
    _fill(filler, 256 << 10)
    line = "x" * 900
    for i in range(400):  # 400 x 10 KB: well past the space left
        batch = [f"{i:04d}-{j} {line}" for j in range(10)]
        r = s.push_json([{"stream": {"app": "disk"},
                          "values": [[now - 600 * S + i * 1000 + j, l] for j, l in enumerate(batch)]}])
        if r.status_code == 204:
            acked += batch
            continue
        assert r.status_code == 503, (r.status_code, r.text)
        assert "WAL" in r.text, r.text  # "failed to write to the WAL: ...: No space left ..."
        refused += 1
        if refused == 1:
            files_at_first_failure = sorted(p.name for p in wal.iterdir())
        if refused >= 40:
            break
    assert acked and refused >= 40, (len(acked), refused)
    # Forty refused pushes later the WAL directory holds no more files than at the first refusal
    # (at most the segment a repairing checkpoint cuts).
    files_now = sorted(p.name for p in wal.iterdir())
    assert len(files_now) <= len(files_at_first_failure) + 1, (files_at_first_failure, files_now)

    ready = s.get("/ready")
    assert ready.status_code == 503 and "WAL is failing" in ready.text, ready.text
    assert s.metrics().value("sluice_ingester_wal_failing") == 1

    # Space returns: without a restart, the repair succeeds and pushes are taken again.
    filler.unlink()
    wait_until(lambda: s.get("/ready").status_code == 200, timeout=15, what="ready again")
    assert s.metrics().value("sluice_ingester_wal_failing") == 0
    after = [f"after-{j}" for j in range(5)]
    r = s.push_json([{"stream": {"app": "disk"},
                      "values": [[now - 5 * S + j, l] for j, l in enumerate(after)]}])
    assert r.status_code == 204, r.text
    acked += after

    # Everything acknowledged survives a crash.
    s.kill9()
    s.start()
    got = s.query_lines('{app="disk"}', now - 700 * S, now + S, limit=5000)
    missing = set(acked) - set(got)
    assert not missing, (len(missing), sorted(missing)[:5])
