"""Hostile and malformed queries: each is refused with Loki's status and plain-text message, or
answered within a bound, and the server keeps serving after every one of them.

"Keeps serving" (assert_serving): the process is alive, /ready answers 200 `ready`, and a normal
query returns the probe line pushed at the start.

Loki's texts checked here (pkg/util/validation, pkg/loghttp, pkg/logql/syntax, dskit server):
- `parse error : input size too long (N > 5120)`: syntax.maxInputSize, refused when len >= 5120;
- `the query time range exceeds the limit (query length: <Go duration>, limit: <model duration>)`;
- `exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the
  step parameter` (v3 wording);
- `max entries limit per query exceeded, limit > max_entries_limit (N > M)` (v2.9 wording);
- `maximum number of series (N) reached for a single query; consider reducing query cardinality
  ...` (v3 wording of the max_query_series error);
- 504 `request timed out, decrease the duration of the request or add more label matchers (prefer
  exact match over regex match) to reduce the amount of data processed` past query_timeout.
"""

import random
import time

import pytest
import yaml

from helpers import push as pf

S = 10**9
QUERY_RANGE = "/loki/api/v1/query_range"
INSTANT = "/loki/api/v1/query"

# Loki's query size limit (syntax.maxInputSize).
MAX_QUERY_SIZE = 5120

TIMEOUT_TEXT = ("request timed out, decrease the duration of the request or add more label "
                "matchers (prefer exact match over regex match) to reduce the amount of data "
                "processed")

# Generous ingestion limits: some tests push a few MB at once.
RATE_FLAGS = (
    "-limits_config.ingestion_rate_mb=256",
    "-limits_config.ingestion_burst_size_mb=256",
    "-limits_config.per_stream_rate_limit=256MB",
    "-limits_config.per_stream_rate_limit_burst=256MB",
)

PROBE_LINE = "probe line: the server still answers"

# The regex stream: long lines of `a` that end in `!` (so an anchored `(a+)+$` fails only after
# trying every split in a backtracking engine), one line of only `a`, and one needle line.
REGEX_LONG = "a" * 3000 + "!"
REGEX_ALL_A = "a" * 3000
REGEX_NEEDLE = "a needle in the haystack"
REGEX_LONG_COUNT = 40


class Server:
    """A started Sluice plus the time window and tenant its probe line lives in."""

    def __init__(self, sluice, tenant, t0):
        self.s = sluice
        self.tenant = tenant
        self.t0 = t0  # the probe line's timestamp; every pushed line is within a minute of it

    def get(self, path, params, tenant=None, timeout=30):
        """GET with a tenant header; returns (response, seconds taken)."""
        t = time.monotonic()
        r = self.s.get(path, params=params, tenant=tenant or self.tenant, timeout=timeout)
        return r, time.monotonic() - t

    def query_range(self, query, timeout=30, tenant=None, **params):
        p = {"query": query, "start": str(self.t0 - 120 * S), "end": str(self.t0 + 60 * S)}
        p.update({k: str(v) for k, v in params.items()})
        return self.get(QUERY_RANGE, p, tenant=tenant, timeout=timeout)

    def instant(self, query, timeout=30, tenant=None, **params):
        p = {"query": query, "time": str(self.t0 + 10 * S)}
        p.update({k: str(v) for k, v in params.items()})
        return self.get(INSTANT, p, tenant=tenant, timeout=timeout)


def assert_serving(srv, what=""):
    s = srv.s
    assert s.alive, f"sluice died after {what}:\n{s.stderr_tail(30)}"
    r = s.get("/ready", timeout=10)
    assert (r.status_code, r.text.strip()) == (200, "ready"), f"after {what}: /ready {r.status_code} {r.text!r}"
    r, _ = srv.query_range('{app="probe"}', limit=10)
    assert r.status_code == 200, f"after {what}: probe query {r.status_code} {r.text[:300]!r}"
    lines = [v[1] for st in r.json()["data"]["result"] for v in st["values"]]
    assert lines == [PROBE_LINE], f"after {what}: probe query returned {lines!r}"


def assert_plain(r, status, prefix=None, what=""):
    assert r.status_code == status, f"{what}: want {status}, got {r.status_code} {r.text[:300]!r}"
    assert r.headers.get("Content-Type", "").startswith("text/plain"), (what, r.headers)
    assert r.text.strip(), f"{what}: an error must say what was wrong"
    if prefix is not None:
        assert r.text.startswith(prefix), f"{what}: want {prefix!r}..., got {r.text[:300]!r}"


def values_of(r):
    """Lines of a streams answer, in order."""
    assert r.status_code == 200, (r.status_code, r.text[:300])
    body = r.json()
    assert body["status"] == "success", body
    return [v[1] for st in body["data"]["result"] for v in st["values"]]


@pytest.fixture(scope="module")
def srv(module_sluice_factory):
    s = module_sluice_factory(flags=RATE_FLAGS, name="bad-queries")
    t0 = pf.now_ns() - 30 * S
    regex_values = [[t0 - (REGEX_LONG_COUNT + 2 - i) * 10**6, REGEX_LONG] for i in range(REGEX_LONG_COUNT)]
    regex_values += [[t0 - 2 * 10**6, REGEX_ALL_A], [t0 - 10**6, REGEX_NEEDLE]]
    r = s.push_json([
        {"stream": {"app": "probe"}, "values": [[t0, PROBE_LINE]]},
        {"stream": {"app": "regex"}, "values": regex_values},
    ])
    assert r.status_code == 204, (r.status_code, r.text)
    server = Server(s, None, t0)
    assert_serving(server, "start-up")
    return server


# --- random and mutated queries -------------------------------------------------------------


def test_random_bytes_as_query_are_400(srv):
    """~200 seeded random byte strings, URL-encoded, as `query` of query_range and the instant
    endpoint: each a 400 with a plain-text message, never a 5xx, and the server keeps serving."""
    rnd = random.Random(20261124)
    bad = []
    for case in range(200):
        q = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(8, 300)))
        path = QUERY_RANGE if case % 2 == 0 else INSTANT
        params = {"query": q}
        if path == QUERY_RANGE:
            params.update(start=str(srv.t0 - 60 * S), end=str(srv.t0 + 60 * S))
        r, _ = srv.get(path, params)
        ctype = r.headers.get("Content-Type", "")
        if r.status_code != 400 or not ctype.startswith("text/plain") or not r.text.strip():
            bad.append((case, q, r.status_code, ctype, r.text[:200]))
        assert_serving(srv, f"random query #{case} {q!r}")
    assert not bad, f"{len(bad)} random queries not answered 400 text/plain; first: {bad[:5]}"


VALID_QUERIES = [
    '{app="probe"}',
    '{app="probe"} |= "probe" != "zzz" |~ "line.*answers"',
    '{app="probe"} | logfmt | level="info" | line_format "{{.level}} {{__line__}}"',
    '{app="probe"} | json | drop a, b | keep c',
    '{app="probe"} | pattern "<a> <b>: <_>" | a=~"pro.+"',
    'sum by (app) (count_over_time({app="probe"} |= "probe" [1m]))',
    'topk(2, rate({app=~"pro.*"}[30s])) / on(app) group_left sum(bytes_over_time({app="probe"}[1m]))',
    'quantile_over_time(0.9, {app="probe"} | regexp "(?P<n>\\\\d+)" | unwrap n [1m]) by (app)',
    'label_replace(count_over_time({app="probe"}[1m]), "x", "$1", "app", "(.*)")',
]


def _mutate(rnd, q):
    b = bytearray(q.encode())
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(4)
        i = rnd.randrange(len(b) + 1)
        if op == 0 and b:  # delete a byte
            del b[min(i, len(b) - 1)]
        elif op == 1:  # insert a syntax character
            b[i:i] = bytes([rnd.choice(b'(){}[]|=~!"`,.:$\\ 0123456789aby')])
        elif op == 2 and b:  # replace with a random byte
            b[min(i, len(b) - 1)] = rnd.getrandbits(8)
        else:  # duplicate a slice
            j = rnd.randrange(len(b) + 1)
            lo, hi = min(i, j), max(i, j)
            b[hi:hi] = b[lo:hi][:64]
    return bytes(b)


def test_mutated_valid_queries_never_5xx(srv):
    """~200 seeded mutations (deleted, inserted, replaced, duplicated bytes) of valid queries reach
    deeper into the parser and the engine: each is answered 200 or a plain-text 400, quickly."""
    rnd = random.Random(1124)
    bad = []
    for case in range(200):
        q = _mutate(rnd, rnd.choice(VALID_QUERIES))
        r, took = srv.query_range(q, step="15")
        if r.status_code == 400:
            ok = r.headers.get("Content-Type", "").startswith("text/plain") and r.text.strip()
        else:
            ok = r.status_code == 200 and r.json()["status"] == "success"
        if not ok or took > 5:
            bad.append((case, q, r.status_code, round(took, 2), r.text[:200]))
        assert_serving(srv, f"mutated query #{case} {q!r}")
    assert not bad, f"{len(bad)} mutated queries mishandled; first: {bad[:5]}"


# --- nesting and size -----------------------------------------------------------------------


def test_deep_nesting_is_400(srv):
    # 10,000 `(`: past the size limit before any parsing.
    r, _ = srv.query_range("(" * 10_000)
    assert_plain(r, 400, f"parse error : input size too long (10000 > {MAX_QUERY_SIZE})", "10,000 (")
    assert_serving(srv, "10,000 (")

    # 5,000 `(` fits the size limit: the parser's nesting bound must refuse it (no stack overflow).
    q = "(" * 5000 + '{app="probe"}'
    r, _ = srv.query_range(q)
    assert_plain(r, 400, "parse error", "5,000 (")
    assert_serving(srv, "5,000 (")

    # 200 nested sum(): a valid query Loki would run, refused by sluice's nesting bound.
    q = "sum(" * 200 + 'count_over_time({app="probe"}[1m])' + ")" * 200
    assert len(q) < MAX_QUERY_SIZE
    r, _ = srv.query_range(q, step="15")
    assert_plain(r, 400, "parse error", "200-deep sum(")
    assert "nested too deeply" in r.text, r.text
    assert_serving(srv, "200-deep sum(")

    # Deep label-filter parentheses and a long binary chain: refused or answered, never a crash.
    q = '{app="probe"} | ' + "(" * 2000 + 'a="b"' + ")" * 2000
    r, _ = srv.query_range(q)
    assert_plain(r, 400, "parse error", "2,000-deep label filter")
    assert_serving(srv, "2,000-deep label filter")
    q = "vector(1)" + " + 1" * 1200
    r, took = srv.instant(q)
    assert r.status_code in (200, 400) and took < 5, (r.status_code, took, r.text[:200])
    assert_serving(srv, "1,200-term binary chain")

    # A modest nesting still works, with the right value (one probe line in the window).
    q = "sum(" * 10 + 'count_over_time({app="probe"}[1h])' + ")" * 10
    r, _ = srv.instant(q)
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    assert [v["value"][1] for v in result] == ["1"], result


def test_query_size_limit(srv):
    def sized(n):
        head = '{app="probe"} != "'
        q = head + "x" * (n - len(head) - 1) + '"'
        assert len(q) == n
        return q

    r, _ = srv.query_range(sized(MAX_QUERY_SIZE - 1))
    assert values_of(r) == [PROBE_LINE]
    for n in (MAX_QUERY_SIZE, MAX_QUERY_SIZE + 1, 6000, 64_000):
        r, _ = srv.query_range(sized(n))
        assert_plain(r, 400, f"parse error : input size too long ({n} > {MAX_QUERY_SIZE})", f"{n} bytes")
        assert_serving(srv, f"{n}-byte query")
    # The instant endpoint has the same limit.
    r, _ = srv.instant(sized(6000))
    assert_plain(r, 400, f"parse error : input size too long (6000 > {MAX_QUERY_SIZE})", "instant")
    assert_serving(srv, "6000-byte instant query")


# --- regexes --------------------------------------------------------------------------------


def test_huge_regexes_answer_quickly(srv):
    # A ~4,000-character alternation whose last branch is the needle.
    words, n = [], 0
    while len("|".join(words)) < 4000:
        words.append(f"w{n}x")
        n += 1
    alternation = "|".join(words + ["needle"])
    assert 4000 <= len(alternation) and len(alternation) + 40 < MAX_QUERY_SIZE
    r, took = srv.query_range('{app="regex"} |~ "' + alternation + '"', limit=1000)
    assert took < 5, took
    assert values_of(r) == [REGEX_NEEDLE]
    r, took = srv.instant('count_over_time({app="regex"} |~ "' + alternation + '" [10m])')
    assert took < 5 and r.status_code == 200, (took, r.text[:300])
    assert [v["value"][1] for v in r.json()["data"]["result"]] == ["1"]
    assert_serving(srv, "4,000-character alternation")

    # Patterns that are exponential for a backtracking engine on 3,000 `a`s then `!`. RE2 (like
    # Go's regexp) is linear: each query must answer quickly with the exact matches.
    for pattern, want in (
        ("(a+)+$", [REGEX_ALL_A]),
        ("^(a|aa)+$", [REGEX_ALL_A]),
        ("(a*)*b", []),
        ("(x+x+)+y", []),
        ("^(a|a?)+$", [REGEX_ALL_A]),
    ):
        r, took = srv.query_range('{app="regex"} |~ "' + pattern + '"', limit=1000, direction="forward")
        assert took < 5, (pattern, took)
        assert values_of(r) == want, pattern
        r, took = srv.instant(f'sum(count_over_time({{app="regex"}} !~ "{pattern}" [10m]))')
        assert took < 5 and r.status_code == 200, (pattern, took, r.text[:300])
        total = REGEX_LONG_COUNT + 2
        assert [v["value"][1] for v in r.json()["data"]["result"]] == [str(total - len(want))], pattern
        assert_serving(srv, f"regex {pattern}")

    # An invalid regex is a parse error, not a 500.
    r, _ = srv.query_range('{app="regex"} |~ "(a+"')
    assert_plain(r, 400, "parse error", "invalid regex")
    r, _ = srv.query_range('{app=~"(a+"}')
    assert_plain(r, 400, "parse error", "invalid matcher regex")
    assert_serving(srv, "invalid regexes")


# --- ranges, steps and limits ---------------------------------------------------------------


def test_enormous_time_range_is_400(srv):
    now = pf.now_ns()
    r, _ = srv.get(QUERY_RANGE, {"query": '{app="probe"}', "start": "0", "end": str(now)})
    assert_plain(r, 400, "the query time range exceeds the limit (query length: ", "start=0")
    assert r.text.rstrip("\n").endswith(", limit: 30d1h)"), r.text
    assert_serving(srv, "start=0")

    # The metric path checks the same limit (step large enough to pass the resolution check).
    r, _ = srv.get(QUERY_RANGE, {"query": 'count_over_time({app="probe"}[1m])', "start": "0",
                                 "end": str(now), "step": str(86400 * 365)})
    assert_plain(r, 400, "the query time range exceeds the limit (query length: ", "metric start=0")
    assert_serving(srv, "metric start=0")

    # Exactly 100 days through `since`: the Go duration is printed as Loki does.
    r, _ = srv.get(QUERY_RANGE, {"query": '{app="probe"}', "since": "2400h"})
    assert_plain(r, 400, "the query time range exceeds the limit (query length: 2400h0m0s, limit: 30d1h)",
                 "since=2400h")

    # A range inside the query reaching ~270 years back: refused or answered, within a bound.
    r, took = srv.instant('count_over_time({app="probe"}[100000d])')
    assert r.status_code in (200, 400) and took < 5, (r.status_code, took, r.text[:300])
    assert_serving(srv, "enormous ranges")


OVERFLOWING_TIMESTAMPS = [
    (QUERY_RANGE, {"query": '{app="probe"}', "start": "9999999999999999999"}),
    (QUERY_RANGE, {"query": '{app="probe"}', "start": "-9223372036854775809"}),
    (QUERY_RANGE, {"query": '{app="probe"}', "start": "1", "end": "99999999999999999999"}),
    (QUERY_RANGE, {"query": 'count_over_time({app="probe"}[1m])', "end": "9999999999999999999"}),
    (INSTANT, {"query": 'count_over_time({app="probe"}[1m])', "time": "9999999999999999999"}),
    ("/loki/api/v1/labels", {"start": "9999999999999999999"}),
    ("/loki/api/v1/label/app/values", {"end": "-9223372036854775809"}),
    ("/loki/api/v1/series", {"match[]": '{app="probe"}', "start": "9999999999999999999"}),
]


@pytest.mark.parametrize("path,params", OVERFLOWING_TIMESTAMPS,
                         ids=["range-start-big", "range-start-small", "range-end-20-digits",
                              "metric-end-big", "instant-time-big", "labels-start-big",
                              "label-values-end-small", "series-start-big"])
def test_overflowing_timestamps_are_400(srv, path, params):
    """A timestamp that overflows int64 is a parse error (Go: strconv.ParseInt ... value out of
    range), answered 400 as Loki does, not a 500 from an exception in the handler."""
    r, _ = srv.get(path, params)
    assert_plain(r, 400, None, f"{path} {params}")
    assert "value out of range" in r.text or "exceeds integer range" in r.text, r.text
    assert_serving(srv, f"{path} {params}")


def test_tiny_step_over_long_range_is_400(srv):
    now = pf.now_ns()
    for step in ("1s", "1", "0.001", "1ms"):
        r, _ = srv.get(QUERY_RANGE, {"query": 'count_over_time({app="probe"}[1m])',
                                     "start": str(now - 10 * 86400 * S), "end": str(now), "step": step})
        assert_plain(r, 400, "exceeded maximum resolution of 11,000 points per time series", f"step={step}")
        assert_serving(srv, f"step={step}")
    r, _ = srv.get(QUERY_RANGE, {"query": 'count_over_time({app="probe"}[1m])',
                                 "start": str(now - 3600 * S), "end": str(now), "step": "0"})
    assert_plain(r, 400, "zero or negative query resolution step widths are not accepted", "step=0")
    # 11,000 points is the boundary: 10,999 steps of 1s (11,000 points) are accepted.
    r, _ = srv.get(QUERY_RANGE, {"query": 'count_over_time({app="probe"}[1m])',
                                 "start": str(srv.t0 - 10_999 * S), "end": str(srv.t0), "step": "1"})
    assert r.status_code == 200, r.text[:300]
    assert_serving(srv, "steps")


def test_limit_over_max_entries_is_400(srv):
    r, _ = srv.query_range('{app="probe"}', limit=5001)
    assert_plain(r, 400, "max entries limit per query exceeded, limit > max_entries_limit", "limit=5001")
    assert "(5001 > 5000)" in r.text, r.text
    r, _ = srv.query_range('{app="probe"}', limit=10**12)
    assert_plain(r, 400, None, "limit=10^12")
    for limit in ("0", "-1"):
        r, _ = srv.query_range('{app="probe"}', limit=limit)
        assert_plain(r, 400, "limit must be a positive value", f"limit={limit}")
    r, _ = srv.query_range('{app="probe"}', limit=5000)
    assert values_of(r) == [PROBE_LINE]
    assert_serving(srv, "limits")


def test_max_query_series(srv):
    """600 streams, a metric query without grouping -> 400 with the max-series message (default
    max_query_series 500); grouped down to one series it answers with the exact count."""
    ts = srv.t0 - 20 * S
    streams = [{"stream": {"app": "card", "card": str(i)}, "values": [[ts + i, f"card {i}"]]}
               for i in range(600)]
    r = srv.s.push_json(streams)
    assert r.status_code == 204, (r.status_code, r.text)
    series_msg = "maximum number of series (500) reached for a single query"

    r, took = srv.query_range('count_over_time({app=~".+"}[1m])', step="15")
    assert_plain(r, 400, series_msg, "range, app=~.+")
    assert took < 5, took
    assert_serving(srv, "max series (range)")
    r, _ = srv.instant('count_over_time({app=~".+"}[1m])')
    assert_plain(r, 400, series_msg, "instant, app=~.+")
    r, _ = srv.instant('count_over_time({app="card"}[1m])')
    assert_plain(r, 400, series_msg, "instant, app=card")
    assert_serving(srv, "max series (instant)")

    r, _ = srv.instant('sum(count_over_time({app="card"}[1m]))')
    assert r.status_code == 200, r.text[:300]
    assert [v["value"][1] for v in r.json()["data"]["result"]] == ["600"]
    r, _ = srv.instant('count(count_over_time({app="card"}[1m]))')
    assert [v["value"][1] for v in r.json()["data"]["result"]] == ["600"]
    # 500 series exactly is allowed.
    r, _ = srv.instant('count_over_time({app="card", card=~"[0-4]?[0-9]?[0-9]"}[1m])')
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["data"]["result"]) == 500


# --- query_timeout --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tsrv(module_sluice_factory, tmp_path_factory):
    """A server with auth on and per-tenant query_timeout overrides (runtime config): tenant
    `tight` 1ms, tenant `short` 1s; tenant `probe` keeps the default (1m)."""
    rt = tmp_path_factory.mktemp("badq-runtime") / "runtime.yaml"
    rt.write_text(yaml.safe_dump({"overrides": {"tight": {"query_timeout": "1ms"},
                                                "short": {"query_timeout": "1s"}}}))
    s = module_sluice_factory(flags=RATE_FLAGS + ("-auth_enabled=true", f"-runtime-config.file={rt}"),
                              name="bad-queries-timeout")
    t0 = pf.now_ns() - 30 * S
    r = s.push_json([{"stream": {"app": "probe"}, "values": [[t0, PROBE_LINE]]}], tenant="probe")
    assert r.status_code == 204, (r.status_code, r.text)
    server = Server(s, "probe", t0)
    assert_serving(server, "start-up")
    return server


def test_query_timeout_is_504(tsrv):
    """200,000 lines in one stream, a filter that matches none: past a 1ms query_timeout the scan
    stops with Loki's 504 text (log and metric queries alike)."""
    base = tsrv.t0 - 50 * S
    for chunk in range(4):
        values = [[base + (chunk * 50_000 + i) * 1000, f"line {chunk * 50_000 + i} level=info msg=hello"]
                  for i in range(50_000)]
        r = tsrv.s.push_json([{"stream": {"app": "big"}, "values": values}], tenant="tight")
        assert r.status_code == 204, (r.status_code, r.text)

    r, took = tsrv.query_range('{app="big"} |= "no-such-needle"', tenant="tight")
    assert_plain(r, 504, TIMEOUT_TEXT, "log query past query_timeout")
    assert took < 5, took
    assert_serving(tsrv, "504 (log)")
    r, took = tsrv.query_range('count_over_time({app="big"} |= "no-such-needle" [5m])', tenant="tight",
                               step="60")
    assert_plain(r, 504, TIMEOUT_TEXT, "metric query past query_timeout")
    assert_serving(tsrv, "504 (metric)")  # tenant `probe` (default timeout) is unaffected
    # The timeouts were not for lack of data: all 200,000 lines were accepted.
    assert tsrv.s.metric("loki_distributor_lines_received_total", tenant="tight") == 200_000


def test_expensive_regex_is_cut_by_query_timeout(tsrv):
    """`(.*a){1000}` compiles in RE2 but its DFA blows its cache, so each 3,000-character line
    costs a slow NFA pass (~0.06 s each here: 48 lines take about 3 s to scan, so the query
    cannot finish inside the limit on a fast idle machine either). Tenant `short` has
    query_timeout=1s: the query must end with 504 (or be refused up front with 400) well within
    5 s, not run to completion."""
    values = [[tsrv.t0 - (50 - i) * S, "a" * 3000 + "!"] for i in range(48)]
    r = tsrv.s.push_json([{"stream": {"app": "slowre"}, "values": values}], tenant="short")
    assert r.status_code == 204, (r.status_code, r.text)
    r, took = tsrv.query_range('{app="slowre"} |~ "(.*a){1000}"', tenant="short", limit=100,
                               timeout=120)
    assert_serving(tsrv, "expensive regex")
    assert r.status_code in (400, 504) and took < 5, (
        f"query_timeout=1s not enforced: {r.status_code} after {took:.1f}s: {r.text[:200]!r}")
    if r.status_code == 504:
        assert_plain(r, 504, TIMEOUT_TEXT, "expensive regex")
