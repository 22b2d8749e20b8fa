"""Request compression, multi-line joining and TLS, end to end through the real agent."""

import ssl
import subprocess
import time

from helpers.push import now_ns
from helpers.server import wait_until

from .conftest import FaultServer, agent_config, write_lines

SLUICE_FLAGS = ["-limits_config.max_entries_limit_per_query=100000"]


def test_gzip_bodies_are_sent_with_content_encoding(agent_factory, fault_server, tmp_path):
    log = tmp_path / "app.log"
    lines = [f"level=info msg=\"request served\" path=/api/items/{i % 7} status=200 seq={i}" for i in range(2000)]
    write_lines(log, lines)
    cfg = agent_config(fault_server.url, tmp_path / "pos", files=[str(log)], client={"compression": "gzip"})
    agent = agent_factory(cfg)
    wait_until(lambda: len(fault_server.lines()) == len(lines), 20, what="every line delivered")
    assert sorted(e[2] for e in fault_server.lines()) == sorted(lines)
    reqs = fault_server.request_log()
    assert reqs and all(r["encoding"] == "gzip" for r in reqs), reqs[:3]
    # The request bytes the agent counts are the compressed ones.
    sent = agent.metric("sluice_agent_sent_request_bytes_total")
    assert sent == sum(r["bytes"] for r in reqs)
    assert sent < agent.metric("sluice_agent_sent_bytes_total") / 3, "gzip should shrink repetitive logs"
    assert agent.stop() == 0


def test_gzip_json_reaches_a_real_sluice(sluice_factory, agent_factory, tmp_path):
    start = now_ns() - 60 * 10**9
    sluice = sluice_factory(flags=SLUICE_FLAGS)
    log = tmp_path / "app.log"
    write_lines(log, [f"gz seq={i}" for i in range(300)])
    cfg = agent_config(sluice.url("/loki/api/v1/push"), tmp_path / "pos", files=[str(log)],
                       client={"compression": "gzip", "encoding": "json"})
    agent = agent_factory(cfg)
    wait_until(lambda: len(sluice.query_lines('{job="agent-test"}', start, now_ns() + 10**10, limit=1000)) == 300,
               20, what="300 lines in sluice")
    assert sluice.query_lines('{job="agent-test"}', start, now_ns() + 10**10, limit=1000) == \
        [f"gz seq={i}" for i in range(300)]
    assert agent.metric("sluice_agent_dropped_lines_total", reason="http_400") == 0
    assert agent.stop() == 0


JAVA_EVENT = [
    "2024-05-01 12:00:0{n} ERROR [main] c.e.App - request {n} failed",
    "java.lang.IllegalStateException: bad state {n}",
    "\tat com.example.App.handle(App.java:42)",
    "\tat com.example.App.main(App.java:7)",
    "Caused by: java.io.IOException: disk {n}",
    "\t... 2 more",
]


def test_multiline_stack_traces_arrive_as_one_entry_per_event(sluice_factory, agent_factory, tmp_path):
    start = now_ns() - 60 * 10**9
    sluice = sluice_factory(flags=SLUICE_FLAGS)
    log = tmp_path / "java.log"
    events = []
    for n in range(5):
        event = [line.format(n=n) for line in JAVA_EVENT]
        if n % 2:
            event = event[:1]  # a single-line event between the traces
        events.append("\n".join(event))
        write_lines(log, event)
    source = {"job_name": "java", "files": [str(log)], "labels": {"job": "java"},
              "pipeline_stages": [{"multiline": {"firstline": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
                                                 "max_wait_time": "300ms"}}]}
    cfg = agent_config(sluice.url("/loki/api/v1/push"), tmp_path / "pos", files=["unused"])
    cfg["scrape_configs"] = [source]
    agent = agent_factory(cfg)
    # The last event has no next first line behind it: max_wait_time sends it.
    wait_until(lambda: len(sluice.query_lines('{job="java"}', start, now_ns() + 10**10)) == len(events), 15,
               what="one entry per event")
    assert sluice.query_lines('{job="java"}', start, now_ns() + 10**10) == events
    # An event written in two parts, slower than a poll but faster than max_wait_time, stays whole.
    more = [line.format(n=9) for line in JAVA_EVENT]
    write_lines(log, more[:2])
    time.sleep(0.1)
    write_lines(log, more[2:])
    wait_until(lambda: len(sluice.query_lines('{job="java"}', start, now_ns() + 10**10)) == len(events) + 1, 15,
               what="the split-write event")
    assert sluice.query_lines('{job="java"}', start, now_ns() + 10**10)[-1] == "\n".join(more)
    assert agent.stop() == 0
    # Positions cover every joined line: a restart ships nothing again.
    agent.start()
    time.sleep(1)
    assert agent.metric("sluice_agent_read_lines_total", job="java") == 0
    assert agent.stop() == 0


def _self_signed(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return key, cert


def test_tls_with_a_private_ca(agent_factory, tmp_path):
    key, cert = _self_signed(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = FaultServer(tls_context=ctx)
    try:
        assert server.url.startswith("https://")
        log = tmp_path / "app.log"
        write_lines(log, [f"tls seq={i}" for i in range(50)])
        # Without the CA the server's certificate is not trusted: nothing is delivered.
        untrusting = agent_factory(agent_config(server.url, tmp_path / "pos0", files=[str(log)]))
        wait_until(lambda: untrusting.metric("sluice_agent_request_errors_total", **{"class": "connection"}) > 0,
                   15, what="TLS verification failure")
        assert server.lines() == []
        assert untrusting.stop() == 0
        cfg = agent_config(server.url, tmp_path / "pos1", files=[str(log)],
                           client={"tls_config": {"ca_file": str(cert)}})
        agent = agent_factory(cfg)
        wait_until(lambda: len(server.lines()) == 50, 15, what="delivery over TLS")
        assert sorted(e[2] for e in server.lines()) == sorted(f"tls seq={i}" for i in range(50))
        assert agent.stop() == 0
    finally:
        server.close()
