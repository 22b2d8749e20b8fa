'use strict'
// Pushes numbered lines to a Loki-compatible server through pino + pino-loki (run as a pino
// worker-thread transport, the way applications use it), then ends the transport and exits.
// Driven by tests/e2e/test_clients.py with one JSON argument:
//   { url, tenant?, count, prefix, labels, interval, meta, groups }
// Prints one JSON summary line on stdout. pino-loki reports push failures only on stderr, which
// the test checks.
const pino = require('pino')

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function main () {
  const cfg = JSON.parse(process.argv[2])
  const transport = pino.transport({
    target: 'pino-loki',
    options: {
      host: cfg.url,
      headers: cfg.tenant ? { 'X-Scope-OrgID': cfg.tenant } : {},
      labels: cfg.labels,
      batching: { interval: cfg.interval },
      timeout: 10000
    }
  })
  // pino unrefs the worker when it reports ready; ending before that (a slow start on a loaded
  // machine) would see that unref undo ours below and Node exit before the final push, silently.
  const ready = new Promise(resolve => transport.once('ready', resolve))
  const logger = pino({ base: { pid: process.pid, hostname: 'e2e-host' } }, transport)
  // Lines go out in `groups` bursts with a pause longer than the batching interval between
  // them, so the client sends several pushes.
  const perGroup = Math.ceil(cfg.count / (cfg.groups || 1))
  for (let i = 0; i < cfg.count; i++) {
    if (i > 0 && i % perGroup === 0) await sleep(cfg.interval * 1000 + 150)
    const fields = cfg.meta ? { meta: { seq: i, tag: 'e2e' } } : {}
    logger.info(fields, `${cfg.prefix} ${i}`)
  }
  // Ending the transport runs pino-loki's close(), which pushes the remaining buffer; 'close'
  // fires once the worker thread has exited. pino unrefs the worker once it is ready, so ref it
  // again or Node would exit before the final push (as pino's own exit handler does).
  await ready
  await new Promise((resolve, reject) => {
    transport.once('close', resolve)
    transport.once('error', reject)
    transport.ref()
    transport.end()
  })
  console.log(JSON.stringify({ sent: cfg.count }))
}

setTimeout(() => { console.error('push_pino.js: timed out'); process.exit(2) }, 30000).unref()
main().catch(err => { console.error(err); process.exit(1) })
