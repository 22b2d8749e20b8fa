"""curl (the way people poke Loki by hand and in scripts) against the real sluice binary.

logcli is not packaged for Debian, so curl stands in for a non-Python HTTP client: a gzip'd JSON
push with Content-Encoding, then query_range in both directions, checking the Loki JSON shape.
"""

import gzip
import json
import shutil
import subprocess
import time

import pytest

CURL = shutil.which("curl")


def curl(*args, data=None):
    """Runs curl; returns (status code, content type, body bytes)."""
    if not CURL:
        pytest.skip("curl not installed")
    r = subprocess.run([CURL, "-sS", "--max-time", "10", "-o", "-",
                        "-w", "\n%{http_code} %{content_type}", *args],
                       input=data, capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    body, _, trailer = r.stdout.rpartition(b"\n")
    code, _, ctype = trailer.decode().partition(" ")
    return int(code), ctype, body


def test_curl_push_gzip_and_query_range(e2e_sluice_mt):
    sluice, tenant = e2e_sluice_mt, "tenant-curl"
    base = time.time_ns() - 5 * 10**9
    push = {"streams": [
        {"stream": {"app": "curl-e2e", "host": "h1"},
         "values": [[str(base + i * 1000), f"h1 line {i} <&>"] for i in range(5)]},
        {"stream": {"app": "curl-e2e", "host": "h2"},
         "values": [[str(base + i * 1000 + 500), f"h2 line {i}"] for i in range(5)]},
    ]}
    code, _, body = curl("-X", "POST", "-H", "Content-Type: application/json",
                         "-H", "Content-Encoding: gzip", "-H", f"X-Scope-OrgID: {tenant}",
                         "--data-binary", "@-", sluice.url + "/loki/api/v1/push",
                         data=gzip.compress(json.dumps(push).encode()))
    assert (code, body) == (204, b"")

    def query(direction, limit):
        code, ctype, body = curl(
            "-G", "-H", f"X-Scope-OrgID: {tenant}",
            "--data-urlencode", 'query={app="curl-e2e"}',
            "--data-urlencode", f"start={base - 10**9}",
            "--data-urlencode", f"end={base + 10**9}",
            "--data-urlencode", f"limit={limit}",
            "--data-urlencode", f"direction={direction}",
            sluice.url + "/loki/api/v1/query_range")
        assert code == 200, body
        assert ctype.startswith("application/json"), ctype
        return json.loads(body)

    out = query("forward", 100)
    assert out["status"] == "success"
    data = out["data"]
    assert data["resultType"] == "streams"
    assert {"summary", "querier", "ingester", "cache"} <= set(data["stats"])
    assert data["stats"]["summary"]["totalEntriesReturned"] == 10
    streams = {tuple(sorted(s["stream"].items())): s["values"] for s in data["result"]}
    assert sorted(streams) == [(("app", "curl-e2e"), ("host", "h1")),
                               (("app", "curl-e2e"), ("host", "h2"))]
    h1 = streams[(("app", "curl-e2e"), ("host", "h1"))]
    assert h1 == [[str(base + i * 1000), f"h1 line {i} <&>"] for i in range(5)]
    for values in streams.values():
        for ts, line in values:
            assert isinstance(ts, str) and ts.isdigit() and isinstance(line, str)

    # Backward with a limit returns the newest entries across both streams, each stream newest
    # first: h2 4 (base+4500), h1 4 (base+4000), h2 3 (base+3500).
    out = query("backward", 3)
    got = {s["stream"]["host"]: s["values"] for s in out["data"]["result"]}
    assert got == {
        "h1": [[str(base + 4000), "h1 line 4 <&>"]],
        "h2": [[str(base + 4500), "h2 line 4"], [str(base + 3500), "h2 line 3"]],
    }

    # Without the tenant header the query is refused as in Loki (dskit auth middleware).
    code, _, body = curl("-G", "--data-urlencode", 'query={app="curl-e2e"}',
                         sluice.url + "/loki/api/v1/query_range")
    assert (code, body.strip()) == (401, b"no org id")
