"""Fixtures for the agent suite: the real `sluice agent` process, and a fault-injecting push server.

  agent_factory   (function) make(config: dict, name="agent") -> Agent. Writes the YAML, starts
                  `$SLUICE_BIN agent -config.file=...` with its /metrics on a free 127.0.0.1 port,
                  and stops everything it made at teardown (SIGTERM, then SIGKILL, by PID only).
  fault_server    (function) a FaultServer on 127.0.0.1: decodes protobuf+snappy and JSON pushes
                  (gzip Content-Encoding too), stores entries once per (stream, timestamp, line) as
                  sluice does, and answers each request according to a schedule of faults.
                  FaultServer(tls_context) serves https.

Everything binds 127.0.0.1, every wait is bounded.
"""

import gzip
import hashlib
import http.server
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import snappy
import yaml

from helpers.promtext import Metrics
from helpers.server import free_port, wait_until


# --- the agent process -------------------------------------------------------------------------


class Agent:
    def __init__(self, binary, workdir, config, name="agent"):
        self.binary = binary
        self.workdir = Path(workdir)
        self.name = name
        self.config = config
        self.port = config["server"]["http_listen_port"]
        self.config_path = self.workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.proc = None

    def start(self, stdin=None, wait=True):
        err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "agent", f"-config.file={self.config_path}"],
            stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=err, cwd=self.workdir)
        err.close()
        if wait:
            wait_until(lambda: self.alive() and requests.get(self.url("/ready"), timeout=1).ok, 15,
                       what=f"{self.name} /ready")
        return self

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def alive(self):
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None and self.proc.returncode not in (0, -9, -15):
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.stderr_tail()}")
            return False
        return True

    def metrics(self):
        return Metrics(requests.get(self.url("/metrics"), timeout=5).text)

    def metric(self, name, default=0.0, **labels):
        return self.metrics().value(name, default, **labels)

    def metric_sum(self, name):
        return sum(v for _, v in self.metrics().series(name))

    def stop(self, timeout=30):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"{self.name} did not stop on SIGTERM within {timeout}s")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def rss_kb(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=40):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def agent_config(push_url, positions, files=None, stdin=False, **overrides):
    """A test agent config: fast polling and batching, a free /metrics port. `overrides` are
    top-level sections merged key by key ({"client": {"max_inflight": 1}})."""
    source = {"job_name": "test", "labels": {"job": "agent-test"}}
    if stdin:
        source["stdin"] = True
    else:
        source["files"] = list(files)
    cfg = {
        "server": {"http_listen_address": "127.0.0.1", "http_listen_port": free_port(), "log_level": "info"},
        "client": {"url": push_url, "batch_size": "64KB", "batch_wait": "100ms", "timeout": "5s",
                   "max_inflight": 2,
                   "backoff_config": {"min_period": "50ms", "max_period": "500ms"},
                   "breaker": {"failure_threshold": 5, "open_duration": "1s"}},
        "positions": {"filename": str(positions), "sync_period": "100ms", "fsync": False},
        "limits": {"memory_limit": "8MB"},
        "reader": {"poll_interval": "20ms", "scan_period": "100ms"},
        "shutdown_timeout": "5s",
        "scrape_configs": [source],
    }
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(cfg.get(section), dict):
            cfg[section].update(values)
        else:
            cfg[section] = values
    return cfg


@pytest.fixture
def agent_factory(request, sluice_bin, tmp_path):
    made = []

    def make(config, name="agent", start=True, stdin=None):
        a = Agent(sluice_bin, tmp_path, config, name=f"{name}{len(made) + 1}")
        made.append(a)
        if start:
            a.start(stdin=stdin)
        return a

    yield make
    failed = getattr(request.node, "_sluice_failed", False)
    for a in made:
        if failed:
            print(f"\n--- {a.name} stderr (tail) ---\n{a.stderr_tail(60)}")
        a.cleanup()


# --- decoding pushes ---------------------------------------------------------------------------


def _varint(b, i):
    shift = result = 0
    while True:
        c = b[i]
        i += 1
        result |= (c & 0x7F) << shift
        if not c & 0x80:
            return result, i
        shift += 7


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 2:
            n, i = _varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise ValueError(f"wire type {wt}")
        yield num, v


def decode_push(body, content_type):
    """[(labels string, ts ns, line str)] from a push body."""
    out = []
    if content_type.startswith("application/json"):
        for s in json.loads(body)["streams"]:
            labels = "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(s["stream"].items())) + "}"
            for v in s["values"]:
                out.append((labels, int(v[0]), v[1]))
        return out
    raw = snappy.uncompress(body)
    for num, stream in _fields(raw):
        if num != 1:
            continue
        labels, entries = None, []
        for f, v in _fields(stream):
            if f == 1:
                labels = v.decode()
            elif f == 2:
                ts = line = None
                secs = nanos = 0
                for ef, ev in _fields(v):
                    if ef == 1:
                        for tf, tv in _fields(ev):
                            if tf == 1:
                                secs = tv
                            elif tf == 2:
                                nanos = tv
                        ts = secs * 1_000_000_000 + nanos
                    elif ef == 2:
                        line = ev.decode("utf-8", "replace")
                entries.append((ts or 0, line or ""))
        for ts, line in entries:
            out.append((labels, ts, line))
    return out


# --- the fault-injecting server ----------------------------------------------------------------


class FaultServer:
    """A push endpoint that misbehaves on command.

    Actions (a tuple; the first element names it):
      ("ok",)                       store the entries, 204
      ("status", code[, retry_after[, body]])  answer `code` (Retry-After header when given)
      ("delay", seconds)            sleep, then behave as "ok"
      ("reset",)                    close the connection with a TCP RST, no response
    `schedule` is consumed one action per request; when it is empty, `default` applies (settable
    at any time, e.g. to play a dead server for a while)."""

    def __init__(self, tls_context=None):
        self.lock = threading.Lock()
        self.schedule = []
        self.default = ("ok",)
        self.requests = []   # dicts: t, digest, action, lines
        self.entries = {}    # (labels, ts, line) -> count of times received in an ok push
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                ctype = self.headers.get("Content-Type", "")
                encoding = self.headers.get("Content-Encoding")
                action = outer._next()
                with outer.lock:
                    outer.requests.append({"t": time.monotonic(), "digest": hashlib.sha1(body).hexdigest(),
                                           "action": action[0] if action[0] != "status" else action[1],
                                           "tenant": self.headers.get("X-Scope-OrgID"),
                                           "auth": self.headers.get("Authorization"),
                                           "encoding": encoding, "bytes": len(body)})
                if encoding == "gzip":
                    body = gzip.decompress(body)
                if action[0] == "reset":
                    self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.request.close()
                    return
                if action[0] == "status":
                    payload = (action[3] if len(action) > 3 else f"injected {action[1]}").encode()
                    self.send_response(action[1])
                    if len(action) > 2 and action[2] is not None:
                        self.send_header("Retry-After", str(action[2]))
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if action[0] == "delay":
                    time.sleep(action[1])
                entries = decode_push(body, ctype)
                with outer.lock:
                    for e in entries:
                        outer.entries[e] = outer.entries.get(e, 0) + 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def finish(self):
                try:
                    super().finish()
                except OSError:
                    pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        scheme = "https" if tls_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/loki/api/v1/push"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _next(self):
        with self.lock:
            return self.schedule.pop(0) if self.schedule else self.default

    def set_default(self, action):
        with self.lock:
            self.default = action

    def add(self, *actions):
        with self.lock:
            self.schedule.extend(actions)

    def lines(self):
        """Every distinct line stored, as (labels, ts, line), in timestamp order per stream."""
        with self.lock:
            return sorted(self.entries)

    def request_log(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fault_server():
    s = FaultServer()
    yield s
    s.close()


# --- writing logs ------------------------------------------------------------------------------


def write_lines(path, lines):
    with open(path, "a") as f:
        for line in lines:
            f.write(line + "\n")


def seqs_of(lines, prefix):
    """The integer after `prefix` in each line that has it."""
    out = []
    for line in lines:
        i = line.find(prefix)
        if i >= 0:
            out.append(int(line[i + len(prefix):].split()[0]))
    return out
