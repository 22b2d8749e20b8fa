"""sluice-kafka-testbroker and the Kafka stream record (docs/formats/kafka.md) with an outside
client: Debian's kcat (librdkafka) produces records encoded here from the document, idempotent
with acks=all, to the partitions the document's rule picks, and reads them back; they decode to
what was sent. src/kafka/testbroker_test.cc does the same with sluice's C++ encoder.

The broker binary is found next to $SLUICE_BIN (build/sluice-kafka-testbroker)."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

KCAT_TIMEOUT = 30


def _broker_path(sluice_bin):
    return str(Path(sluice_bin).parent / "sluice-kafka-testbroker")


# --- the record encoding, written from docs/formats/kafka.md -------------------------------------

def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _zigzag(v):
    return _varint(((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)


def _lp(b):
    if isinstance(b, str):
        b = b.encode()
    return _varint(len(b)) + b


def encode(tenant, labels, entries):
    out = bytearray(b"\x01") + _lp(tenant) + _lp(labels) + _varint(len(entries))
    prev = 0
    for ts, line, metadata in entries:
        delta = (ts - prev) & 0xFFFFFFFFFFFFFFFF
        if delta >= 1 << 63:
            delta -= 1 << 64
        out += _zigzag(delta)
        prev = ts
        out += _lp(line) + _varint(len(metadata))
        for name, value in metadata:
            out += _lp(name) + _lp(value)
    return bytes(out)


def decode(b):
    pos = 0

    def varint():
        nonlocal pos
        result = shift = 0
        while True:
            byte = b[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def lp():
        nonlocal pos
        n = varint()
        s = b[pos:pos + n]
        assert len(s) == n, "truncated"
        pos += n
        return s.decode()

    assert b[0] == 1, f"version {b[0]}"
    pos = 1
    tenant, labels = lp(), lp()
    entries = []
    ts = 0
    for _ in range(varint()):
        z = varint()
        delta = (z >> 1) ^ -(z & 1)
        ts = (ts + delta) & 0xFFFFFFFFFFFFFFFF
        signed = ts - (1 << 64) if ts >= 1 << 63 else ts
        line = lp()
        metadata = [(lp(), lp()) for _ in range(varint())]
        entries.append((signed, line, metadata))
    assert pos == len(b), "trailing bytes"
    return tenant, labels, entries


def test_encoding_matches_the_documented_example():
    # The same bytes as KafkaRecord.LayoutIsAsDocumented in src/kafka/record_test.cc.
    got = encode("t", "{}", [(1, "ab", [("n", "v")]), (0, "", [])])
    assert got == b"\x01\x01t\x02{}\x02" + b"\x02\x02ab\x01\x01n\x01v" + b"\x01\x00\x00"
    assert decode(got) == ("t", "{}", [(1, "ab", [("n", "v")]), (0, "", [])])


# --- the broker ----------------------------------------------------------------------------------

@pytest.fixture
def broker(sluice_bin):
    path = _broker_path(sluice_bin)
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not built")
    if shutil.which("kcat") is None:
        pytest.skip("kcat not installed (scripts/deps.sh --test)")
    proc = subprocess.Popen([path, "--brokers", "3", "--topic", "logs", "--partitions", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = proc.stdout.readline().decode().strip()
        assert first.startswith("bootstrap="), first
        bootstrap = first[len("bootstrap="):]
        for addr in bootstrap.split(","):
            assert addr.startswith("127.0.0.1:"), bootstrap
        yield bootstrap
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0, proc.stderr.read().decode()


def _consume(bootstrap, topic):
    """Every record of the topic as (key, partition, value bytes)."""
    out = subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
         "-f", "%k\t%p\t%S\n%s"],
        capture_output=True, timeout=KCAT_TIMEOUT, check=True).stdout
    records = []
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        key, partition, size = out[pos:nl].decode().split("\t")
        pos = nl + 1
        records.append((key, int(partition), out[pos:pos + int(size)]))
        pos += int(size)
    return records


def test_kcat_produces_and_consumes_stream_records(broker, tmp_path):
    partitions = 4
    sent = {}
    for s in range(8):
        tenant = "tenant-a" if s % 2 else "tenant-ü"
        labels = f'{{app="app-{s}", region="日本"}}'
        entries = [(1700000000000000000 + s * 1000 + i, f"line {i} ✓ " + "x" * (i * 1000),
                    [("trace_id", str(i))] if i % 2 else []) for i in range(5)]
        entries.append((-1, "before 1970", []))
        value = encode(tenant, labels, entries)
        f = tmp_path / f"rec{s}"
        f.write_bytes(value)
        # The key and partition rule (XXH3-64, which Python's standard library lacks) are checked
        # with sluice's own code in src/kafka/testbroker_test.cc; here any spread will do.
        key = f"stream-{s}"
        partition = s % partitions
        # Each file argument is one message; idempotent, acks=all as the distributor will produce.
        subprocess.run(["kcat", "-b", broker, "-P", "-t", "logs", "-p", str(partition), "-k", key,
                        "-X", "enable.idempotence=true", "-X", "acks=all", str(f)],
                       check=True, capture_output=True, timeout=KCAT_TIMEOUT)
        sent[key] = (partition, (tenant, labels, entries))

    deadline = time.monotonic() + 30
    while True:
        got = _consume(broker, "logs")
        if len(got) >= len(sent) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(got) == len(sent)
    for key, partition, value in got:
        want_partition, want = sent[key]
        assert partition == want_partition
        assert decode(value) == want
