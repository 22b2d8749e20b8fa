"""`Cluster`: a sluice cluster started by scripts/cluster.sh (etcd, ingesters, queriers, the
front door), and `FrontDoor`, a `Sluice`-like HTTP client of its front door.

    c = Cluster(binary, workdir, ingesters=3, rf=3)
    c.start()                        # returns once every component is ready
    c.front.push_json(...); c.front.query_entries(...)
    c.kill("ingester-2"); c.restart("ingester-2")
    c.pause("ingester-1"); c.resume("ingester-1")   # SIGSTOP / SIGCONT
    c.leave("ingester-2")            # SIGTERM, waits until it exited (it flushed and left the ring)
    c.stop()

With kafka=True (cluster.sh --kafka [--partitions K]) pushes go through Kafka and are applied by
the ingesters a little later: wait_kafka_applied() waits until every running ingester applied
every record the distributors appended to its partitions (read-after-write for tests).

Every process is signalled by the PID the script wrote; the ports are a block found free on
127.0.0.1 just before the start.
"""

import os
import random
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

from helpers.promtext import Metrics
from helpers.server import BASE_FLAGS, Sluice, wait_until

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster.sh"


def free_port_block(size=60, attempts=50):
    """The first port of `size` consecutive ports that were free on 127.0.0.1 a moment ago, below
    the kernel's ephemeral range: a restarted component must get its port back, and an outgoing
    connection (the load generator opens thousands) may hold any ephemeral port."""
    low = 32768
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    for _ in range(attempts):
        base = random.randrange(10000, max(10001, low - size))
        socks = []
        try:
            for p in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no block of free ports found")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class FrontDoor(Sluice):
    """The HTTP helpers of `Sluice`, aimed at a cluster's front door (no process of its own)."""

    def __init__(self, port, workdir):
        super().__init__("(cluster)", workdir, name="frontdoor")
        self.port = port

    def start(self, *a, **kw):  # noqa: D401 - the cluster owns the processes
        raise NotImplementedError("start the cluster instead")


class Cluster:
    def __init__(self, binary, workdir, ingesters=3, rf=3, zones=1, distributors=1, queriers=2,
                 backends=0, s3="", flags=(), kafka=False, partitions=None):
        self.binary = str(binary)
        self.kafka, self.partitions = kafka, partitions
        self.dir = Path(workdir)
        self.ingesters, self.rf, self.zones = ingesters, rf, zones
        self.distributors, self.queriers, self.backends = distributors, queriers, backends
        self.s3 = s3  # Loki's URL form of the bucket; "" = the shared directory
        self.flags = list(BASE_FLAGS) + list(flags)
        self.port = None
        self.front = None
        self.paused = set()  # names SIGSTOPped by pause(): not scraped by wait_kafka_applied

    def _run(self, *args, timeout=180):
        env = dict(os.environ, SLUICE_BIN=self.binary)
        r = subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"cluster.sh {' '.join(args[:2])} failed ({r.returncode}):\n"
                               f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r.stdout

    def start(self):
        self.port = free_port_block()
        kafka = ["--kafka"] if self.kafka else []
        if self.kafka and self.partitions is not None:
            kafka += ["--partitions", str(self.partitions)]
        self._run("start", str(self.dir), "--ingesters", str(self.ingesters), "--rf", str(self.rf),
                  "--zones", str(self.zones), "--distributors", str(self.distributors),
                  "--queriers", str(self.queriers), "--backends", str(self.backends),
                  "--s3", self.s3, "--port", str(self.port), *kafka, "--", *self.flags)
        self.front = FrontDoor(self.port, self.dir / "frontdoor-client")
        return self

    def stop(self):
        if self.port is not None:
            self._run("stop", str(self.dir), timeout=300)

    def kill(self, name):
        self._run("kill", str(self.dir), name)

    def restart(self, name):
        self._run("restart", str(self.dir), name, timeout=300)

    def add_ingester(self, flags=()):
        """Starts one more ingester (flags: extra sluice flags for it alone, e.g.
        -ingester.kafka_ingestion.partitions=1); returns its name once it is ready."""
        extra = ["--", *flags] if flags else []
        out = self._run("add-ingester", str(self.dir), *extra, timeout=300)
        return out.split()[0]

    def leave(self, name, timeout=120):
        """SIGTERM to `name` (an ingester: LEAVING, flush, Kafka handover, out of the ring), then
        waits until the process is gone. What `scripts/cluster.sh stop` does to one process."""
        pid = self.pid(name)
        if pid is None:
            raise RuntimeError(f"{name} has no pid file")
        os.kill(pid, signal.SIGTERM)
        os.kill(pid, signal.SIGCONT)  # a stopped process cannot take SIGTERM
        self.paused.discard(name)
        wait_until(lambda: not _alive(pid), timeout=timeout, interval=0.1, what=f"{name} to exit")
        (self.dir / "pids" / f"{name}.pid").unlink(missing_ok=True)

    def pid(self, name):
        p = self.dir / "pids" / f"{name}.pid"
        return int(p.read_text()) if p.exists() else None

    def pause(self, name):
        os.kill(self.pid(name), signal.SIGSTOP)
        self.paused.add(name)

    def resume(self, name):
        os.kill(self.pid(name), signal.SIGCONT)
        self.paused.discard(name)

    def running(self, name):
        pid = self.pid(name)
        return pid is not None and _alive(pid)

    def names(self):
        return (self.dir / "names").read_text().split()

    def endpoint(self, name):
        """'http://127.0.0.1:PORT' of a sluice component."""
        fields = dict(f.split("=", 1) for f in (self.dir / "cmd" / f"{name}.endpoint").read_text().split())
        return "http://" + fields["http"]

    def get(self, name, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return requests.get(self.endpoint(name) + path, **kwargs)

    def post(self, name, path, **kwargs):
        kwargs.setdefault("timeout", 60)
        return requests.post(self.endpoint(name) + path, **kwargs)

    def metrics(self, name, timeout=5):
        """`name`'s /metrics, parsed (helpers.promtext.Metrics)."""
        r = self.get(name, "/metrics", timeout=timeout)
        r.raise_for_status()
        return Metrics(r.text)

    def kafka_pending(self):
        """What the running, unpaused ingesters have not applied yet: [(ingester, partition,
        reason)], empty once each applied every record the distributors appended to each of its
        partitions. An ingester's partitions are those its reader reports. Applied means: its
        reader's records_total (records applied since it started) or its committed offset (the
        next record to apply, committed at most consumer_group_offset_commit_interval after it
        was applied) reached the partition's count of successful appends (an offset per record
        in a topic only this cluster writes), and its reader sees no lag."""
        appended = {}
        for name in self.names():
            if name == "frontdoor" or name.startswith("distributor-"):
                if not self.running(name):
                    continue
                for labels, v in self.metrics(name).series("loki_distributor_kafka_appends_total",
                                                           status="success"):
                    appended[labels["partition"]] = appended.get(labels["partition"], 0) + v
        pending = []
        for name in self.names():
            if not name.startswith("ingester-") or name in self.paused or not self.running(name):
                continue
            m = self.metrics(name)
            for labels, lag in m.series("sluice_kafka_reader_lag_records"):
                p = labels["partition"]
                want = appended.get(p, 0)
                done = max(m.value("sluice_kafka_reader_records_total", partition=p),
                           m.value("loki_kafka_client_partition_reader_last_committed_offset",
                                   partition=p))
                if done < want or lag > 0:
                    pending.append((name, p, f"applied {done:.0f} of {want:.0f}, lag {lag:.0f}"))
        return pending

    def wait_kafka_applied(self, timeout=30):
        """Read-after-write on the Kafka path: waits (bounded) until kafka_pending() is empty."""
        last = []

        def done():
            nonlocal last
            last = self.kafka_pending()
            return not last

        try:
            wait_until(done, timeout=timeout, interval=0.05, what="the ingesters to apply Kafka")
        except TimeoutError as e:
            raise TimeoutError(f"{e}: {last}") from None

    def ring(self, via="frontdoor"):
        r = self.get(via, "/ring", params={"format": "json"})
        r.raise_for_status()
        return {s["id"]: s for s in r.json()["shards"]}

    def wait_ring(self, predicate, timeout=30, what="ring state"):
        return wait_until(lambda: predicate(self.ring()), timeout=timeout, what=what)

    def log(self, name):
        p = self.dir / "logs" / f"{name}.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def logs_tail(self, n=30):
        out = []
        for name in self.names():
            lines = self.log(name).splitlines()[-n:]
            out.append(f"--- {name}\n" + "\n".join(lines))
        return "\n".join(out)


class PushLoad:
    """Pushes numbered lines into `front` from several threads until stopped (bounded by
    `max_seconds` and `max_pushes` per thread), remembering what was acknowledged.

    Thread k writes stream {job="load", run=<run>, thread="k"}; each push carries `batch` lines
    with timestamps unique within the stream, so every acknowledged line can be looked for
    exactly once afterwards (verify())."""

    def __init__(self, front, run, threads=3, batch=10, interval=0.05, max_seconds=300,
                 max_pushes=20000, timeout=30):
        self.front, self.run, self.batch, self.interval = front, run, batch, interval
        self.max_seconds, self.max_pushes, self.timeout = max_seconds, max_pushes, timeout
        self.acked = {k: [] for k in range(threads)}    # thread -> [(ts, line)]
        self.failures = []                              # (time, thread, status or exception text)
        self.latencies = []                             # (time, seconds, status)
        self.start_ns = time.time_ns() - 1_000_000_000
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(k,), daemon=True)
                         for k in range(threads)]

    def labels(self, k):
        return {"job": "load", "run": self.run, "thread": str(k)}

    def selector(self, k):
        return '{job="load", run="%s", thread="%d"}' % (self.run, k)

    def _loop(self, k):
        t0 = time.monotonic()
        seq = 0
        for _ in range(self.max_pushes):
            if self._stop.is_set() or time.monotonic() - t0 > self.max_seconds:
                break
            now = time.time_ns()
            values = []
            for _i in range(self.batch):
                values.append((now + seq, f"run={self.run} thread={k} seq={seq}"))
                seq += 1
            body = [{"stream": self.labels(k), "values": [[str(ts), line] for ts, line in values]}]
            began = time.monotonic()
            try:
                r = self.front.push_json(body, timeout=self.timeout)
                status = r.status_code
                detail = r.text[:300]
            except requests.RequestException as e:
                status = f"{type(e).__name__}"
                detail = str(e)[:300]
            took = time.monotonic() - began
            with self._lock:
                self.latencies.append((began, took, status))
                if status == 204:
                    self.acked[k].extend(values)
                else:
                    self.failures.append((began, k, status, detail))
            self._stop.wait(self.interval)

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout + 10)

    def acked_count(self):
        with self._lock:
            return sum(len(v) for v in self.acked.values())

    def failures_between(self, t0, t1):
        with self._lock:
            return [f for f in self.failures if t0 <= f[0] <= t1]

    def verify(self, query_front=None):
        """Every acknowledged line is returned exactly once. Returns (acked, found) counts.
        Lines of failed pushes may be present (a 5xx push can be stored in part)."""
        front = query_front or self.front
        end = time.time_ns() + 60_000_000_000
        total_acked = total_found = 0
        for k, values in self.acked.items():
            got = []
            start = self.start_ns
            for _ in range(1000):
                page = front.query_entries(self.selector(k), start, end, limit=5000, direction="forward")
                got.extend((ts, line) for _labels, ts, line, *_ in page)
                if len(page) < 5000:
                    break
                start = page[-1][1] + 1
            counts = {}
            for ts, line in got:
                counts[(ts, line)] = counts.get((ts, line), 0) + 1
            dups = [e for e, n in counts.items() if n > 1]
            missing = [v for v in values if v not in counts]
            assert not dups, f"thread {k}: {len(dups)} lines returned more than once, e.g. {dups[:3]}"
            assert not missing, (f"thread {k}: {len(missing)} of {len(values)} acknowledged lines "
                                 f"missing, e.g. {missing[:3]}")
            total_acked += len(values)
            total_found += len(got)
        return total_acked, total_found
