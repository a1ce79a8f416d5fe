import autocannon from 'autocannon'
import { cpuMicros, type Running } from './processes.js'

export interface Scenario {
  name: string
  url: string
  headers?: Record<string, string>
  /** Processes whose CPU time counts as "server CPU" for this scenario. */
  servers: Running[]
}

export interface Result {
  name: string
  reqPerSec: number
  p50: number
  p99: number
  errors: number
  non2xx: number
  /** Server CPU per request, summed over the scenario's server processes, and per process. */
  cpuUsPerReq: number
  cpuByProcess: Record<string, number>
}

export interface LoadOptions {
  connections: number
  durationSec: number
  pipelining?: number
}

export async function measure (scenario: Scenario, opts: LoadOptions): Promise<Result> {
  const before = scenario.servers.map((s) => cpuMicros(s.child.pid as number))
  const result = await autocannon({
    url: scenario.url,
    headers: scenario.headers,
    connections: opts.connections,
    duration: opts.durationSec,
    pipelining: opts.pipelining ?? 1
  })
  const after = scenario.servers.map((s) => cpuMicros(s.child.pid as number))
  const requests = result.requests.total
  const cpuByProcess: Record<string, number> = {}
  let total = 0
  scenario.servers.forEach((s, i) => {
    const us = ((after[i] ?? 0) - (before[i] ?? 0)) / Math.max(requests, 1)
    cpuByProcess[s.name] = us
    total += us
  })
  return {
    name: scenario.name,
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpuUsPerReq: total,
    cpuByProcess
  }
}

export function printTable (results: Result[]): void {
  const rows = results.map((r) => ({
    scenario: r.name,
    'req/s': Math.round(r.reqPerSec),
    'p50 ms': r.p50,
    'p99 ms': r.p99,
    'server CPU µs/req': r.cpuUsPerReq.toFixed(1),
    'by process': Object.entries(r.cpuByProcess).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '),
    'errors/non2xx': `${r.errors}/${r.non2xx}`
  }))
  console.table(rows)
}
