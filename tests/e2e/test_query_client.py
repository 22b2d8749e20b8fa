"""A real Loki query client from npm reads from the real sluice binary.

@myunisoft/loki 6.0.0 (pinned in node/package.json) is a Node.js SDK for Grafana and Loki's
HTTP read API. node/query_client.js calls its read functions against sluice and prints what each
returned; this test pushes known lines first (Loki JSON, from Python) and checks every value.

What the SDK does on the wire (dist/index.js of 6.0.0):
- queryRange / queryRangeStream / queryRangeMatrix: GET /loki/api/v1/query_range with
  `query`, `limit` (default 100) and every other option as a query parameter (`start`, `end`,
  `step` ...); numeric strings for start/end pass through untouched. queryRange flattens the
  streams into one list of lines sorted newest first; queryRangeStream keeps {labels, values};
  queryRangeMatrix only accepts what its own LogQL classifier calls a metric query and returns
  {labels, values: [[unix seconds (number), "value"]]}.
- labels / labelValues: GET /loki/api/v1/labels and /loki/api/v1/label/<name>/values with
  start, end and optional `query`; they return data (or [] when status is not "success").
- series: GET /loki/api/v1/series with `match=<selector>` (not `match[]`) and no time range, so
  the server's default range applies.
- An HTTP error status makes httpie throw HttpieOnHttpError carrying statusCode and the body
  (decoded as text for text/plain).
"""

import time

from e2e_support import e2e_run_node

S = 10**9


def _ok(out, name):
    got = out[name]
    assert got["ok"], f"{name} failed: {got}"
    return got["value"]


def test_myunisoft_loki_sdk_reads(e2e_sluice, e2e_node_modules):
    sluice = e2e_sluice
    # Whole seconds, two minutes ago: lines at base + i s + 0.5 s, so no line sits exactly on a
    # metric step or range boundary.
    # base + 5 s is a multiple of the 10 s step, so the frontend's step alignment (start down,
    # end up to a multiple of step, as Loki's) leaves the metric range as asked.
    base_s = (int(time.time()) - 120) // 10 * 10 + 5
    base = base_s * S
    half = S // 2
    info = [(base + i * S + half, f"GET /checkout/{i} 200") for i in range(0, 10, 2)]
    info.append((base + 11 * S + half, "GET /health 200"))
    error = [(base + i * S + half, f"POST /checkout/{i} 500") for i in range(1, 10, 2)]
    sluice.push_json([
        {"stream": {"app": "qc", "level": "info", "host": "h1"},
         "values": [[str(ts), line] for ts, line in info]},
        {"stream": {"app": "qc", "level": "error", "host": "h2"},
         "values": [[str(ts), line] for ts, line in error]},
        # Another app: must not leak into any {app="qc"} answer (but shows up in labels).
        {"stream": {"app": "other", "env": "dev"},
         "values": [[str(base + 3 * S + half), "GET /checkout/other 200"]]},
    ])

    cfg = {
        "url": sluice.url,
        "start": str(base - S),
        "end": str(base + 60 * S),
        "filterQuery": '{app="qc"} |= "checkout"',
        # Steps at base+5s, +15s ... +55s; each counts the lines in the minute before it.
        "metricQuery": 'sum by (level) (count_over_time({app="qc"}[1m]))',
        "metricStart": str(base_s + 5),
        "metricEnd": str(base_s + 55),
        "step": "10",
        "selector": '{app="qc"}',
        "labelName": "level",
        "labelQuery": '{host="h1"}',
        "badQuery": '{app="qc"} |= ',
    }
    out, stderr = e2e_run_node("query_client.js", cfg)

    # queryRange: the 10 checkout lines of both streams (not /health, not app=other), newest
    # first.
    qr = _ok(out, "queryRange")
    checkout = sorted(info[:-1] + error, reverse=True)
    assert qr["logs"] == [line for _, line in checkout]
    assert qr["hasTimerange"] is True

    # queryRangeStream: per stream, labels exact, values [ns string, line] newest first
    # (the server's default direction is backward).
    streams = {s["labels"]["host"]: s for s in _ok(out, "queryRangeStream")["streams"]}
    assert sorted(streams) == ["h1", "h2"]
    assert streams["h1"]["labels"] == {"app": "qc", "level": "info", "host": "h1"}
    assert streams["h2"]["labels"] == {"app": "qc", "level": "error", "host": "h2"}
    assert streams["h1"]["values"] == [[str(ts), line] for ts, line in reversed(info[:-1])]
    assert streams["h2"]["values"] == [[str(ts), line] for ts, line in reversed(error)]

    # limit=2, backward: the two newest lines overall (/health at +11.5 s, checkout/9 at +9.5 s).
    limited = {s["labels"]["host"]: s["values"] for s in _ok(out, "queryRangeLimited")["streams"]}
    assert limited == {"h1": [[str(info[-1][0]), "GET /health 200"]],
                       "h2": [[str(error[-1][0]), "POST /checkout/9 500"]]}

    # queryRangeMatrix: at base+5 s the minute holds info 0.5/2.5/4.5 and error 1.5/3.5; from
    # base+15 s on it holds every line (6 info, 5 error) until base+60.5 s.
    metrics = {m["labels"]["level"]: m for m in _ok(out, "queryRangeMatrix")["metrics"]}
    assert sorted(metrics) == ["error", "info"]
    for level, first, rest in (("info", "3", "6"), ("error", "2", "5")):
        assert metrics[level]["labels"] == {"level": level}
        assert metrics[level]["values"] == (
            [[base_s + 5, first]] + [[base_s + t, rest] for t in range(15, 56, 10)]), level

    assert _ok(out, "labels") == ["app", "env", "host", "level"]
    assert _ok(out, "labelValues") == ["error", "info"]
    assert _ok(out, "labelValuesQuery") == ["info"]
    series = sorted(_ok(out, "series"), key=lambda s: s["host"])
    assert series == [{"app": "qc", "host": "h1", "level": "info"},
                      {"app": "qc", "host": "h2", "level": "error"}]

    # A parse error reaches the SDK as HTTP 400 with Loki's plain-text message.
    bad = out["badQuery"]
    assert bad["ok"] is False, bad
    assert bad["name"] == "HttpieOnHttpError" and bad["statusCode"] == 400, bad
    assert isinstance(bad["data"], str) and bad["data"].startswith("parse error at line 1, col "), bad
    assert "syntax error" in bad["data"], bad
