"""The agent shipping into a real sluice: rotation by rename and by copytruncate, new files, a
kill -9 in mid-stream, and stdin. Every line must arrive exactly once, in order per file."""

import os
import shutil
import subprocess
import threading
import time

from helpers.push import now_ns
from helpers.server import wait_until

from .conftest import agent_config, seqs_of, write_lines

SLUICE_FLAGS = ["-limits_config.max_entries_limit_per_query=100000"]


def _query_all(sluice, selector, start):
    return sluice.query_entries(selector, start, now_ns() + 60 * 10**9, limit=100000, direction="forward")


def _wait_count(sluice, selector, start, n, timeout=30):
    def enough():
        got = len(_query_all(sluice, selector, start))
        return got >= n
    wait_until(enough, timeout, interval=0.3, what=f"{n} lines in sluice for {selector}")


def test_rotating_files_arrive_exactly_once_in_order(sluice_factory, agent_factory, tmp_path):
    start = now_ns() - 60 * 10**9
    sluice = sluice_factory(flags=SLUICE_FLAGS)
    logdir = tmp_path / "logs"
    logdir.mkdir()
    app, web = logdir / "app.log", logdir / "web.log"
    cfg = agent_config(sluice.url("/loki/api/v1/push"), tmp_path / "pos", files=[str(logdir / "*.log")])
    agent = agent_factory(cfg)

    seq = {"app": 0, "web": 0}

    def write(path, key, n):
        write_lines(path, [f"file={key} seq={seq[key] + i} payload={'p' * (i % 50)}" for i in range(n)])
        seq[key] += n

    def read_up(path):
        wait_until(lambda: agent.metric("sluice_agent_file_read_lag_bytes", path=str(path), default=-1) == 0,
                   10, interval=0.05, what=f"agent caught up with {path.name}")

    write(app, "app", 300)
    write(web, "web", 200)            # a second file, picked up by the glob
    read_up(app)                      # a file rotated away before the agent ever saw it is not
    read_up(web)                      # matched by the glob any more: nobody could ship it
    # Rotation by rename, with lines written just before it that the agent has not read yet: the
    # old file is finished through its open descriptor.
    write(app, "app", 100)
    os.rename(app, logdir / "app.log.1")
    write(app, "app", 200)            # the new file at the same path
    write(web, "web", 100)
    # Until the new app.log is opened, the read lag under its path is the finishing old file's.
    wait_until(lambda: agent.metric("sluice_agent_file_events_total", event="opened") >= 3, 10,
               what="the new app.log opened")
    read_up(app)
    # copytruncate: copy, then truncate in place; the agent restarts the file at offset 0. Lines
    # written between the copy and the truncate are lost by logrotate itself, so this writer
    # waits for the agent before rotating, as a quiet application would be.
    write(app, "app", 150)
    read_up(app)
    shutil.copyfile(app, logdir / "app.log.2")
    with open(app, "r+") as f:
        f.truncate(0)
    write(app, "app", 5)
    wait_until(lambda: agent.metric("sluice_agent_file_events_total", event="truncated") >= 1, 10,
               what="truncation noticed")
    write(app, "app", 245)
    # A second rename rotation, and a brand-new file appearing later.
    os.rename(app, logdir / "app.log.3")
    write(app, "app", 100)
    extra = logdir / "late.log"
    write_lines(extra, [f"file=late seq={i}" for i in range(50)])

    total = seq["app"] + seq["web"] + 50
    _wait_count(sluice, '{job="agent-test"}', start, total)
    time.sleep(0.5)  # anything extra (a duplicate) would show up now
    streams = sluice.query_streams('{job="agent-test"}', start, now_ns() + 60 * 10**9, limit=100000)
    by_file = {}
    for s in streams:
        values = sorted(s["values"], key=lambda v: int(v[0]))
        by_file.setdefault(s["stream"]["filename"], []).extend(v[1] for v in values)
    assert set(by_file) == {str(app), str(web), str(extra)}
    assert seqs_of(by_file[str(app)], "seq=") == list(range(seq["app"])), "app.log: lost, duplicated or reordered"
    assert seqs_of(by_file[str(web)], "seq=") == list(range(seq["web"]))
    assert seqs_of(by_file[str(extra)], "seq=") == list(range(50))
    m = agent.metrics()
    # Two renames. A pass that looks between a rename and the new file's creation finds no file
    # at the path and counts the old one "deleted" instead; it is finished the same way.
    assert (m.value("sluice_agent_file_events_total", event="rotated") +
            m.value("sluice_agent_file_events_total", event="deleted")) >= 2
    assert m.value("sluice_agent_sent_lines_total") == total
    assert agent.stop() == 0


def test_kill9_mid_stream_loses_nothing(sluice_factory, agent_factory, tmp_path):
    start = now_ns() - 60 * 10**9
    sluice = sluice_factory(flags=SLUICE_FLAGS)
    log = tmp_path / "app.log"
    cfg = agent_config(sluice.url("/loki/api/v1/push"), tmp_path / "pos", files=[str(log)],
                       client={"batch_size": "8KB", "batch_wait": "20ms", "max_inflight": 4})
    stop = threading.Event()
    written = [0]

    def writer():
        n = 0
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            write_lines(log, [f"seq={n + i} {'z' * 64}" for i in range(200)])
            n += 200
            written[0] = n
            time.sleep(0.01)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    agent = agent_factory(cfg)
    for _ in range(3):
        time.sleep(0.7)
        wait_until(lambda: agent.metric("sluice_agent_sent_lines_total") > 0, 10, what="agent shipping")
        agent.kill9()
        agent.start()
    time.sleep(0.5)
    stop.set()
    t.join(10)
    total = written[0]
    _wait_count(sluice, '{job="agent-test"}', start, total, timeout=40)
    lines = [e[2] for e in _query_all(sluice, '{job="agent-test"}', start)]
    got = seqs_of(lines, "seq=")
    assert sorted(set(got)) == list(range(total)), "lines lost across kill -9"
    # In-flight batches were re-sent with their journaled timestamps: the server dropped them as
    # exact duplicates.
    assert len(got) == total, f"{len(got) - total} duplicates after kill -9"
    assert got == sorted(got), "order by timestamp must be file order"
    assert agent.stop() == 0


def test_stdin_is_shipped_and_the_agent_exits_at_its_end(sluice_factory, agent_factory, tmp_path):
    start = now_ns() - 60 * 10**9
    sluice = sluice_factory(flags=SLUICE_FLAGS)
    cfg = agent_config(sluice.url("/loki/api/v1/push"), tmp_path / "pos", stdin=True,
                       limits={"max_line_size": "1KB", "max_line_size_mode": "truncate", "memory_limit": "8MB"})
    data = "".join(f"stdin seq={i}\n" for i in range(1000)) + "L" * 5000 + "\n"
    agent = agent_factory(cfg, start=False)
    agent.proc = subprocess.Popen([agent.binary, "agent", f"-config.file={agent.config_path}"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=open(agent.stderr_path, "ab"), cwd=agent.workdir)
    agent.proc.communicate(data.encode(), timeout=30)
    assert agent.proc.returncode == 0, agent.stderr_tail()
    entries = _query_all(sluice, '{job="agent-test"}', start)
    lines = [e[2] for e in entries]
    assert seqs_of(lines, "seq=") == list(range(1000))
    assert lines[-1] == "L" * 1024  # truncated to max_line_size
    assert "filename" not in entries[0][0]
