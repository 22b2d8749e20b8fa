"""The agent against a push server that fails on a schedule: latency, 429 with Retry-After, 500s,
connection resets and a dead period. Checks retries and backoff against the configuration, the
circuit breaker's transitions, the memory ceiling, load shedding, and that every line not
deliberately shed arrives once the faults stop."""

import time

import pytest

from helpers.server import wait_until

from .conftest import agent_config, seqs_of, write_lines


def _delivered(server):
    return [line for _, _, line in server.lines()]


def test_retries_follow_backoff_and_honour_retry_after(agent_factory, fault_server, tmp_path):
    log = tmp_path / "app.log"
    write_lines(log, ["first line"])
    fault_server.add(("status", 500), ("status", 503), ("status", 429, 1), ("delay", 0.3))
    cfg = agent_config(fault_server.url, tmp_path / "pos", files=[str(log)],
                       client={"max_inflight": 1, "tenant_id": "team-a", "bearer_token": "s3cret",
                               "backoff_config": {"min_period": "100ms", "max_period": "150ms"},
                               "breaker": {"failure_threshold": 10, "open_duration": "1s"}})
    agent = agent_factory(cfg)
    wait_until(lambda: _delivered(fault_server) == ["first line"], 15, what="delivery after retries")

    log_ = fault_server.request_log()
    assert [r["action"] for r in log_[:4]] == [500, 503, 429, "delay"]
    assert len({r["digest"] for r in log_[:4]}) == 1, "a retry must resend the same body"
    assert all(r["tenant"] == "team-a" and r["auth"] == "Bearer s3cret" for r in log_)
    gaps = [b["t"] - a["t"] for a, b in zip(log_, log_[1:4])]
    # Full jitter: attempt 1 waits at most min_period, attempt 2 at most 2 x min_period capped at
    # max_period (plus scheduling slack); after the 429 the Retry-After of 1s is honoured exactly.
    assert gaps[0] <= 0.1 + 0.25, gaps
    assert gaps[1] <= 0.15 + 0.25, gaps
    assert gaps[2] >= 0.95, gaps
    m = agent.metrics()
    assert m.value("sluice_agent_retries_total", **{"class": "http_5xx"}) == 2
    assert m.value("sluice_agent_retries_total", **{"class": "http_429"}) == 1
    assert m.value("sluice_agent_request_errors_total", **{"class": "http_5xx"}) == 2
    assert m.value("sluice_agent_sent_lines_total") == 1
    assert m.value("sluice_agent_breaker_state") == 0  # 429s and two 5xx never reached the threshold


def test_client_errors_are_dropped_counted_and_logged(agent_factory, fault_server, tmp_path):
    log = tmp_path / "app.log"
    write_lines(log, ["rejected line"])
    fault_server.add(("status", 400, None, "entry too far behind"))
    cfg = agent_config(fault_server.url, tmp_path / "pos", files=[str(log)], client={"max_inflight": 1})
    agent = agent_factory(cfg)
    wait_until(lambda: agent.metric("sluice_agent_dropped_lines_total", reason="http_400") == 1, 10,
               what="4xx drop counted")
    write_lines(log, ["accepted line"])
    wait_until(lambda: _delivered(fault_server) == ["accepted line"], 10, what="next line delivered")
    assert len(fault_server.request_log()) == 2, "a 400 must not be retried"
    assert agent.metric("sluice_agent_retries_total", **{"class": "http_4xx"}) == 0
    assert "push rejected; dropping batch" in agent.stderr_text()
    assert "entry too far behind" in agent.stderr_text()
    # The dropped line is behind the saved position: a restart does not send it again.
    agent.stop()
    agent2 = agent_factory(cfg)
    write_lines(log, ["after restart"])
    wait_until(lambda: "after restart" in _delivered(fault_server), 10, what="delivery after restart")
    assert sorted(_delivered(fault_server)) == ["accepted line", "after restart"]
    agent2.stop()


def test_breaker_memory_ceiling_and_recovery_under_faults(agent_factory, fault_server, tmp_path):
    """Resets, then 500s, then slow answers, while a writer keeps appending: the breaker opens and
    closes again, buffered bytes never pass the ceiling, reading pauses instead of buffering, and
    everything arrives in the end."""
    log = tmp_path / "app.log"
    memory_limit = 1 << 20
    cfg = agent_config(fault_server.url, tmp_path / "pos", files=[str(log)],
                       client={"max_inflight": 2, "batch_size": "32KB", "batch_wait": "50ms",
                               "backoff_config": {"min_period": "20ms", "max_period": "200ms"},
                               "breaker": {"failure_threshold": 3, "open_duration": "500ms"}},
                       limits={"memory_limit": "1MB", "max_line_size": "4KB"})
    agent = agent_factory(cfg)
    pad = "x" * 180
    total = 0

    def write(n):
        nonlocal total
        write_lines(log, [f"seq={total + i} {pad}" for i in range(n)])
        total += n

    # Dead server: every connection is reset.
    fault_server.set_default(("reset",))
    t0 = time.monotonic()
    max_high_water = 0
    saw_backpressure = False
    while time.monotonic() - t0 < 3.0:
        write(2000)  # ~0.4 MB a round: far more than the ceiling over the dead period
        time.sleep(0.2)
        m = agent.metrics()
        max_high_water = max(max_high_water, m.value("sluice_agent_buffered_bytes_high_water"))
        lag = sum(v for _, v in m.series("sluice_agent_file_read_lag_bytes"))
        saw_backpressure |= lag > memory_limit
    m = agent.metrics()
    assert m.value("sluice_agent_breaker_transitions_total", to="open") >= 1
    assert m.value("sluice_agent_request_errors_total", **{"class": "connection"}) >= 3
    attempts_dead = len(fault_server.request_log())
    # Not hammered: with the breaker open most of the time only probes get through (one per
    # open_duration) next to the threshold's worth of failures before each opening.
    assert attempts_dead <= 40, f"{attempts_dead} attempts against a dead server in 3s"
    assert saw_backpressure, "reading should pause (file lag grows) rather than buffer without bound"
    assert agent.rss_kb() < 96 * 1024

    # Flapping: 500s for a while.
    fault_server.set_default(("status", 500))
    time.sleep(1.0)
    # Slow but alive.
    fault_server.add(*[("delay", 0.2)] * 5)
    fault_server.set_default(("ok",))
    write(500)

    def all_delivered():
        return len(seqs_of(_delivered(fault_server), "seq=")) >= total
    wait_until(all_delivered, 30, interval=0.2, what="every line delivered after the faults")
    got = seqs_of(_delivered(fault_server), "seq=")
    assert sorted(got) == list(range(total)), "lost or duplicated lines"
    m = agent.metrics()
    assert m.value("sluice_agent_breaker_transitions_total", to="half_open") >= 1
    assert m.value("sluice_agent_breaker_transitions_total", to="closed") >= 1
    assert m.value("sluice_agent_breaker_state") == 0
    max_high_water = max(max_high_water, m.value("sluice_agent_buffered_bytes_high_water"))
    assert 0 < max_high_water <= memory_limit
    assert m.value("sluice_agent_memory_limit_bytes") == memory_limit
    assert sum(v for _, v in m.series("sluice_agent_dropped_lines_total")) == 0
    # Per file order: timestamps increase with the sequence number.
    by_ts = [seq for seq in seqs_of([line for _, _, line in sorted(fault_server.lines(), key=lambda e: e[1])],
                                    "seq=")]
    assert by_ts == sorted(by_ts)


def test_shedding_drops_low_value_lines_first_and_counts_them(agent_factory, fault_server, tmp_path):
    log = tmp_path / "app.log"
    cfg = agent_config(fault_server.url, tmp_path / "pos", files=[str(log)],
                       client={"max_inflight": 1, "batch_size": "16KB", "batch_wait": "50ms",
                               "backoff_config": {"min_period": "20ms", "max_period": "100ms"},
                               "breaker": {"failure_threshold": 100, "open_duration": "1s"}},
                       limits={"memory_limit": "512KB", "max_line_size": "4KB"},
                       shedding={"threshold": 0.3, "rules": [{"labels": {"level": "debug"}}]})
    cfg["scrape_configs"][0]["detect_level"] = True
    fault_server.set_default(("status", 503))
    agent = agent_factory(cfg)
    lines = []
    for i in range(6000):
        level = "debug" if i % 2 else "error"
        lines.append(f"level={level} seq={i} " + "y" * 100)
    write_lines(log, lines)
    wait_until(lambda: agent.metric("sluice_agent_dropped_lines_total", reason="shed") > 0, 10,
               what="shedding to start")
    fault_server.set_default(("ok",))
    wait_until(lambda: agent.metric("sluice_agent_file_unacked_bytes", path=str(log), default=1) == 0, 30,
               interval=0.2, what="file fully acknowledged")
    delivered = _delivered(fault_server)
    errors = seqs_of([l for l in delivered if "level=error" in l], "seq=")
    debugs = seqs_of([l for l in delivered if "level=debug" in l], "seq=")
    assert sorted(errors) == list(range(0, 6000, 2)), "no high-value line may be shed"
    shed = agent.metric("sluice_agent_dropped_lines_total", reason="shed")
    assert shed > 0
    assert len(debugs) + shed == 3000, "every debug line is either delivered or counted as shed"
    streams = {labels for labels, _, _ in fault_server.lines()}
    assert any('level="error"' in s for s in streams)


def test_sigterm_against_a_dead_server_is_bounded_and_loses_nothing(agent_factory, fault_server, tmp_path):
    log = tmp_path / "app.log"
    write_lines(log, [f"seq={i} " + "q" * 100 for i in range(3000)])
    cfg = agent_config(fault_server.url, tmp_path / "pos", files=[str(log)],
                       client={"max_inflight": 1, "batch_size": "16KB"},
                       limits={"memory_limit": "256KB", "max_line_size": "4KB"},
                       shutdown_timeout="1s")
    fault_server.set_default(("status", 503))
    agent = agent_factory(cfg)
    wait_until(lambda: agent.metric("sluice_agent_retries_total", **{"class": "http_5xx"}) >= 2, 10,
               what="retries against the failing server")
    t0 = time.monotonic()
    assert agent.stop(timeout=10) == 0
    assert time.monotonic() - t0 < 4, "shutdown must be bounded by shutdown_timeout"
    fault_server.set_default(("ok",))
    agent_factory(cfg)
    wait_until(lambda: len(fault_server.lines()) >= 3000, 20, what="delivery after restart")
    assert sorted(seqs_of(_delivered(fault_server), "seq=")) == list(range(3000))
