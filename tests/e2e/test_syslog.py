"""Debian's rsyslog forwards the lines of files to sluice's syslog listeners: imfile reads two
files the test writes, omfwd sends one over TCP with octet-counted framing in RFC 5424
(RSYSLOG_SyslogProtocol23Format) and the other over UDP in the traditional RFC 3164 form
(RSYSLOG_TraditionalForwardFormat). Each listener has its own tenant and labels; LogQL then finds
every line with the right stream labels, structured metadata and timestamps.

rsyslogd runs in the foreground (-n) with its own config, work directory and pid file in a temp
directory, and is stopped by its PID.
"""

import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import yaml

from e2e_support import E2eSluice, e2e_free_port, e2e_stop_process, e2e_wait_until
from e2e_wire import assert_exact_sequence, streams_of

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
N = 60


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def workdir():
    d = Path(tempfile.mkdtemp(prefix="sluice-rsyslog-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def rsyslog_config(d, tcp_port, udp_port):
    return textwrap.dedent(f"""\
        global(workDirectory="{d / 'work'}")
        module(load="imfile" mode="polling" PollingInterval="1")
        input(type="imfile" File="{d / 'tcp.log'}" Tag="e2etcp:" Facility="local3"
              Severity="warning" ruleset="to_tcp")
        input(type="imfile" File="{d / 'udp.log'}" Tag="e2eudp:" ruleset="to_udp")
        ruleset(name="to_tcp") {{
          action(type="omfwd" target="127.0.0.1" port="{tcp_port}" protocol="tcp"
                 TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
        }}
        ruleset(name="to_udp") {{
          action(type="omfwd" target="127.0.0.1" port="{udp_port}" protocol="udp"
                 template="RSYSLOG_TraditionalForwardFormat")
        }}
        """)


def query(sluice, q, tenant, start, end):
    r = sluice.query_range(q, start, end, 1000, tenant=tenant,
                           extra_headers={"X-Loki-Response-Encoding-Flags": "categorize-labels"})
    return streams_of(r)


def test_rsyslog_forwards_over_tcp_and_udp(workdir):
    if not Path(RSYSLOGD).exists():
        pytest.skip("rsyslogd not installed (scripts/deps.sh --test installs it)")
    tcp_port, udp_port = e2e_free_port(), free_udp_port()
    config = {"syslog": {"listeners": [
        {"protocol": "tcp", "listen_address": f"127.0.0.1:{tcp_port}", "tenant": "rsyslog-tcp",
         "labels": {"job": "rsyslog", "transport": "tcp"}, "use_incoming_timestamp": True},
        {"protocol": "udp", "listen_address": f"127.0.0.1:{udp_port}", "tenant": "rsyslog-udp",
         "labels": {"job": "rsyslog", "transport": "udp"}, "use_incoming_timestamp": True},
    ]}}
    (workdir / "sluice.yaml").write_text(yaml.safe_dump(config))
    sluice = E2eSluice(f"-config.file={workdir / 'sluice.yaml'}", auth_enabled=True).start()
    rsyslog = None
    try:
        (workdir / "work").mkdir()
        conf = workdir / "rsyslog.conf"
        conf.write_text(rsyslog_config(workdir, tcp_port, udp_port))
        check = subprocess.run([RSYSLOGD, "-N1", "-f", str(conf)], capture_output=True, text=True,
                               timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr

        run = uuid.uuid4().hex[:8]
        want = {t: [f"{t} line {i:03d} run={run} k=v" for i in range(N)] for t in ("tcp", "udp")}
        for t in ("tcp", "udp"):
            (workdir / f"{t}.log").touch()
        t0 = time.time_ns()
        with open(workdir / "rsyslog.log", "wb") as log:
            rsyslog = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(conf), "-i", str(workdir / "rsyslog.pid")],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir)
        for t in ("tcp", "udp"):
            with open(workdir / f"{t}.log", "a") as f:
                f.write("".join(line + "\n" for line in want[t]))

        host = socket.gethostname().split(".")[0]
        start, end = t0 - 60 * 10**9, time.time_ns() + 120 * 10**9
        for t, app in (("tcp", "e2etcp"), ("udp", "e2eudp")):
            tenant = f"rsyslog-{t}"
            sel = f'{{job="rsyslog", transport="{t}"}}'

            def all_arrived():
                streams = query(sluice, sel, tenant, start, end)
                return streams if sum(len(s["values"]) for s in streams) >= N else None

            streams = e2e_wait_until(all_arrived, 40, interval=0.5,
                                     what=f"{N} {t} lines from rsyslog; rsyslog log: "
                                          f"{(workdir / 'rsyslog.log').read_text()[-2000:]}")
            t1 = time.time_ns()
            assert [s["stream"] for s in streams] == [
                {"app_name": app, "hostname": host, "job": "rsyslog", "transport": t}]
            values = streams[0]["values"]
            assert_exact_sequence(sorted(v[1] for v in values), sorted(want[t]))
            for ts, _line, meta in values:
                sm = meta["structuredMetadata"]
                ts = int(ts)
                if t == "tcp":
                    # RFC 5424 from imfile's settings; rsyslog's RFC 3339 time, in microseconds.
                    assert sm == {"facility": "local3", "severity": "warning"}, sm
                    assert t0 - 10**9 <= ts <= t1 and ts % 1000 == 0, (ts, t0, t1)
                else:
                    # imfile's defaults; RFC 3164 time, whole seconds in local time.
                    assert sm == {"facility": "local0", "severity": "notice"}, sm
                    assert t0 - 2 * 10**9 <= ts <= t1 and ts % 10**9 == 0, (ts, t0, t1)
            # Each listener wrote into its own tenant only.
            other = "rsyslog-udp" if t == "tcp" else "rsyslog-tcp"
            assert query(sluice, sel, other, start, end) == []
        # Nothing was received twice or discarded on the way.
        for t in ("tcp", "udp"):
            assert sluice.metric_value("loki_distributor_lines_received_total",
                                       {"tenant": f"rsyslog-{t}"}) == N
    finally:
        if rsyslog is not None:
            e2e_stop_process(rsyslog)
        sluice.stop()


def test_bad_frames_are_discarded_and_counted(workdir):
    """A client that sends garbage gets its frames counted as discarded, its connection closed
    only when the framing is broken, and other connections keep working."""
    tcp_port = e2e_free_port()
    config = {"syslog": {"listeners": [
        {"protocol": "tcp", "listen_address": f"127.0.0.1:{tcp_port}",
         "labels": {"job": "raw"}, "max_message_length": 100},
    ]}}
    (workdir / "sluice.yaml").write_text(yaml.safe_dump(config))
    sluice = E2eSluice(f"-config.file={workdir / 'sluice.yaml'}").start()
    try:
        good = socket.create_connection(("127.0.0.1", tcp_port), timeout=10)
        bad = socket.create_connection(("127.0.0.1", tcp_port), timeout=10)
        t0 = time.time_ns()
        good.sendall(b"no priority here\n<13>1 - h app - - - " + b"x" * 200 + b"\n")
        bad.sendall(b"1x garbage count\n")
        assert bad.recv(1) == b""  # the broken connection is closed by the server
        good.sendall(b"<13>1 - h app - - - still served\n")
        good.close()
        bad.close()

        def discarded():
            inv = sluice.metric_value("loki_discarded_samples_total",
                                      {"reason": "invalid_syslog", "tenant": "fake"})
            long_ = sluice.metric_value("loki_discarded_samples_total",
                                        {"reason": "line_too_long", "tenant": "fake"})
            return inv == 2 and long_ == 1

        e2e_wait_until(discarded, 10, what="discard counters")
        streams = e2e_wait_until(
            lambda: streams_of(sluice.query_range('{job="raw"}', t0 - 10**9,
                                                  time.time_ns() + 10**9, 100)),
            10, what="the good line")
        assert [v[1] for s in streams for v in s["values"]] == ["still served"]
        assert "syslog frame discarded" in sluice.log()
    finally:
        sluice.stop()


def test_bad_listener_config_stops_the_start(workdir):
    config = {"syslog": {"listeners": [{"protocol": "sctp", "listen_address": "127.0.0.1:1"}]}}
    (workdir / "sluice.yaml").write_text(yaml.safe_dump(config))
    s = E2eSluice(f"-config.file={workdir / 'sluice.yaml'}")
    proc = subprocess.run(s.args, capture_output=True, text=True, timeout=30)
    shutil.rmtree(s.dir, ignore_errors=True)
    assert proc.returncode != 0
    assert 'syslog.listeners[0]: protocol "sctp" is not tcp or udp' in proc.stdout + proc.stderr
