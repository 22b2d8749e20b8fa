"""Hostile and malformed input: every one is refused with a 4xx and a message, quickly, without
the server growing or falling over. After each, the server must still answer /ready 200 and
store and return a fresh line (Sluice.healthy)."""

import random
import socket
import time

import pytest
import snappy

from helpers import push as pf

S = 10**9
MB = 1 << 20


@pytest.fixture(scope="module")
def srv(module_sluice_factory):
    return module_sluice_factory([
        "-distributor.max-recv-msg-size=4MB",
        "-distributor.max-decompressed-size=10MB",
        "-limits_config.max_entries_limit_per_query=100",
    ], name="bad-input")


@pytest.fixture(autouse=True)
def still_healthy(request):
    yield
    if "srv" in request.fixturenames:
        request.getfixturevalue("srv").healthy()


def assert_refused(r, statuses=(400,)):
    assert r.status_code in statuses, f"want {statuses}, got {r.status_code} {r.text[:300]!r}"
    assert r.text.strip(), "error responses must say what was wrong"
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers


def one_stream_request(n=20):
    ts = pf.now_ns()
    return pf.proto_request([{"stream": {"app": "bad", "pod": "p"},
                              "values": [[ts + i, f"line {i} " + "z" * 40] for i in range(n)]}])


# --- protobuf and snappy --------------------------------------------------------------------


@pytest.mark.parametrize("cut", [3, 10, 0.5, -1])
def test_truncated_protobuf(srv, cut):
    raw = one_stream_request()
    k = int(len(raw) * cut) if isinstance(cut, float) else (cut if cut > 0 else len(raw) + cut)
    r = srv.push_raw(snappy.compress(raw[:k]), "application/x-protobuf")
    assert_refused(r)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_bytes_as_protobuf(srv, seed):
    rnd = random.Random(seed)
    junk = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(50, 5000)))
    r = srv.push_raw(snappy.compress(junk), "application/x-protobuf")
    assert_refused(r)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_snappy_garbage(srv, seed):
    rnd = random.Random(seed)
    junk = bytes(rnd.getrandbits(8) for _ in range(2000))
    r = srv.push_raw(junk, "application/x-protobuf")
    assert_refused(r, (400, 413))  # 413 when the garbage length header claims more than the cap


def test_snappy_header_claiming_a_huge_length(srv):
    # Varint 0xFFFFFFFF: "4 GiB follows", with a dozen bytes of body.
    body = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]) + b"\x00" * 12
    t = time.monotonic()
    r = srv.push_raw(body, "application/x-protobuf")
    assert_refused(r, (400, 413))
    assert time.monotonic() - t < 2


def test_truncated_snappy(srv):
    body = pf.proto_body([{"stream": {"app": "bad"}, "values": [[pf.now_ns(), "x" * 500]]}])
    assert_refused(srv.push_raw(body[: len(body) // 2], "application/x-protobuf"))


def test_json_sent_as_protobuf(srv):
    body = pf.json_body([{"stream": {"app": "bad"}, "values": [[pf.now_ns(), "x"]]}])
    assert_refused(srv.push_raw(body, "application/x-protobuf"))


# --- compression ----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compression_garbage(srv, encoding):
    rnd = random.Random(7)
    junk = bytes(rnd.getrandbits(8) for _ in range(3000))
    r = srv.push_raw(junk, "application/json", headers={"Content-Encoding": encoding})
    assert_refused(r)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_truncated_compressed_body(srv, encoding):
    body = pf.encode(pf.json_body([{"stream": {"app": "bad"},
                                    "values": [[pf.now_ns() + i, f"line {i}"] for i in range(200)]}]), encoding)
    r = srv.push_raw(body[: len(body) // 2], "application/json", headers={"Content-Encoding": encoding})
    assert_refused(r)


def test_gzip_with_trailing_garbage(srv):
    body = pf.encode(pf.json_body([{"stream": {"app": "bad"}, "values": [[pf.now_ns(), "x"]]}]), "gzip")
    r = srv.push_raw(body + b"this is not gzip", "application/json", headers={"Content-Encoding": "gzip"})
    assert_refused(r)


@pytest.fixture(scope="module")
def gzip_bomb():
    return pf.gzip_zeros(200 * MB)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-protobuf"])
def test_gzip_bomb(srv, gzip_bomb, content_type):
    """200 MB of zeros in ~200 KB of gzip, against a 10 MB decompressed-size cap."""
    assert len(gzip_bomb) < 4 * MB
    rss_before = srv.proc_status_kb("VmRSS")
    t = time.monotonic()
    r = srv.push_raw(gzip_bomb, content_type, headers={"Content-Encoding": "gzip"})
    elapsed = time.monotonic() - t
    assert_refused(r, (400, 413))
    assert elapsed < 5, f"took {elapsed:.1f}s to refuse a gzip bomb"
    peak = srv.proc_status_kb("VmHWM")
    assert peak is not None and rss_before is not None
    assert peak - rss_before < 80 * 1024, f"peak RSS grew by {(peak - rss_before) // 1024} MB (before {rss_before} kB)"


def test_deflate_bomb(srv):
    c = __import__("zlib").compressobj(9)
    body = b"".join(c.compress(bytes(MB)) for _ in range(100)) + c.flush()
    t = time.monotonic()
    r = srv.push_raw(body, "application/json", headers={"Content-Encoding": "deflate"})
    assert_refused(r, (400, 413))
    assert time.monotonic() - t < 5


def test_body_over_max_recv_msg_size_is_413(srv):
    body = b"\x00" * (5 * MB)
    try:
        r = srv.push_raw(body, "application/x-protobuf", timeout=15)
    except Exception as e:  # noqa: BLE001 - a reset before the answer is itself the failure
        pytest.fail(f"no HTTP answer to an oversized body (the server must answer 413 before closing): {e!r}")
    assert_refused(r, (413,))


@pytest.mark.parametrize("fmt", ["json", "proto"])
def test_decompressed_size_cap_applies_without_content_encoding(sluice_factory, fmt):
    """max_decompressed_size bounds what is parsed even when the body is not gzip/deflate."""
    srv = sluice_factory(["-distributor.max-recv-msg-size=10MB", "-distributor.max-decompressed-size=1MB"])
    streams = [{"stream": {"app": "cap"}, "values": [[pf.now_ns() + i, "c" * 100_000] for i in range(20)]}]
    if fmt == "json":
        r = srv.push_json(streams)
    else:
        # Snappy cannot shrink random-free text much; the decompressed size is what counts.
        r = srv.push_proto(streams)
    assert_refused(r, (413,))
    srv.healthy()


def test_client_disconnects_mid_body(srv):
    """The client promises 100000 bytes and hangs up after a few; the server must shrug it off
    (checked by the autouse health check)."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"POST /loki/api/v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100000\r\n\r\n{\"streams\": [")
    time.sleep(0.2)


@pytest.mark.parametrize("encoding", ["br", "zstd-but-not-really", "gzip, br"])
def test_unknown_content_encoding(srv, encoding):
    body = pf.json_body([{"stream": {"app": "bad"}, "values": [[pf.now_ns(), "x"]]}])
    r = srv.push_raw(body, "application/json", headers={"Content-Encoding": encoding})
    assert_refused(r, (400, 415))
    assert f'Content-Encoding "{encoding}" not supported' in r.text, r.text


# --- labels and UTF-8 -----------------------------------------------------------------------


def test_huge_label_sets(srv):
    ts = pf.now_ns()
    many = "{" + ", ".join(f'l{i}="v{i}"' for i in range(1000)) + "}"
    r = srv.push_proto([{"labels": many, "values": [[ts, "x"]]}])
    assert_refused(r)
    assert "label names; limit 15" in r.text
    r = srv.push_proto([{"labels": '{app="x", big="' + "v" * 100_000 + '"}', "values": [[ts, "x"]]}])
    assert_refused(r)
    assert "has label value too long" in r.text
    r = srv.push_proto([{"labels": "{" + "n" * 200_000 + '="x"}', "values": [[ts, "x"]]}])
    assert_refused(r)
    assert "has label name too long" in r.text
    m = srv.metrics()
    for reason in ("max_label_names_per_series", "label_value_too_long", "label_name_too_long"):
        assert m.value("loki_discarded_samples_total", reason=reason, tenant="fake") >= 1, reason


def test_many_streams_in_one_request(srv):
    ts = pf.now_ns()
    streams = [{"stream": {"app": "wide", "n": str(i)}, "values": [[ts, f"s{i}"]]} for i in range(2000)]
    r = srv.push_proto(streams)
    assert r.status_code == 204, r.text
    assert len(srv.query_streams('{app="wide"}', ts - S, ts + S, limit=100)) == 100


def test_invalid_utf8_in_lines_is_accepted(srv):
    ts = pf.now_ns()
    r = srv.push_proto([{"stream": {"app": "utf8"}, "values": [[ts, b"proto \xff\xfe bytes"]]}])
    assert r.status_code == 204, r.text
    body = (b'{"streams":[{"stream":{"app":"utf8"},"values":[["' + str(ts + 1).encode()
            + b'","json \xc3\x28 bytes"]]}]}')
    r = srv.push_raw(body, "application/json")
    assert r.status_code == 204, r.text
    r = srv.query_range('{app="utf8"}', ts - S, ts + S, direction="forward")
    assert r.status_code == 200
    lines = [v[1] for s in r.json()["data"]["result"] for v in s["values"]]  # must be valid JSON
    assert len(lines) == 2
    assert lines[0].startswith("proto ") and lines[0].endswith(" bytes")
    assert lines[1].startswith("json ") and lines[1].endswith(" bytes")


def test_invalid_utf8_in_label_values_is_refused(srv):
    ts = pf.now_ns()
    before = srv.metric("loki_discarded_samples_total", reason="invalid_labels", tenant="fake")
    r = srv.push_proto([{"labels": b'{app="\xff\xfe"}', "values": [[ts, "x"]]}])
    assert_refused(r)
    assert r.text.startswith("Error parsing labels"), r.text
    body = b'{"streams":[{"stream":{"app":"bad \xff value"},"values":[["' + str(ts).encode() + b'","x"]]}]}'
    r = srv.push_raw(body, "application/json")
    assert_refused(r)
    after = srv.metric("loki_discarded_samples_total", reason="invalid_labels", tenant="fake")
    assert after - before == 2


# --- JSON shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"",
    b"not json at all",
    b"[]",
    b'"streams"',
    b'{"streams": {}}',
    b'{"streams": [1]}',
    b'{"streams": [',
    b'{"streams":[{"stream":{"a":1},"values":[["1","x"]]}]}',
    b'{"streams":[{"stream":"a","values":[["1","x"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":"x"}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["notanumber","x"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1",5]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[[]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{"k":1}]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1","x",{},"extra"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["99999999999999999999999","x"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[[1.5e300,"x"]]}]}',
    b'{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]} trailing',
], ids=lambda b: b[:40].decode(errors="replace") or "empty")
def test_bad_json_shapes(srv, body):
    r = srv.push_raw(body, "application/json")
    assert_refused(r)


def test_deeply_nested_json(srv):
    body = b'{"streams":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert_refused(srv.push_raw(body, "application/json"))


def test_wrong_method_and_unknown_path(srv):
    r = srv.get("/loki/api/v1/push")
    assert r.status_code == 405
    r = srv.post("/loki/api/v1/nope", data=b"x")
    assert r.status_code == 404


def test_garbage_http_request(srv):
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01 this is not HTTP at all\r\n\r\n")
        s.settimeout(5)
        try:
            reply = s.recv(200)
        except (ConnectionResetError, socket.timeout):
            reply = b""
    assert reply == b"" or reply.startswith(b"HTTP/1.1 4"), reply


def _closed_after(sock, limit_s):
    """Seconds until the server closes `sock` (recv returns nothing or resets), or None."""
    t0 = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - t0 < limit_s:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0
    return None


@pytest.mark.parametrize("dribble", [False, True])
def test_slow_request_body_is_cut_at_the_read_timeout(sluice_factory, dribble):
    """The whole request must arrive within server.http_server_read_timeout: a client that stalls
    mid-body, or keeps sending a byte now and then, is cut off; the server keeps serving."""
    srv = sluice_factory(["-server.http-server-read-timeout=1s"], name="slow")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"POST /loki/api/v1/push HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"streams\":")
        if dribble:
            # One byte every 0.3 s: each read succeeds, the request as a whole is too slow.
            t0 = time.monotonic()
            closed = None
            while closed is None and time.monotonic() - t0 < 8:
                try:
                    s.sendall(b" ")
                except (BrokenPipeError, ConnectionResetError):
                    closed = time.monotonic() - t0
                    break
                closed = _closed_after(s, 0.3)
                if closed is not None:
                    closed = time.monotonic() - t0
        else:
            closed = _closed_after(s, 8)
    assert closed is not None, "the server kept a stalled request open"
    assert 0.5 < closed < 4, closed
    srv.healthy()


# --- query parameters -----------------------------------------------------------------------


def q(srv, **params):
    p = {"query": '{app="x"}'}
    p.update(params)
    return srv.get("/loki/api/v1/query_range", params=p)


@pytest.mark.parametrize("param,value", [
    ("start", "notatime"), ("end", "notatime"), ("start", "2024-13-45T00:00:00Z"), ("end", "12abc"),
])
def test_bad_time_parameters(srv, param, value):
    r = q(srv, **{param: value})
    assert_refused(r)
    assert value in r.text, r.text


def test_bad_direction(srv):
    r = q(srv, direction="sideways")
    assert_refused(r)
    assert r.text.rstrip("\n") == "invalid direction 'sideways'"


@pytest.mark.parametrize("limit,message", [
    ("-5", "limit must be a positive value"),
    ("0", "limit must be a positive value"),
    ("abc", None),
])
def test_bad_limit(srv, limit, message):
    r = q(srv, limit=limit)
    assert_refused(r)
    if message:
        assert r.text.rstrip("\n") == message


def test_limit_over_max_entries_limit_per_query(srv):
    r = q(srv, limit="101")
    assert_refused(r)
    assert r.text.rstrip("\n") in (
        "max entries limit per query exceeded, limit > max_entries_limit (101 > 100)",
        "max entries limit per query exceeded, limit > max_entries_limit_per_query (101 > 100)"), r.text
    assert q(srv, limit="100").status_code == 200


@pytest.mark.parametrize("query", ['{app="x"', '{app="x"} |= ', '{app=}', "app", '{app="x"} |~ "("',
                                   '{app="x"} | unknownstage', "sum("])
def test_unparsable_queries(srv, query):
    r = srv.get("/loki/api/v1/query_range", params={"query": query})
    assert_refused(r)
    assert r.text.startswith("parse error at line 1, col ") or r.text.startswith("parse error : ") or \
        "error parsing regexp" in r.text, r.text


def test_end_before_start(srv):
    now = pf.now_ns()
    r = q(srv, start=str(now), end=str(now - S))
    assert_refused(r)
    assert r.text.rstrip("\n") == "end timestamp must not be before or equal to start time"


@pytest.mark.parametrize("step,message", [
    ("-1", "zero or negative query resolution step widths are not accepted. Try a positive integer"),
    ("abc", 'cannot parse "abc" to a valid duration'),
])
def test_bad_step(srv, step, message):
    r = q(srv, step=step)
    assert_refused(r)
    assert r.text.rstrip("\n") == message


def test_bad_params_on_metadata_endpoints(srv):
    assert_refused(srv.get("/loki/api/v1/labels", params={"start": "notatime"}))
    assert_refused(srv.get("/loki/api/v1/label/app/values", params={"end": "notatime"}))
    assert_refused(srv.get("/loki/api/v1/series", params={"match[]": '{app="x"'}))
    assert_refused(srv.get("/loki/api/v1/label/app/values", params={"query": "{app"}))


def test_oversized_query_is_refused(srv):
    r = srv.get("/loki/api/v1/query_range", params={"query": '{app="' + "x" * 6000 + '"}'})
    assert_refused(r)
