"""GET /loki/api/v1/tail through a cluster's front door (-target=distributor,query-frontend): the
frontend has no querier of its own, so the websocket polls through its queue and the queriers
pulling its jobs (http/tail.h, FrontendTailSource), and answers in Loki's TailResponse shape."""

import json
import time

from helpers import push as pf
from integration.test_read_api_extra import WsClient

S = 10**9
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


def _read_until(ws, want, deadline_s=30):
    """Reads frames until every line of `want` was seen. Returns (frames, entries): the parsed
    frames and (stream labels, ts, line, extra) of every value in arrival order."""
    frames, entries = [], []
    end = time.time() + deadline_s
    while not set(want) <= {e[2] for e in entries}:
        assert time.time() < end, f"timed out; saw {entries}"
        op, payload = ws.recv_message()
        assert op == 1, (op, payload)
        frame = json.loads(payload)
        frames.append(frame)
        for s in frame["streams"]:
            for v in s["values"]:
                entries.append((tuple(sorted(s["stream"].items())), v[0], v[1],
                                json.dumps(v[2], sort_keys=True) if len(v) > 2 else None))
    return frames, entries


def _assert_tail_shape(frame, categorized=False):
    want_keys = {"streams", "encodingFlags"} if categorized else {"streams"}
    assert set(frame) == want_keys, frame
    if categorized:
        assert frame["encodingFlags"] == ["categorize-labels"]
    assert frame["streams"], frame
    for s in frame["streams"]:
        assert set(s) == {"stream", "values"}, s
        assert isinstance(s["stream"], dict) and s["stream"], s
        for v in s["values"]:
            assert isinstance(v[0], str) and v[0].isdigit(), v
            assert isinstance(v[1], str), v
            assert len(v) in ((2, 3) if categorized else (2,)), v


def test_front_door_tail_sends_history_then_each_new_entry_once(cluster_factory):
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1)
    front = cluster.front
    t0 = pf.now_ns() - 10 * S
    labels = {"app": "ctail", "env": "it"}
    r = front.push_json([{"stream": labels, "values": [[t0, "old-1"], [t0 + 1, "old-2"]]}])
    assert r.status_code == 204, r.text

    ws = WsClient(front.port, "/loki/api/v1/tail",
                  {"query": '{app="ctail"} |= "-"', "start": str(t0 - S), "limit": "10"}, timeout=30)
    try:
        assert ws.status_line.startswith("HTTP/1.1 101"), ws.status_line
        frames, entries = _read_until(ws, ["old-1", "old-2"])
        for f in frames:
            _assert_tail_shape(f)
        assert [e[2] for e in entries] == ["old-1", "old-2"]
        assert entries[0][:3] == (tuple(sorted(labels.items())), str(t0), "old-1")

        # New lines over several pushes, into two streams, some the query filters out.
        want = []
        for batch in range(5):
            now = pf.now_ns()
            lines = [f"new-{batch}-{i}" for i in range(20)]
            want += lines
            other = [[now + i, f"other-{batch}-{i}"] for i in range(3)]
            want += [v[1] for v in other]
            r = front.push_json([
                {"stream": labels, "values": [[now + i, line] for i, line in enumerate(lines)]
                 + [[now + 100, "filtered out"]]},
                {"stream": {"app": "ctail", "env": "other"}, "values": other},
            ])
            assert r.status_code == 204, r.text
            time.sleep(0.2)
        frames, entries = _read_until(ws, want)
        for f in frames:
            _assert_tail_shape(f)
        # Polls re-read the last seconds (late entries); nothing may come twice meanwhile. After
        # more polls than that window, a sentinel closes the observation.
        time.sleep(2)
        now = pf.now_ns()
        r = front.push_json([{"stream": labels, "values": [[now, "sentinel-"]]}])
        assert r.status_code == 204, r.text
        more_frames, more = _read_until(ws, ["sentinel-"])
        entries += more
        lines = [e[2] for e in entries]
        assert sorted(lines) == sorted(want + ["sentinel-"]), lines
        assert len(set(lines)) == len(lines), "an entry came twice"
        assert "filtered out" not in lines and "old-1" not in lines
        streams = {e[0] for e in entries}
        assert streams == {tuple(sorted(labels.items())),
                           tuple(sorted({"app": "ctail", "env": "other"}.items()))}
        # Each stream's entries arrive in time order.
        for s in streams:
            ts = [int(e[1]) for e in entries if e[0] == s]
            assert ts == sorted(ts), s
    finally:
        ws.close()


def test_front_door_tail_frames_match_the_single_binary(cluster_factory, sluice_factory):
    """Structured metadata folded into the stream labels by default, and the categorize-labels
    form (stream labels only, metadata and parsed labels as a third value element, the flag
    echoed), exactly as a single binary tails the same pushes."""
    cluster = cluster_factory(ingesters=3, rf=3, queriers=1)
    single = sluice_factory()
    t0 = pf.now_ns() - 20 * S
    streams = [
        {"stream": {"app": "meta", "env": "it"},
         "values": [[str(t0), "level=info msg=one", {"trace_id": "t1"}],
                    [str(t0 + S), "level=warn msg=two"],
                    [str(t0 + 2 * S), "level=info msg=three", {"trace_id": "t3", "user": "u"}]]},
        {"stream": {"app": "meta", "env": "other"},
         "values": [[str(t0 + S), "level=error msg=four"]]},
    ]
    for target in (cluster.front, single):
        r = target.push_json(streams)
        assert r.status_code == 204, r.text
    want = ["level=info msg=one", "level=warn msg=two", "level=info msg=three",
            "level=error msg=four"]
    for query in ('{app="meta"}', '{app="meta"} | logfmt | level != "warn"'):
        for headers in ({}, CATEGORIZE):
            got = {}
            for name, target in (("cluster", cluster.front), ("single", single)):
                ws = WsClient(target.port, "/loki/api/v1/tail",
                              {"query": query, "start": str(t0 - S), "limit": "100"},
                              timeout=30, headers=headers)
                try:
                    assert ws.status_line.startswith("HTTP/1.1 101"), ws.status_line
                    expect = [w for w in want if "warn" not in w or "logfmt" not in query]
                    frames, entries = _read_until(ws, expect)
                finally:
                    ws.close()
                for f in frames:
                    _assert_tail_shape(f, categorized=bool(headers))
                got[name] = sorted(entries)
            assert got["cluster"] == got["single"], (query, headers)
            if headers:
                # The metadata rides in the third element, the stream keeps its own labels.
                first = [e for e in got["cluster"] if e[2] == "level=info msg=one"][0]
                assert first[0] == (("app", "meta"), ("env", "it"))
                assert json.loads(first[3])["structuredMetadata"] == {"trace_id": "t1"}
            else:
                first = [e for e in got["cluster"] if e[2] == "level=info msg=one"][0]
                assert ("trace_id", "t1") in first[0]
