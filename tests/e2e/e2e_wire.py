"""Helpers to look at what a client put on the wire and what sluice sent back."""

import collections

import pytest


def _varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) of one protobuf message; LEN values are bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = _varint(buf, i)
        elif wire_type == 2:
            length, i = _varint(buf, i)
            value, i = bytes(buf[i:i + length]), i + length
        elif wire_type == 1:
            value, i = bytes(buf[i:i + 8]), i + 8
        elif wire_type == 5:
            value, i = bytes(buf[i:i + 4]), i + 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
        yield number, wire_type, value


def decode_push_request(raw):
    """Decodes logproto.PushRequest bytes into [{labels, entries: [(ts_ns, line, {sm})]}].

    PushRequest{1: repeated StreamAdapter}; StreamAdapter{1: labels, 2: repeated EntryAdapter,
    3: hash}; EntryAdapter{1: Timestamp{1: seconds, 2: nanos}, 2: line, 3: repeated
    LabelPairAdapter{1: name, 2: value}}.
    """
    streams = []
    for number, _, stream_bytes in _fields(raw):
        if number != 1:
            continue
        stream = {"labels": None, "entries": []}
        for sn, _, sv in _fields(stream_bytes):
            if sn == 1:
                stream["labels"] = sv.decode()
            elif sn == 2:
                ts, line, sm = 0, None, {}
                for en, _, ev in _fields(sv):
                    if en == 1:
                        parts = dict((n, v) for n, _, v in _fields(ev))
                        ts = parts.get(1, 0) * 1_000_000_000 + parts.get(2, 0)
                    elif en == 2:
                        line = ev.decode()
                    elif en == 3:
                        pair = dict((n, v.decode()) for n, _, v in _fields(ev))
                        sm[pair.get(1, "")] = pair.get(2, "")
                stream["entries"].append((ts, line, sm))
        streams.append(stream)
    return streams


def streams_of(response):
    """Checks the Loki streams envelope of a query_range response and returns data.result."""
    assert response.status_code == 200, (response.status_code, response.text[:2000])
    assert response.headers.get("Content-Type", "").startswith("application/json")
    body = response.json()
    assert body["status"] == "success", body
    assert body["data"]["resultType"] == "streams", body["data"]
    return body["data"]["result"]


def assert_exact_sequence(got, want):
    """Lines came back exactly once each and in order; explains the first difference if not."""
    if got == want:
        return
    counts = collections.Counter(got)
    missing = [w for w in want if w not in counts]
    duplicated = sorted(line for line, n in counts.items() if n > 1)
    extra = sorted(set(got) - set(want))
    first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    pytest.fail(
        f"got {len(got)} lines, want {len(want)}; missing {len(missing)} (first: {missing[:3]}), "
        f"duplicated {len(duplicated)} (first: {duplicated[:3]}), unexpected {extra[:3]}; "
        f"first difference at index {first}: got {got[first:first + 3]} want {want[first:first + 3]}")
