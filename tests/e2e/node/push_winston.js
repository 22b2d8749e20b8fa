'use strict'
// Pushes numbered lines to a Loki-compatible server through winston + winston-loki, then flushes
// and exits. Driven by tests/e2e/test_clients.py with one JSON argument:
//   { url, tenant?, count, prefix, labels, json, interval, meta, groups }
// Prints one JSON summary line on stdout; exits 1 if the transport reported a push error.
const winston = require('winston')
const LokiTransport = require('winston-loki')

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function main () {
  const cfg = JSON.parse(process.argv[2])
  const errors = []
  const transport = new LokiTransport({
    host: cfg.url,
    labels: cfg.labels,
    json: cfg.json,
    interval: cfg.interval,
    batching: true,
    headers: cfg.tenant ? { 'X-Scope-OrgID': cfg.tenant } : {},
    // The line is the message alone (the default format appends a space and the meta as JSON).
    format: winston.format.printf(info => info.message),
    gracefulShutdown: false,
    timeout: 10000,
    onConnectionError: err => errors.push(String((err && err.message) || err))
  })
  const logger = winston.createLogger({ level: 'info', transports: [transport] })

  let logged = 0
  const allLogged = new Promise(resolve => {
    transport.on('logged', () => { if (++logged === cfg.count) resolve() })
  })
  // Lines go out in `groups` bursts with a pause longer than the batching interval between
  // them, so the client sends several pushes.
  const perGroup = Math.ceil(cfg.count / (cfg.groups || 1))
  for (let i = 0; i < cfg.count; i++) {
    if (i > 0 && i % perGroup === 0) await sleep(cfg.interval * 1000 + 150)
    const meta = cfg.meta ? { seq: String(i) } : {}
    logger.info(`${cfg.prefix} ${i}`, meta)
  }
  await allLogged
  // Stops the batching loop and sends whatever is still batched.
  await transport.close()
  const usedJson = transport.batcher.options.json === true
  console.log(JSON.stringify({ sent: logged, json: usedJson, errors }))
  process.exit(errors.length ? 1 : 0)
}

setTimeout(() => { console.error('push_winston.js: timed out'); process.exit(2) }, 30000).unref()
main().catch(err => { console.error(err); process.exit(1) })
