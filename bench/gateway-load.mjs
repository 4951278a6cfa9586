// A closed-loop HTTP load generator for bench/gateway.sh: CONCURRENCY
// keep-alive clients each send GET requests back to back for SECONDS, and
// it prints one JSON line {requests_per_second, p50_ms, p99_ms, errors}.
// The same client measures the dev server straight and through the
// gateway, so its own cost is in both figures alike.
//
// Usage: node gateway-load.mjs URL [HOST]; env CONCURRENCY (16), LOAD_SECONDS (5).

import http from 'node:http'

const [url, host] = process.argv.slice(2)
const concurrency = Number(process.env.CONCURRENCY ?? 16)
const seconds = Number(process.env.LOAD_SECONDS ?? 5)
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
const target = new URL(url)

function once() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const request = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, agent, headers: host ? { host } : {} },
      (response) => {
        response.resume()
        response.on('end', () => resolve({ ok: response.statusCode === 200, ns: process.hrtime.bigint() - started }))
      },
    )
    request.on('error', () => resolve({ ok: false, ns: process.hrtime.bigint() - started }))
    request.end()
  })
}

const latencies = []
let errors = 0
const deadline = Date.now() + seconds * 1000
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (Date.now() < deadline) {
      const { ok, ns } = await once()
      if (ok) latencies.push(Number(ns) / 1e6)
      else errors += 1
    }
  }),
)
agent.destroy()
latencies.sort((a, b) => a - b)
const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
console.log(JSON.stringify({
  requests_per_second: Math.round(latencies.length / seconds),
  p50_ms: Number(at(0.5).toFixed(2)),
  p99_ms: Number(at(0.99).toFixed(2)),
  errors,
}))
