"""Helpers for the end-to-end tests: a sluice process, a recording proxy, the Node runner.

Everything is prefixed `e2e_` / `E2e` so nothing clashes with the root tests/conftest.py. Every
process is started by us, bound to 127.0.0.1, waited on with a deadline, and stopped by PID.
"""

import contextlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = Path(__file__).resolve().parent / "node"


def e2e_free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def e2e_wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Polls predicate() until it returns a truthy value; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except requests.RequestException as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last result: {last!r}")


def e2e_stop_process(proc, timeout=10):
    """SIGTERM, bounded wait, then SIGKILL. Only ever called on processes this module started."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(timeout=timeout)


def e2e_sluice_bin():
    path = os.environ.get("SLUICE_BIN") or str(REPO / "build" / "sluice")
    if not os.access(path, os.X_OK):
        pytest.skip(f"sluice binary not found at {path} (build it: scripts/build.sh build sluice)")
    return path


class E2eSluice:
    """One sluice process on a free 127.0.0.1 port with its own data directory."""

    def __init__(self, *extra_args, auth_enabled=False):
        self.dir = Path(tempfile.mkdtemp(prefix="sluice-e2e-"))
        self.port = e2e_free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth_enabled = auth_enabled
        self.log_path = self.dir / "sluice.log"
        self.args = [
            e2e_sluice_bin(),
            "-server.http-listen-address=127.0.0.1",
            f"-server.http-listen-port={self.port}",
            f"-common.path-prefix={self.dir / 'data'}",
            f"-auth_enabled={'true' if auth_enabled else 'false'}",
            # The clients' label sets are asserted exactly; Loki 3's service_name discovery
            # (on by default) is tested on its own (test_otlp.py, integration/test_service_name.py).
            "-limits_config.discover_service_name=",
            # And their metadata exactly: no detected_level (integration/test_detected_level.py).
            "-limits_config.discover_log_levels=false",
            *extra_args,
        ]
        self.proc = None

    def start(self, timeout=20):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def ready():
            if self.proc.poll() is not None:
                pytest.fail(f"sluice exited with {self.proc.returncode} during start-up:\n{self.log()}")
            r = requests.get(self.url + "/ready", timeout=1)
            return r.status_code == 200 and r.text.strip() == "ready"

        e2e_wait_until(ready, timeout, what="sluice /ready")
        return self

    def log(self):
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-8000:]
        return ""

    def stop(self):
        if self.proc is not None:
            e2e_stop_process(self.proc)
            self._log.close()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def headers(self, tenant=None):
        return {"X-Scope-OrgID": tenant} if tenant else {}

    def push_json(self, streams, tenant=None):
        r = requests.post(self.url + "/loki/api/v1/push", json={"streams": streams},
                          headers=self.headers(tenant), timeout=10)
        assert r.status_code == 204, (r.status_code, r.text)

    def query_range(self, query, start_ns, end_ns, limit, tenant=None, direction="forward",
                    extra_headers=None):
        params = {"query": query, "start": str(start_ns), "end": str(end_ns), "limit": str(limit),
                  "direction": direction}
        headers = self.headers(tenant)
        headers.update(extra_headers or {})
        r = requests.get(self.url + "/loki/api/v1/query_range", params=params, headers=headers,
                         timeout=10)
        return r

    def metric_value(self, name, labels):
        """Value of one sample in /metrics, or None. labels: dict that must match exactly."""
        text = requests.get(self.url + "/metrics", timeout=5).text
        want = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            if series == name + want or _normalize_series(series) == name + want:
                return float(value)
        return None


def _normalize_series(series):
    name, brace, rest = series.partition("{")
    if not brace:
        return series
    pairs = [p for p in rest.rstrip("}").split(",") if p]
    return name + "{" + ",".join(sorted(pairs)) + "}"


def read_proxied_request(handler):
    """The body of the request a BaseHTTPRequestHandler is serving (chunked or sized), and its
    headers without the hop-by-hop ones, ready to forward upstream."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        for _ in range(1_000_000):  # chunks; a client sends far fewer
            size = int(handler.rfile.readline().strip().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                break
            body += handler.rfile.read(size)
            handler.rfile.readline()
    else:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
    headers = {k: v for k, v in handler.headers.items()
               if k.lower() not in ("host", "content-length", "transfer-encoding", "connection",
                                    "keep-alive")}
    return body, headers


class E2eRecordingProxy:
    """A pass-through HTTP proxy in front of sluice that records every request it forwards.

    Lets a test assert what a real client actually put on the wire (method, path, headers, raw
    body) while the client still talks to the real server.
    """

    def __init__(self, upstream):
        self.upstream = upstream
        self.requests = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                body, headers = read_proxied_request(self)
                with proxy._lock:
                    proxy.requests.append({"method": self.command, "path": self.path,
                                           "headers": dict(self.headers.items()), "body": body})
                try:
                    r = requests.request(self.command, proxy.upstream + self.path, data=body,
                                         headers=headers, timeout=15)
                    status, payload = r.status_code, r.content
                    ctype = r.headers.get("Content-Type")
                except requests.RequestException as e:
                    status, payload, ctype = 502, str(e).encode(), "text/plain"
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload and status not in (204, 304):
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def pushes(self):
        with self._lock:
            return [r for r in self.requests
                    if r["method"] == "POST" and
                    urllib.parse.urlparse(r["path"]).path == "/loki/api/v1/push"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


_npm_lock = threading.Lock()


def e2e_install_node_modules():
    """Installs the pinned npm clients once (npm ci from package-lock.json) when missing."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node/npm not installed (scripts/deps.sh --test installs them)")
    marker = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    with _npm_lock:
        if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
            r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                               cwd=NODE_DIR, capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                pytest.fail(f"npm ci failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return NODE_DIR


def e2e_run_node(script, config, timeout=60):
    """Runs tests/e2e/node/<script> with one JSON argument; returns (parsed stdout JSON, stderr)."""
    r = subprocess.run([shutil.which("node"), str(NODE_DIR / script), json.dumps(config)],
                       cwd=NODE_DIR, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{script} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert lines, f"{script} printed no summary\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    return json.loads(lines[-1]), r.stderr
