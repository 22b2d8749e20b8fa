"""The systemd journal source against a real sluice, without a running journald: genuine journal
files are written by systemd-journal-remote from the journal export format, and the agent reads
them through sd-journal as it would read /var/log/journal."""

import json
import os
import struct
import subprocess
import time
from pathlib import Path

from helpers.push import now_ns
from helpers.server import wait_until

from .conftest import agent_config

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
SLUICE_FLAGS = ["-limits_config.max_entries_limit_per_query=100000"]
BOOT_ID = "0123456789abcdef0123456789abcdef"


def export_entry(fields, realtime_us, monotonic_us):
    """One entry in the journal export format: KEY=value lines, or KEY, a little-endian 64-bit
    length and the raw bytes for values with a newline."""
    out = bytearray()
    out += f"__REALTIME_TIMESTAMP={realtime_us}\n__MONOTONIC_TIMESTAMP={monotonic_us}\n".encode()
    out += f"_BOOT_ID={BOOT_ID}\n".encode()
    for k, v in fields.items():
        data = v.encode()
        if b"\n" in data:
            out += k.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += k.encode() + b"=" + data + b"\n"
    return bytes(out + b"\n")


class JournalWriter:
    """Appends entries to DIR/remote.journal through systemd-journal-remote."""

    def __init__(self, directory):
        assert os.access(JOURNAL_REMOTE, os.X_OK), \
            f"{JOURNAL_REMOTE} missing: run scripts/deps.sh --test (package systemd-journal-remote)"
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.monotonic = 1

    def write(self, entries):
        """entries: [(fields dict, realtime_us)]"""
        data = b""
        for fields, realtime_us in entries:
            data += export_entry(fields, realtime_us, self.monotonic)
            self.monotonic += 1
        r = subprocess.run([JOURNAL_REMOTE, f"--output={self.dir / 'remote.journal'}", "-"], input=data,
                           capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr.decode(errors="replace")


def journal_config(push_url, positions, sources, **overrides):
    cfg = agent_config(push_url, positions, files=["unused"], **overrides)
    cfg["scrape_configs"] = sources
    return cfg


def _entries(sluice, selector, start):
    return sluice.query_entries(selector, start, now_ns() + 60 * 10**9, limit=100000, direction="forward")


def test_journal_entries_arrive_with_labels_and_timestamps_and_are_followed(sluice_factory, agent_factory,
                                                                           tmp_path):
    sluice = sluice_factory(flags=SLUICE_FLAGS)
    journal = JournalWriter(tmp_path / "journal")
    now_us = time.time_ns() // 1000
    start = (now_us - 3600 * 10**6) * 1000
    old = now_us - 2 * 3600 * 10**6  # older than max_age: not shipped
    journal.write([
        ({"MESSAGE": "too old", "_SYSTEMD_UNIT": "a.service", "PRIORITY": "6"}, old),
        ({"MESSAGE": "started a", "_SYSTEMD_UNIT": "a.service", "PRIORITY": "6"}, now_us - 30 * 10**6),
        ({"MESSAGE": "b failed\n  with a second line", "_SYSTEMD_UNIT": "b.service", "PRIORITY": "3"},
         now_us - 20 * 10**6),
        ({"CODE_FILE": "no message here", "_SYSTEMD_UNIT": "a.service"}, now_us - 15 * 10**6),
        ({"MESSAGE": "a again", "_SYSTEMD_UNIT": "a.service", "PRIORITY": "4"}, now_us - 10 * 10**6),
    ])
    relabel = [{"source_labels": ["__journal__systemd_unit"], "target_label": "unit"},
               {"source_labels": ["__journal_priority_keyword"], "target_label": "level"}]
    sources = [
        {"job_name": "sys", "journal": {"path": str(journal.dir), "max_age": "1h",
                                        "labels": {"job": "journal-test"}},
         "relabel_configs": relabel},
        {"job_name": "sys-json", "journal": {"path": str(journal.dir), "max_age": "1h", "json": True,
                                             "matches": "_SYSTEMD_UNIT=b.service"},
         "labels": {"job": "journal-json"}},
    ]
    cfg = journal_config(sluice.url("/loki/api/v1/push"), tmp_path / "pos", sources)
    agent = agent_factory(cfg)

    wait_until(lambda: len(_entries(sluice, '{job="journal-test"}', start)) >= 3, 20, interval=0.2,
               what="journal entries in sluice")
    got = sorted((e[1], e[2], e[0].get("unit"), e[0].get("level"))
                 for e in _entries(sluice, '{job="journal-test"}', start))
    assert got == [
        ((now_us - 30 * 10**6) * 1000, "started a", "a.service", "info"),
        ((now_us - 20 * 10**6) * 1000, "b failed\n  with a second line", "b.service", "error"),
        ((now_us - 10 * 10**6) * 1000, "a again", "a.service", "warning"),
    ], "the entry's realtime timestamp, MESSAGE as the line, relabeled labels"
    streams = sluice.query_streams('{job="journal-test"}', start, now_ns() + 60 * 10**9)
    assert all(not k.startswith("__") for s in streams for k in s["stream"]), "internal labels leaked"

    wait_until(lambda: _entries(sluice, '{job="journal-json"}', start), 20, what="json journal entry")
    (labels, ts, line), = [e[:3] for e in _entries(sluice, '{job="journal-json"}', start)]
    assert labels == {"job": "journal-json"}
    fields = json.loads(line)
    assert fields["MESSAGE"] == "b failed\n  with a second line"
    assert fields["_SYSTEMD_UNIT"] == "b.service" and fields["PRIORITY"] == "3"

    # Entries appended to the journal later are followed.
    later = time.time_ns() // 1000
    journal.write([({"MESSAGE": f"appended {i}", "_SYSTEMD_UNIT": "c.service"}, later + i) for i in range(5)])
    wait_until(lambda: len(_entries(sluice, '{unit="c.service"}', start)) == 5, 20, interval=0.2,
               what="appended entries")
    assert [e[2] for e in _entries(sluice, '{unit="c.service"}', start)] == [f"appended {i}" for i in range(5)]
    assert agent.metric("sluice_agent_read_lines_total", job="sys") == 8  # not "too old", not the MESSAGE-less
    assert agent.stop() == 0


def test_journal_restart_resumes_after_the_acknowledged_cursor(sluice_factory, agent_factory, tmp_path):
    sluice = sluice_factory(flags=SLUICE_FLAGS)
    journal = JournalWriter(tmp_path / "journal")
    start = now_ns() - 60 * 10**9
    sources = [{"job_name": "sys", "journal": {"path": str(journal.dir)}, "labels": {"job": "journal-test"}}]
    cfg = journal_config(sluice.url("/loki/api/v1/push"), tmp_path / "pos", sources,
                         client={"batch_size": "4KB", "batch_wait": "20ms", "max_inflight": 4})
    seq = 0

    def write(n):
        nonlocal seq
        base = time.time_ns() // 1000
        journal.write([({"MESSAGE": f"seq={seq + i} {'j' * 60}", "_SYSTEMD_UNIT": "s.service"}, base + i)
                       for i in range(n)])
        seq += n

    write(500)
    agent = agent_factory(cfg)
    # Crash twice while entries keep arriving: whatever was in flight is re-sent with the entry's
    # own timestamp, an exact duplicate the server stores once.
    for _ in range(2):
        wait_until(lambda: agent.metric("sluice_agent_sent_lines_total") > 0, 15, what="agent shipping")
        write(300)
        agent.kill9()
        agent.start()
    write(200)
    wait_until(lambda: len(_entries(sluice, '{job="journal-test"}', start)) >= seq, 30, interval=0.3,
               what=f"{seq} journal entries")
    time.sleep(0.5)
    lines = [e[2] for e in _entries(sluice, '{job="journal-test"}', start)]
    got = [int(line.split()[0][4:]) for line in lines]
    assert sorted(got) == list(range(seq)), "journal entries lost or duplicated across kill -9"
    assert agent.stop() == 0
    pos = (tmp_path / "pos").read_text()
    assert "\njournal journal-sys s=" in pos, pos

    # A clean stop saved the cursor of the last delivered entry: the next start sends nothing
    # old, only what is new.
    agent.start()
    write(3)
    wait_until(lambda: agent.metric("sluice_agent_sent_lines_total") >= 3, 15, what="new entries sent")
    time.sleep(0.5)
    assert agent.metric("sluice_agent_sent_lines_total") == 3, "entries before the cursor were re-read"
    assert len(_entries(sluice, '{job="journal-test"}', start)) == seq
    assert agent.stop() == 0
