"""sluice-kafka-testbroker and the Kafka stream record (docs/formats/kafka.md) with an outside
client: Debian's kcat (librdkafka) produces records encoded from the document, idempotent
with acks=all, to the partitions the document's rule picks, and reads them back; they decode to
what was sent. src/kafka/testbroker_test.cc does the same with sluice's C++ encoder.

The broker process, the encoder/decoder and the kcat reader are tests/helpers/kafka.py's; the
broker binary is found next to $SLUICE_BIN (build/sluice-kafka-testbroker)."""

import subprocess
import time

import pytest

from helpers import kafka
from helpers.kafka import KCAT_TIMEOUT, decode, encode


def test_encoding_matches_the_documented_example():
    # The same bytes as KafkaRecord.LayoutIsAsDocumented in src/kafka/record_test.cc.
    got = encode("t", "{}", [(1, "ab", [("n", "v")]), (0, "", [])])
    assert got == b"\x01\x01t\x02{}\x02" + b"\x02\x02ab\x01\x01n\x01v" + b"\x01\x00\x00"
    assert decode(got) == ("t", "{}", [(1, "ab", [("n", "v")]), (0, "", [])])


# --- the broker ----------------------------------------------------------------------------------

@pytest.fixture
def broker(sluice_bin):
    kafka.skip_unless_usable(sluice_bin)
    b = kafka.TestBroker(sluice_bin, brokers=3, topic="logs", partitions=4).start()
    for addr in b.bootstrap.split(","):
        assert addr.startswith("127.0.0.1:"), b.bootstrap
    yield b.bootstrap
    assert b.stop() == 0, b.stderr_text()


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
        # The key and partition rule (XXH3-64) are checked on records sluice produced in
        # tests/integration/test_kafka_path.py; here any spread will do.
        key = f"stream-{s}"
        partition = s % partitions
        # Each file argument is one message; idempotent, acks=all as the distributor will produce.
        subprocess.run(["kcat", "-b", broker, "-P", "-t", "logs", "-p", str(partition), "-k", key,
                        "-X", "enable.idempotence=true", "-X", "acks=all", str(f)],
                       check=True, capture_output=True, timeout=KCAT_TIMEOUT)
        sent[key] = (partition, (tenant, labels, entries))

    deadline = time.monotonic() + 30
    while True:
        got = kafka.consume(broker, "logs")
        if len(got) >= len(sent) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(got) == len(sent)
    for key, partition, _, value in got:
        want_partition, want = sent[key]
        assert partition == want_partition
        assert decode(value) == want
