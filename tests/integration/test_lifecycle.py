"""The data lifecycle on the real binary: retention (global, per stream, per tenant through the
runtime overrides), Loki's delete API (filtering at once, chunks rewritten by the compactor,
cancellation, requests surviving a restart) and the results cache of metric queries."""

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from helpers import push as pf
from helpers.s3 import S3rver
from helpers.server import wait_until

S = 10**9
H = 3600 * S
DAY = 24 * H


def inspect_chunk(binary, path):
    """sluice-inspect's verbose dump of one chunk file: (labels text, [lines])."""
    tool = Path(binary).parent / "sluice-inspect"
    out = subprocess.run([str(tool), "chunk", "-v", str(path)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    text = out.stdout.splitlines()
    labels = text[0].removeprefix("labels ")
    lines = [l.split(" ", 3)[3] for l in text if l.startswith("  ")]
    return labels, lines


def bucket_chunks(s3, srv, tenant):
    """{labels text: [lines]} of every chunk object of `tenant` in the bucket (via awscli)."""
    out = {}
    for key in s3.keys(f"chunks/{tenant}/"):
        local = Path(srv.workdir) / "fetched.chunk"
        try:
            s3.aws("s3", "cp", f"s3://{s3.bucket}/{key}", str(local))
        except RuntimeError as e:
            if "404" in str(e):  # deleted by the compactor since the listing
                continue
            raise
        labels, lines = inspect_chunk(srv.binary, local)
        out.setdefault(labels, []).extend(lines)
    return out


def test_retention_global_per_stream_and_per_tenant_override(sluice_factory, tmp_path):
    s3 = S3rver(tmp_path / "s3").start()
    try:
        overrides = tmp_path / "overrides.yaml"
        overrides.write_text(yaml.safe_dump({"overrides": {"b": {"retention_period": "96h"}}}))
        config = {"limits_config": {
            "retention_period": "24h",
            "reject_old_samples": False,
            "retention_stream": [{"selector": '{keep="long"}', "priority": 1, "period": "168h"}]}}
        srv = sluice_factory(s3.sluice_flags() + [
            "-auth_enabled=true",
            f"-runtime_config.file={overrides}", "-runtime_config.period=1s",
            "-compactor.retention-enabled=true", "-compactor.compaction-interval=2s",
            "-compactor.retention-delete-delay=1s",
        ], config=config, name="retention")
        now = pf.now_ns()
        ages = {"3d": now - 3 * DAY, "2d": now - 2 * DAY, "1h": now - H}
        for tenant in ("a", "b"):
            streams = [{"stream": {"job": "ret", "age": age},
                        "values": [[str(ts + i * S), f"{tenant} {age} line {i}"] for i in range(50)]}
                       for age, ts in ages.items()]
            streams.append({"stream": {"job": "ret", "age": "3d", "keep": "long"},
                            "values": [[str(ages["3d"] + i * S), f"{tenant} kept {i}"]
                                       for i in range(50)]})
            assert srv.push_json(streams, tenant=tenant).status_code == 204
        assert srv.post("/flush").status_code == 204

        def ages_in_bucket(tenant):
            streams = bucket_chunks(s3, srv, tenant)
            return sorted(yaml.safe_load("{" + l.strip("{}").replace("=", ": ") + "}")["age"] +
                          ("+keep" if "keep=" in l else "") for l in streams)

        # After compaction and the delete delay: tenant a keeps its last day and the long-lived
        # stream; tenant b (96h by override) keeps everything.
        wait_until(lambda: ages_in_bucket("a") == ["1h", "3d+keep"], 60, interval=1,
                   what="tenant a's expired chunks deleted")
        assert ages_in_bucket("b") == ["1h", "2d", "3d", "3d+keep"]
        got = srv.query_lines('{job="ret"}', now - 4 * DAY, now, limit=1000, tenant="a")
        assert sorted(got) == sorted([f"a 1h line {i}" for i in range(50)] +
                                     [f"a kept {i}" for i in range(50)])
        assert len(srv.query_lines('{job="ret"}', now - 4 * DAY, now, limit=1000,
                                   tenant="b")) == 200

        # A tenant override changes without a restart.
        overrides.write_text(yaml.safe_dump({"overrides": {"b": {"retention_period": "24h"}}}))
        wait_until(lambda: ages_in_bucket("b") == ["1h", "3d+keep"], 60, interval=1,
                   what="tenant b's override applied")
        assert len(srv.query_lines('{job="ret"}', now - 4 * DAY, now, limit=1000,
                                   tenant="b")) == 100
    finally:
        s3.stop()


def delete_requests(srv, tenant="fake"):
    r = srv.get("/loki/api/v1/delete", tenant=tenant)
    assert r.status_code == 200, r.text
    return r.json()


def test_delete_requests_filter_at_once_and_the_compactor_rewrites_chunks(sluice_factory):
    flags = ["-compactor.compaction-interval=1s", "-compactor.delete-request-cancel-period=4s",
             "-compactor.retention-delete-delay=0s"]
    srv = sluice_factory(flags, name="deletes")
    t0 = pf.now_ns() - 600 * S
    lines = {"del": [], "keep": []}
    for job in lines:
        for i in range(300):
            lines[job].append(f"{job} user={i % 7} secret={i}" if i % 3 == 0 else f"{job} ok {i}")
        streams = [{"stream": {"job": job},
                    "values": [[str(t0 + i * S), l] for i, l in enumerate(lines[job])]}]
        assert srv.push_json(streams).status_code == 204
    assert srv.post("/flush").status_code == 204
    chunks_dir = srv.chunks_dir / "chunks" / "fake"
    wait_until(lambda: any(chunks_dir.glob("*")), 30, what="flushed chunks")

    query = '{job="del"} |= "secret="'
    r = srv.post("/loki/api/v1/delete", params={"query": query, "start": str(t0 // S - 1),
                                                "end": str(pf.now_ns() // S)})
    assert r.status_code == 204, r.text
    # Filtered at once, exactly the matching lines.
    want_del = [l for l in lines["del"] if "secret=" not in l]
    assert srv.query_lines('{job="del"}', t0 - S, pf.now_ns(), limit=1000) == want_del
    assert srv.query_lines('{job="keep"}', t0 - S, pf.now_ns(), limit=1000) == lines["keep"]

    # A cancelled request deletes nothing.
    r = srv.post("/loki/api/v1/delete", params={"query": '{job="keep"}', "start": str(t0 // S - 1),
                                                "end": str(pf.now_ns() // S)})
    assert r.status_code == 204, r.text
    cancel = [d for d in delete_requests(srv) if d["query"] == '{job="keep"}']
    assert len(cancel) == 1
    r = srv.request("DELETE", "/loki/api/v1/delete", params={"request_id": cancel[0]["request_id"]})
    assert r.status_code == 204, r.text
    assert srv.query_lines('{job="keep"}', t0 - S, pf.now_ns(), limit=1000) == lines["keep"]

    # Requests survive a restart.
    assert srv.stop() == 0
    srv.start()
    listed = delete_requests(srv)
    assert [d["query"] for d in listed if d["status"] != "cancelled"] == [query], listed
    assert srv.query_lines('{job="del"}', t0 - S, pf.now_ns(), limit=1000) == want_del

    # After the cancel period the compactor rewrites the chunks: sluice-inspect shows them.
    wait_until(lambda: all(d["status"] == "processed" for d in delete_requests(srv)
                           if d["query"] == query), 60, interval=1, what="request processed")

    def stored():
        out = {}
        for f in chunks_dir.iterdir():
            labels, got = inspect_chunk(srv.binary, f)
            out.setdefault(labels, []).extend(got)
        return {k: sorted(v) for k, v in out.items()}

    want = {'{job="del"}': sorted(want_del), '{job="keep"}': sorted(lines["keep"])}
    wait_until(lambda: stored() == want, 30, interval=1, what="rewritten chunks")
    assert srv.query_lines('{job="del"}', t0 - S, pf.now_ns(), limit=1000) == want_del
    assert srv.query_lines('{job="keep"}', t0 - S, pf.now_ns(), limit=1000) == lines["keep"]


def test_delete_api_errors(sluice_factory):
    srv = sluice_factory(name="delete-errors")
    r = srv.post("/loki/api/v1/delete", params={"query": '{job="x"}'})
    assert r.status_code == 400 and "start" in r.text, r.text
    r = srv.post("/loki/api/v1/delete", params={"query": "{job=", "start": "1"})
    assert r.status_code == 400, r.text
    r = srv.request("DELETE", "/loki/api/v1/delete", params={"request_id": "nope"})
    assert r.status_code in (400, 404), r.text


def test_results_cache_serves_repeats_and_sees_new_data(sluice_factory):
    srv = sluice_factory(["-query_range.cache-results=true",
                          "-query_range.results_cache.cache.embedded_cache.enabled=true"],
                         name="results-cache")
    now = pf.now_ns()
    start = now - 3 * H
    streams = [{"stream": {"job": "rc", "level": lvl},
                "values": [[str(start + i * 60 * S + k), f"{lvl} {i}"] for i in range(170)]}
               for k, lvl in enumerate(["info", "error"])]
    assert srv.push_json(streams).status_code == 204
    query = 'sum by (level) (count_over_time({job="rc"}[5m]))'

    def run(end):
        r = srv.query_range(query, start, end, step="60s")
        assert r.status_code == 200, r.text
        return r.json()["data"]["result"]

    hits = lambda: srv.metric("loki_cache_hits")  # noqa: E731
    first = run(now)
    before = hits()
    second = run(now)
    assert second == first
    assert hits() > before  # every split older than max_cache_freshness came from the cache

    # New data in the newest split is visible through the cache.
    assert srv.push_json([{"stream": {"job": "rc", "level": "info"},
                           "values": [[str(now + 5 * S), "info late"]]}]).status_code == 204
    third = run(now + 60 * S)
    total = lambda res: sum(float(v[1]) for s in res for v in s["values"])  # noqa: E731
    assert total(third) > total(second)

    # A delete request changes what final splits count: the cached answers are not used.
    r = srv.post("/loki/api/v1/delete", params={"query": '{job="rc", level="error"}',
                                                "start": str(start // S - 1),
                                                "end": str(pf.now_ns() // S)})
    assert r.status_code == 204, r.text
    after = run(now + 60 * S)
    assert [s["metric"]["level"] for s in after] == ["info"], after
