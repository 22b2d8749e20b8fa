"""Kafka for the tests: sluice-kafka-testbroker as a process, Debian's kcat as an outside client,
and the stream record (docs/formats/kafka.md) encoded and decoded from the document alone.

    broker = TestBroker(sluice_bin, brokers=1, topic="logs", partitions=4).start()
    broker.bootstrap                 # "127.0.0.1:PORT,..."
    broker.pause(); broker.resume()  # an outage: SIGSTOP / SIGCONT (its data is in its memory,
                                     # so it is never killed mid-test)
    broker.consume()                 # every record: [Record(key, partition, offset, value)]
    broker.stop()                    # SIGTERM by pid; returns the exit code

The broker binary sits next to $SLUICE_BIN (build/sluice-kafka-testbroker). `skip_unless_usable`
skips a test when it or kcat is missing (scripts/deps.sh --test installs kcat).

Key and partition (the document's rule): XXH3-64 (seed 0) of lp(tenant) lp(labels), from the
system's libxxhash (a build dependency of sluice: libxxhash-dev), not from sluice's code.
"""

import collections
import ctypes
import ctypes.util
import os
import select
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

KCAT_TIMEOUT = 30

Record = collections.namedtuple("Record", "key partition offset value")


def broker_path(sluice_bin):
    return str(Path(sluice_bin).parent / "sluice-kafka-testbroker")


def skip_unless_usable(sluice_bin):
    path = broker_path(sluice_bin)
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} not built")
    if shutil.which("kcat") is None:
        pytest.skip("kcat not installed (scripts/deps.sh --test)")


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


def _bytes(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def lp(b):
    b = _bytes(b)
    return _varint(len(b)) + b


def encode(tenant, labels, entries):
    """The record value of (tenant, labels text, [(ts ns, line, [(name, value)])])."""
    out = bytearray(b"\x01") + lp(tenant) + lp(labels) + _varint(len(entries))
    prev = 0
    for ts, line, metadata in entries:
        delta = (ts - prev) & 0xFFFFFFFFFFFFFFFF
        if delta >= 1 << 63:
            delta -= 1 << 64
        out += _zigzag(delta)
        prev = ts
        out += lp(line) + _varint(len(metadata))
        for name, value in metadata:
            out += lp(name) + lp(value)
    return bytes(out)


def decode(b):
    """(tenant, labels, [(ts, line, [(name, value)])]) of a record value; AssertionError on
    anything the document does not allow."""
    pos = 0

    def varint():
        nonlocal pos
        result = shift = 0
        while True:
            assert pos < len(b), "truncated varint"
            byte = b[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            assert shift < 64, "overlong varint"

    def string():
        nonlocal pos
        n = varint()
        s = b[pos:pos + n]
        assert len(s) == n, "truncated"
        pos += n
        return s.decode()

    assert b and b[0] == 1, f"version {b[:1]!r}"
    pos = 1
    tenant, labels = string(), string()
    entries = []
    ts = 0
    for _ in range(varint()):
        z = varint()
        delta = (z >> 1) ^ -(z & 1)
        ts = (ts + delta) & 0xFFFFFFFFFFFFFFFF
        signed = ts - (1 << 64) if ts >= 1 << 63 else ts
        line = string()
        metadata = [(string(), string()) for _ in range(varint())]
        entries.append((signed, line, metadata))
    assert pos == len(b), "trailing bytes"
    return tenant, labels, entries


_xxh3 = None


def stream_hash(tenant, labels):
    """XXH3-64 (seed 0) of lp(tenant) lp(labels), from libxxhash."""
    global _xxh3
    if _xxh3 is None:
        lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
        _xxh3 = lib.XXH3_64bits
        _xxh3.restype = ctypes.c_uint64
        _xxh3.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    data = lp(tenant) + lp(labels)
    return _xxh3(data, len(data))


def record_key(tenant, labels):
    """The record key: the stream hash as 16 lowercase hex digits."""
    return f"{stream_hash(tenant, labels):016x}"


def partition_for(tenant, labels, partitions):
    return stream_hash(tenant, labels) % partitions


# --- kcat -----------------------------------------------------------------------------------------

def consume(bootstrap, topic, timeout=KCAT_TIMEOUT):
    """Every record of the topic, from the beginning to the end each partition had when kcat
    reached it, as Records in (partition, offset) order."""
    out = subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
         "-f", "%k\t%p\t%o\t%S\n%s"],
        capture_output=True, timeout=timeout, check=True).stdout
    records = []
    pos = 0
    while pos < len(out):
        nl = out.index(b"\n", pos)
        key, partition, offset, size = out[pos:nl].decode().split("\t")
        pos = nl + 1
        records.append(Record(key, int(partition), int(offset), out[pos:pos + int(size)]))
        pos += int(size)
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


def end_offsets(records, partitions):
    """{partition: offset after its last record} of what `consume` returned."""
    ends = {p: 0 for p in range(partitions)}
    for r in records:
        ends[r.partition] = max(ends[r.partition], r.offset + 1)
    return ends


# --- the broker process ---------------------------------------------------------------------------

class TestBroker:
    """One sluice-kafka-testbroker process (librdkafka's mock cluster: data in its memory).
    Signalled only by its own pid."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, sluice_bin, brokers=1, topic="logs", partitions=4):
        self.path = broker_path(sluice_bin)
        self.brokers, self.topic, self.partitions = brokers, topic, partitions
        self.proc = None
        self.bootstrap = None
        self.paused = False
        self._stderr = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=20):
        # stderr to a file: a pipe nobody reads could fill and stall the broker.
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [self.path, "--brokers", str(self.brokers), "--topic", self.topic,
             "--partitions", str(self.partitions)],
            stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        first = self.proc.stdout.readline().decode().strip() if ready else ""
        if not first.startswith("bootstrap="):
            self.stop()
            raise RuntimeError(f"test broker did not print its bootstrap in {timeout}s: {first!r}")
        self.bootstrap = first[len("bootstrap="):]
        return self

    def pause(self):
        """An outage: the broker stops answering (connections stay open) until resume()."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def consume(self, timeout=KCAT_TIMEOUT):
        return consume(self.bootstrap, self.topic, timeout)

    def stderr_text(self):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self, timeout=15):
        """SIGTERM (after SIGCONT if paused), SIGKILL if it lingers; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            if self.paused:
                self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return self.proc.returncode

