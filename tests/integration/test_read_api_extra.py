"""The rest of Loki's read API against the real binary: /tail over a websocket, /index/stats and
/index/volume(_range).

No websocket package is installed, so WsClient below is a minimal RFC 6455 client on the standard
library: the HTTP upgrade, masked client frames, and unfragmented server text/close frames.
"""

import base64
import json
import os
import socket
import struct
import time
import urllib.parse

from helpers import push as pf

S = 10**9


class WsClient:
    def __init__(self, port, path, params, timeout=10, headers=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        target = path + "?" + urllib.parse.urlencode(params)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall((f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"{extra}\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed during the handshake"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status_line = head.split(b"\r\n")[0].decode()

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self):
        """(FIN bit, opcode, payload) of the next frame."""
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        return bool(b0 & 0x80), b0 & 0x0F, self._read(n)

    def recv(self):
        """(opcode, payload) of the next frame."""
        _, op, payload = self._frame()
        return op, payload

    def recv_message(self):
        """(opcode, payload) of the next whole message, which the server may have split over
        continuation frames (RFC 6455 5.4; Beast, like Loki's gorilla/websocket, splits a message
        longer than its write buffer)."""
        fin, op, payload = self._frame()
        while not fin:
            fin, _, more = self._frame()
            payload += more
        return op, payload

    def close(self):
        mask = os.urandom(4)
        payload = struct.pack(">H", 1000)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(bytes([0x88, 0x80 | len(payload)]) + mask + masked)
        finally:
            self.sock.close()


def tail_lines_until(ws, want, deadline_s=10):
    """Reads frames until every line of `want` was seen; returns all lines in arrival order."""
    seen = []
    end = time.time() + deadline_s
    while not set(want) <= set(seen):
        assert time.time() < end, f"timed out; saw {seen}"
        op, payload = ws.recv()
        assert op == 1, (op, payload)
        frame = json.loads(payload)
        for s in frame["streams"]:
            for ts, line in s["values"]:
                seen.append(line)
    return seen


def test_tail_sees_history_then_new_pushes(sluice):
    t0 = pf.now_ns() - 10 * S
    labels = {"app": "tail", "env": "it"}
    r = sluice.push_json([{"stream": labels, "values": [[t0, "old-1"], [t0 + 1, "old-2"]]}])
    assert r.status_code == 204, r.text
    ws = WsClient(sluice.port, "/loki/api/v1/tail",
                  {"query": '{app="tail"} |= "-"', "start": str(t0 - S), "limit": "10"})
    try:
        assert ws.status_line.startswith("HTTP/1.1 101"), ws.status_line
        assert tail_lines_until(ws, ["old-1", "old-2"]) == ["old-1", "old-2"]
        now = pf.now_ns()
        r = sluice.push_json([{"stream": labels, "values": [[now, "new-1"], [now + 1, "new-2"],
                                                             [now + 2, "filtered out"]]}])
        assert r.status_code == 204, r.text
        seen = tail_lines_until(ws, ["new-1", "new-2"])
        assert seen.count("new-1") == 1 and "filtered out" not in seen and "old-1" not in seen
    finally:
        ws.close()
    # The closed tail is counted as a websocket request.
    deadline = time.time() + 5
    while not sluice.metric("loki_request_duration_seconds_count", route="loki_api_v1_tail",
                            ws="true"):
        assert time.time() < deadline
        time.sleep(0.1)


def test_tail_rejects_bad_params_and_plain_requests(sluice):
    r = sluice.get("/loki/api/v1/tail", params={"query": '{app="x"}'})
    assert r.status_code == 400
    ws = WsClient(sluice.port, "/loki/api/v1/tail", {"query": '{app="x"}', "delay_for": "6"})
    assert ws.status_line.startswith("HTTP/1.1 400"), ws.status_line
    ws.sock.close()


def test_index_stats(sluice):
    t0 = pf.now_ns() - 60 * S
    sluice.push_json([
        {"stream": {"app": "st", "pod": "a"}, "values": [[t0, "12345"], [t0 + S, "123"]]},
        {"stream": {"app": "st", "pod": "b"}, "values": [[t0, "1234567890"]]},
        {"stream": {"app": "other"}, "values": [[t0, "x"]]},
    ])
    r = sluice.get("/loki/api/v1/index/stats",
                   params={"query": '{app="st"}', "start": str(t0 - S), "end": str(t0 + 10 * S)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"streams", "chunks", "entries", "bytes"}
    assert (body["streams"], body["entries"], body["bytes"]) == (2, 3, 18)
    assert body["chunks"] == 2, body  # one open chunk per stream, in memory


def test_index_volume_shapes(sluice):
    t0 = pf.now_ns() - 60 * S
    sluice.push_json([
        {"stream": {"app": "vol", "pod": "a"}, "values": [[t0, "12345"], [t0 + S, "123"]]},
        {"stream": {"app": "vol", "pod": "b"}, "values": [[t0, "1234567890"]]},
    ])
    params = {"query": '{app="vol"}', "start": str(t0 - S), "end": str(t0 + 10 * S)}
    r = sluice.get("/loki/api/v1/index/volume", params=params)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "vector"
    assert [(s["metric"], s["value"][1]) for s in data["result"]] == [({"app": "vol"}, "18")]

    r = sluice.get("/loki/api/v1/index/volume", params={**params, "targetLabels": "pod"})
    data = r.json()["data"]
    assert [(s["metric"], s["value"][1]) for s in data["result"]] == [
        ({"pod": "b"}, "10"), ({"pod": "a"}, "8")]

    r = sluice.get("/loki/api/v1/index/volume_range", params={**params, "step": "5"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    (series,) = data["result"]
    assert series["metric"] == {"app": "vol"}
    assert sum(int(v) for _, v in series["values"]) == 18


def test_open_tail_does_not_block_shutdown(sluice):
    ws = WsClient(sluice.port, "/loki/api/v1/tail", {"query": '{app="idle"}'})
    try:
        assert ws.status_line.startswith("HTTP/1.1 101"), ws.status_line
        start = time.time()
        assert sluice.stop(timeout=10) == 0
        assert time.time() - start < 10
    finally:
        ws.sock.close()


def test_concurrent_tail_limit_closes_with_1011(sluice_factory):
    srv = sluice_factory(config={"limits_config": {"max_concurrent_tail_requests": 1}})
    srv.push_json([{"stream": {"app": "x"}, "values": [[pf.now_ns(), "hello"]]}])
    first = WsClient(srv.port, "/loki/api/v1/tail", {"query": '{app="x"}'})
    # Its first frame means its handler runs and holds the tenant's only slot.
    assert tail_lines_until(first, ["hello"]) == ["hello"]
    second = WsClient(srv.port, "/loki/api/v1/tail", {"query": '{app="x"}'})
    try:
        assert second.status_line.startswith("HTTP/1.1 101"), second.status_line
        op, payload = second.recv()
        assert op == 8, (op, payload)
        assert struct.unpack(">H", payload[:2])[0] == 1011
        assert payload[2:].decode() == (
            "max concurrent tail requests limit exceeded, count > limit (2 > 1)")
    finally:
        first.close()
        second.sock.close()
