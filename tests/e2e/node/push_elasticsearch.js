'use strict'
// Indexes numbered documents into sluice through the official Elasticsearch JavaScript client
// (@elastic/elasticsearch 8) and its bulk helper, client.helpers.bulk, against sluice's
// /insert/elasticsearch endpoints. Driven by tests/e2e/test_elasticsearch.py with one JSON
// argument:
//   { url, tenant, count, prefix, service, index, t0Ms?, compression: "gzip"|"none",
//     headers?: {..}, query?: {..}, concurrency? }
// Document i is stamped t0Ms + i (t0Ms defaults to the time the documents are built);
// `concurrency` is the helper's number of bulk requests in flight (default 2; 1 keeps the
// documents in order on the wire).
// `query` entries are passed to the helper as bulk options, which the client sends as query
// parameters (_stream_fields, _msg_field, ...); `headers` go on every request (VL-* headers).
// Prints one JSON summary line on stdout: the info() answer, the helper's stats, dropped
// documents and what the client sent; exits 1 if anything failed.
const { Client } = require('@elastic/elasticsearch')

async function main () {
  const cfg = JSON.parse(process.argv[2])
  const client = new Client({
    node: cfg.url,
    headers: { 'X-Scope-OrgID': cfg.tenant, ...(cfg.headers || {}) },
    compression: cfg.compression === 'gzip',
    requestTimeout: 10000,
    maxRetries: 0
  })
  const requests = []
  client.diagnostic.on('request', (err, result) => {
    const p = result && result.meta && result.meta.request && result.meta.request.params
    if (p) {
      requests.push({ method: p.method, path: p.path, querystring: p.querystring || '', headers: p.headers || {}, error: err ? String(err.message) : null })
    }
  })

  // The client's own product check runs on this answer too (X-Elastic-Product).
  const info = await client.info()

  const docs = []
  const t0Ms = cfg.t0Ms === undefined ? Date.now() : cfg.t0Ms
  for (let i = 0; i < cfg.count; i++) {
    docs.push({
      '@timestamp': new Date(t0Ms + i).toISOString(),
      message: `${cfg.prefix} ${i}`,
      service: { name: cfg.service },
      host: { name: 'es-host' },
      log: { level: i % 10 === 0 ? 'error' : 'info' },
      seq: i,
      tags: ['a', 'b']
    })
  }
  const dropped = []
  const stats = await client.helpers.bulk({
    datasource: docs,
    onDocument: () => ({ create: { _index: cfg.index } }),
    onDrop: d => dropped.push({ status: d.status, error: d.error }),
    flushBytes: 4000,
    concurrency: cfg.concurrency || 2,
    retries: 0,
    ...(cfg.query || {})
  })
  await client.close()
  const summary = {
    version: info.version.number,
    stats: { total: stats.total, successful: stats.successful, failed: stats.failed, aborted: stats.aborted },
    dropped,
    requests
  }
  console.log(JSON.stringify(summary))
  process.exit(stats.failed || dropped.length ? 1 : 0)
}

setTimeout(() => { console.error('push_elasticsearch.js: timed out'); process.exit(2) }, 30000).unref()
main().catch(err => { console.error(err); process.exit(1) })
