"""`Sluice`: one real sluice process, its data directory and an HTTP client for it.

Hermetic by construction: the server listens on 127.0.0.1 on a port found free by binding port 0,
keeps all its data under its own work directory, and is only ever signalled by its own PID. Every
wait is bounded in time. stdout and stderr go to files in the work directory (appended across
restarts) so failures can show the server's last words.

    s = Sluice(binary, workdir, flags=["-auth_enabled=true"])
    s.start()                      # waits for /ready 200
    s.push_json([{"stream": {"app": "a"}, "values": [[ts, "line"]]}], tenant="t1")
    s.query_entries('{app="a"}', start, end, tenant="t1")
    s.kill9(); s.start()           # crash and recover: same port, same data
    s.stop()                       # SIGTERM, returns the exit code
"""

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests
import yaml

from helpers import push as pushfmt
from helpers.promtext import Metrics

# The base flags every server gets (user flags come after them on the command line, and the
# last occurrence of a flag wins): loopback only, fast flush checks, no fsync (tests crash the
# process, not the machine, so the page cache survives a kill -9).
BASE_FLAGS = (
    "-server.http-listen-address=127.0.0.1",
    "-ingester.wal.fsync=never",
    "-ingester.flush-check-period=1s",
    # Loki 3 adds service_name to every stream by default; these tests assert exactly the labels
    # they push, so discovery is off here (tests/integration/test_service_name.py turns it on).
    "-limits_config.discover_service_name=",
    # Likewise Loki 3's detected_level structured metadata on every entry
    # (tests/integration/test_detected_level.py turns it on).
    "-limits_config.discover_log_levels=false",
)


def free_port():
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Polls predicate() until it returns something truthy; raises TimeoutError after `timeout`
    seconds. Request errors count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except requests.RequestException as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


class ServerError(RuntimeError):
    pass


class Sluice:
    """A sluice process. Not thread-safe for start/stop; the HTTP helpers may be called from
    several threads at once (each request opens its own connection)."""

    def __init__(self, binary, workdir, flags=(), config=None, name="sluice"):
        self.binary = str(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.flags = list(flags)
        self.name = name
        self.data_dir = self.workdir / "data"
        self.config_path = None
        if config is not None:
            self.config_path = self.workdir / "config.yaml"
            self.config_path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
        self.stdout_path = self.workdir / "stdout.log"
        self.stderr_path = self.workdir / "stderr.log"
        self.port = None
        self.proc = None
        self.last_args = None
        self.exit_codes = []  # one per process that ended (kill -9 gives -9)

    # --- lifecycle ------------------------------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path=""):
        return self.base_url + path

    @property
    def wal_dir(self):
        return self.data_dir / "wal"

    @property
    def chunks_dir(self):
        return self.data_dir / "chunks"

    def args(self, extra_flags=()):
        args = [self.binary]
        if self.config_path is not None:
            args.append(f"-config.file={self.config_path}")
        args += list(BASE_FLAGS)
        args += [f"-server.http-listen-port={self.port}", f"-common.path-prefix={self.data_dir}"]
        args += self.flags + list(extra_flags)
        return args

    def spawn(self, extra_flags=()):
        """Starts the process without waiting for anything. Returns the Popen."""
        if self.alive:
            raise ServerError(f"{self.name} is already running (pid {self.pid})")
        if self.port is None:
            self.port = free_port()
        self.last_args = self.args(extra_flags)
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            err.write(f"\n=== start: {' '.join(self.last_args)}\n".encode())
            err.flush()
            self.proc = subprocess.Popen(self.last_args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=self.workdir, start_new_session=True)
        return self.proc

    def start(self, extra_flags=(), wait=True, timeout=30):
        """Starts the server (same port and data as before, if restarted) and, by default, waits
        for /ready 200. Retries on a fresh port if the old one was taken meanwhile."""
        for attempt in range(3):
            self.spawn(extra_flags)
            if not wait:
                return self
            try:
                self.wait_ready(timeout)
                return self
            except ServerError:
                if attempt < 2 and not self.alive and "cannot listen" in self.stderr_tail(5):
                    self.port = free_port()
                    continue
                raise
        return self

    def wait_ready(self, timeout=30):
        """Waits until GET /ready answers 200; raises ServerError if the process exits first or
        the deadline passes."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive:
                code = self.proc.returncode if self.proc else None
                raise ServerError(f"{self.name} exited with code {code} before becoming ready:\n"
                                  f"{self.stderr_tail(30)}")
            try:
                r = requests.get(self.url("/ready"), timeout=2)
                last = f"{r.status_code} {r.text.strip()!r}"
                if r.status_code == 200:
                    return
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise ServerError(f"{self.name} not ready after {timeout}s (last /ready: {last}):\n"
                          f"{self.stderr_tail(30)}")

    def wait_exit(self, timeout=30):
        """Waits for the process to end by itself; returns its exit code."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ServerError(f"{self.name} (pid {self.pid}) did not exit within {timeout}s") from None
        self.exit_codes.append(code)
        return code

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends `sig` (SIGTERM: graceful) and waits for the exit; returns the exit code. If the
        process outlives the timeout it is killed and ServerError is raised."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.exit_codes.append(self.proc.returncode)
            raise ServerError(f"{self.name} (pid {self.pid}) ignored signal {sig} for {timeout}s; "
                              f"killed:\n{self.stderr_tail(30)}") from None
        self.exit_codes.append(code)
        return code

    def kill9(self):
        """SIGKILL: a crash. Returns once the process is gone."""
        if self.alive:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.exit_codes.append(self.proc.returncode)

    def restart(self, extra_flags=(), sig=signal.SIGTERM, wait=True, timeout=30):
        """Stops (with `sig`; SIGKILL for a crash) and starts again on the same port and data."""
        if sig == signal.SIGKILL:
            self.kill9()
        else:
            self.stop(sig)
        return self.start(extra_flags, wait=wait, timeout=timeout)

    def cleanup(self):
        """Ends the process however it can: SIGTERM with a short grace, then SIGKILL."""
        if not self.alive:
            return
        try:
            self.stop(signal.SIGTERM, timeout=15)
        except ServerError:
            pass

    # --- logs and process stats -----------------------------------------------------------------

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, n=60):
        return "\n".join(self.stderr_text().splitlines()[-n:])

    def proc_status_kb(self, field):
        """A field of /proc/<pid>/status in kB (VmRSS, VmHWM ...), or None."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, TypeError):
            return None
        return None

    # --- HTTP -----------------------------------------------------------------------------------

    def request(self, method, path, tenant=None, headers=None, timeout=30, **kwargs):
        h = dict(headers or {})
        if tenant is not None:
            h["X-Scope-OrgID"] = tenant
        return requests.request(method, self.url(path), headers=h, timeout=timeout, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def push_raw(self, body, content_type, tenant=None, headers=None, encoding=None,
                 path="/loki/api/v1/push", timeout=30):
        """POSTs `body` as is (compressed first if `encoding` is gzip/deflate/raw-deflate)."""
        h = {"Content-Type": content_type} if content_type is not None else {}
        if encoding is not None:
            body = pushfmt.encode(body, encoding)
            h["Content-Encoding"] = "deflate" if encoding == "raw-deflate" else encoding
        h.update(headers or {})
        return self.post(path, data=body, tenant=tenant, headers=h, timeout=timeout)

    def push_json(self, streams, tenant=None, headers=None, encoding=None, path="/loki/api/v1/push",
                  timeout=30):
        """Pushes Loki v1 JSON. Returns the requests.Response (204 on success)."""
        return self.push_raw(pushfmt.json_body(streams), "application/json", tenant, headers, encoding,
                             path, timeout)

    def push_proto(self, streams, tenant=None, headers=None, encoding=None, path="/loki/api/v1/push",
                   timeout=30):
        """Pushes snappy-compressed protobuf, as Promtail does."""
        return self.push_raw(pushfmt.proto_body(streams), "application/x-protobuf", tenant, headers,
                             encoding, path, timeout)

    def query_range(self, query, start=None, end=None, limit=None, direction=None, tenant=None,
                    headers=None, timeout=30, **params):
        """GET /loki/api/v1/query_range; returns the requests.Response. start/end go as given
        (ints are Unix ns, strings pass through)."""
        p = {"query": query}
        for k, v in (("start", start), ("end", end), ("limit", limit), ("direction", direction)):
            if v is not None:
                p[k] = str(v)
        p.update({k: str(v) for k, v in params.items()})
        return self.get("/loki/api/v1/query_range", params=p, tenant=tenant, headers=headers,
                        timeout=timeout)

    def query_streams(self, query, start, end, limit=1000, direction="forward", tenant=None, **params):
        """query_range that must succeed; returns data.result (list of {"stream", "values"})."""
        r = self.query_range(query, start, end, limit, direction, tenant=tenant, **params)
        if r.status_code != 200:
            raise AssertionError(f"query {query!r} failed: {r.status_code} {r.text!r}")
        body = r.json()
        if body.get("status") != "success" or body["data"].get("resultType") != "streams":
            raise AssertionError(f"unexpected query response: {json.dumps(body)[:500]}")
        return body["data"]["result"]

    def query_entries(self, query, start, end, limit=1000, direction="forward", tenant=None, **params):
        """query_range that must succeed, flattened to [(labels dict, ts int, line, *extra)] in the
        order returned (stream by stream)."""
        out = []
        for s in self.query_streams(query, start, end, limit, direction, tenant, **params):
            for v in s["values"]:
                out.append((s["stream"], int(v[0]), v[1], *v[2:]))
        return out

    def query_lines(self, query, start, end, limit=1000, direction="forward", tenant=None, **params):
        """Just the lines of query_entries, in order."""
        return [e[2] for e in self.query_entries(query, start, end, limit, direction, tenant, **params)]

    def metrics(self):
        """GET /metrics parsed (strictly) into helpers.promtext.Metrics."""
        r = self.get("/metrics", timeout=10)
        r.raise_for_status()
        return Metrics(r.text)

    def metric(self, name, default=0.0, **labels):
        """Sum of the samples of `name` whose labels include `labels` (default if none)."""
        return self.metrics().value(name, default, **labels)

    def config(self):
        """GET /config parsed as YAML."""
        r = self.get("/config", timeout=10)
        r.raise_for_status()
        return yaml.safe_load(r.text)

    def healthy(self, tenant=None):
        """Raises AssertionError unless /ready is 200 and a fresh push can be read back."""
        r = self.get("/ready", timeout=10)
        if r.status_code != 200:
            raise AssertionError(f"/ready answered {r.status_code} {r.text!r}")
        ts = pushfmt.now_ns()
        line = f"health-{ts}"
        r = self.push_json([{"stream": {"probe": "health"}, "values": [[ts, line]]}], tenant=tenant)
        if r.status_code != 204:
            raise AssertionError(f"health push answered {r.status_code} {r.text!r}")
        got = self.query_lines('{probe="health"}', ts - 10**9, ts + 10**9, limit=10, direction="backward",
                               tenant=tenant)
        if line not in got:
            raise AssertionError(f"health line {line!r} not queryable; got {got[-5:]}")
        return True
