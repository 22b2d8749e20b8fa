'use strict'
// Emits numbered log records through the OpenTelemetry JS logs SDK and one of its OTLP/HTTP
// exporters (JSON or protobuf) to sluice's /otlp/v1/logs, then flushes and exits. Driven by
// tests/e2e/test_otlp.py with one JSON argument:
//   { url, tenant?, exporter: "json"|"proto", compression: "gzip"|"none", count, prefix,
//     resource: {..}, attributes: {..}, traceId, spanId }
// Prints one JSON summary line on stdout; exits 1 if any export failed.
const { SeverityNumber } = require('@opentelemetry/api-logs')
const { ROOT_CONTEXT, trace, TraceFlags } = require('@opentelemetry/api')
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs')
const { resourceFromAttributes } = require('@opentelemetry/resources')
const { OTLPLogExporter: JsonExporter } = require('@opentelemetry/exporter-logs-otlp-http')
const { OTLPLogExporter: ProtoExporter } = require('@opentelemetry/exporter-logs-otlp-proto')

async function main () {
  const cfg = JSON.parse(process.argv[2])
  const Exporter = cfg.exporter === 'proto' ? ProtoExporter : JsonExporter
  const exporter = new Exporter({
    url: cfg.url,
    headers: cfg.tenant ? { 'X-Scope-OrgID': cfg.tenant } : {},
    compression: cfg.compression || 'none',
    timeoutMillis: 10000
  })
  // Every export's result, so a refused push fails the run instead of vanishing in diag logs.
  const results = []
  const exportOnce = exporter.export.bind(exporter)
  exporter.export = (logs, done) => exportOnce(logs, result => {
    results.push({ code: result.code, error: result.error ? String(result.error.message || result.error) : null, records: logs.length })
    done(result)
  })

  const provider = new LoggerProvider({
    resource: resourceFromAttributes(cfg.resource),
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 50, scheduledDelayMillis: 100 })]
  })
  const logger = provider.getLogger('sluice-e2e', '1.2.3')
  const spanContext = { traceId: cfg.traceId, spanId: cfg.spanId, traceFlags: TraceFlags.SAMPLED }
  const context = trace.setSpanContext(ROOT_CONTEXT, spanContext)
  for (let i = 0; i < cfg.count; i++) {
    const error = i % 10 === 0
    logger.emit({
      severityNumber: error ? SeverityNumber.ERROR : SeverityNumber.INFO,
      severityText: error ? 'ERROR' : 'INFO',
      body: `${cfg.prefix} ${i}`,
      attributes: { ...cfg.attributes, seq: i },
      context
    })
  }
  await provider.forceFlush()
  await provider.shutdown()
  const failed = results.filter(r => r.code !== 0)
  const sent = results.filter(r => r.code === 0).reduce((n, r) => n + r.records, 0)
  console.log(JSON.stringify({ sent, exports: results.length, errors: failed }))
  process.exit(failed.length ? 1 : 0)
}

setTimeout(() => { console.error('push_otel.js: timed out'); process.exit(2) }, 30000).unref()
main().catch(err => { console.error(err); process.exit(1) })
