'use strict'
// Reads from a Loki-compatible server through @myunisoft/loki (a Node.js Grafana/Loki SDK), the
// way an application that inspects its own logs uses it. Driven by tests/e2e/test_query_client.py
// with one JSON argument:
//   { url, start, end, filterQuery, metricQuery, metricStart, metricEnd, step, selector,
//     labelName, labelQuery, badQuery }
// start/end are Unix nanosecond strings (the SDK passes numeric strings through untouched; a
// Number would lose precision past 2^53). Every call's result, or the error it threw, is printed
// as one JSON object on stdout; the Python test asserts the values.
const { GrafanaApi } = require('@myunisoft/loki')

// Runs one SDK call; an HTTP error (httpie's HttpieOnHttpError) is reported with its status and
// body instead of aborting the run, so the test sees which call failed and why.
async function attempt (fn) {
  try {
    return { ok: true, value: await fn() }
  } catch (err) {
    return {
      ok: false,
      name: err && err.name,
      message: err && err.message,
      statusCode: err && err.statusCode,
      data: err && typeof err.data !== 'undefined' ? err.data : null
    }
  }
}

async function main () {
  const cfg = JSON.parse(process.argv[2])
  const api = new GrafanaApi({ remoteApiURL: cfg.url, userAgent: 'sluice-e2e-query-client' })
  const loki = api.Loki
  const range = { start: cfg.start, end: cfg.end }
  const out = {}

  // queryRange: every matching line, newest first, flattened across streams.
  out.queryRange = await attempt(async () => {
    const r = await loki.queryRange(cfg.filterQuery, { ...range, limit: 1000 })
    return { logs: r.logs, hasTimerange: r.timerange !== null }
  })

  // queryRangeStream: the same query, kept per stream with labels and timestamps.
  out.queryRangeStream = await attempt(async () => {
    const r = await loki.queryRangeStream(cfg.filterQuery, { ...range, limit: 1000 })
    return { streams: r.streams }
  })

  // queryRangeStream with a limit: the server's backward default returns the newest lines.
  out.queryRangeLimited = await attempt(async () => {
    const r = await loki.queryRangeStream(cfg.selector, { ...range, limit: 2 })
    return { streams: r.streams }
  })

  // queryRangeMatrix: a metric query (the SDK refuses log queries here, so this also checks
  // its own LogQL classification accepts the query as a metric one).
  out.queryRangeMatrix = await attempt(async () => {
    const r = await loki.queryRangeMatrix(cfg.metricQuery,
      { start: cfg.metricStart, end: cfg.metricEnd, step: cfg.step })
    return { metrics: r.metrics }
  })

  out.labels = await attempt(() => loki.labels(range))
  out.labelValues = await attempt(() => loki.labelValues(cfg.labelName, range))
  out.labelValuesQuery = await attempt(() =>
    loki.labelValues(cfg.labelName, { ...range, query: cfg.labelQuery }))

  // series sends `match=<selector>` (not match[]) and no time range: the server's defaults.
  out.series = await attempt(() => loki.series(cfg.selector))

  // A query the server must refuse: the SDK throws, carrying the status and the plain-text body.
  out.badQuery = await attempt(() => loki.queryRange(cfg.badQuery, range))

  console.log(JSON.stringify(out))
}

setTimeout(() => { console.error('query_client.js: timed out'); process.exit(2) }, 30000).unref()
main().catch(err => { console.error(err); process.exit(1) })
