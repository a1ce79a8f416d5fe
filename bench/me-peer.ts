// `npx tsx bench/me-peer.ts`: `GET /me` through the gateway against the tutorial's own server (the seed peer,
// bench/peers/seed: Express + wafer-node-session), same machine, same run (issue 17's `/me` goal: ≥ 2× on the
// dev default). Wafer gen-1 `/me` (X-WX-Id / X-WX-Skey) and bearer `/api/me` through the compiled gateway
// and session service, the seed's `/me` with its own gen-1 session, rounds interleaved; per scenario the
// median req/s, and the CPU µs per request of each server process (robust on a loaded machine where req/s
// is not). `BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof'` profiles every server process
// (bench/lib/cpu-profile-summary.ts prints where the time went).
// Env: BENCH_DURATION (s, default 5), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 3),
// BENCH_SCENARIOS (comma-separated names to run, default all).
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { DEFAULT_SIM_APP, SimControl } from '@weapp/wechat-sim'
import { builtServer } from './lib/built.js'
import { measure, type Result, type Scenario } from './lib/measure.js'
import { startProcess, stopAll, type Running } from './lib/processes.js'
import { startSeed, waferLogin, waferMe } from './lib/seed-peer.js'
import { freePort } from '../scripts/redis-server.js'

const durationSec = Number(process.env.BENCH_DURATION ?? 5)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const only = process.env.BENCH_SCENARIOS?.split(',').filter((s) => s !== '')
const internalToken = randomBytes(32).toString('hex')

/** read + write syscalls a process made so far (/proc/<pid>/io): on loopback each write is a trip through the TCP stack. */
function syscalls (pid: number): number {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8')
  return Number(/syscr: (\d+)/.exec(io)?.[1]) + Number(/syscw: (\d+)/.exec(io)?.[1])
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const procs: Running[] = []
try {
  const [simPort, sessionPort, gatewayPort, seedPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const sim = await startProcess('wechat-sim', builtServer('packages/wechat-sim'), simPort, {})
  procs.push(sim)
  const app = { APP_ID: DEFAULT_SIM_APP.appId, APP_SECRET: DEFAULT_SIM_APP.appSecret, WECHAT_API_BASE: sim.url }
  const common = { INTERNAL_TOKEN: internalToken, ...app }
  const session = await startProcess('session', builtServer('services/session'), sessionPort, common)
  procs.push(session)
  const gateway = await startProcess('gateway', builtServer('gateway'), gatewayPort, { ...common, SESSION_URL: session.url })
  procs.push(gateway)
  const seed = await startSeed('seed', seedPort, { wechatApiBase: sim.url, appId: app.APP_ID, appSecret: app.APP_SECRET })
  procs.push(seed)

  // One user per client kind, logged in as its client would: the wafer gen-1 SDK against the seed and
  // against the gateway, a bearer client through POST /api/login.
  const simControl = new SimControl(sim.url)
  const seedSession = await waferLogin(seed.url, simControl, 'seed-me')
  await waferMe(seed.url, seedSession)
  const ourSession = await waferLogin(gateway.url, simControl, 'gateway-me')
  await waferMe(gateway.url, ourSession)
  const { code } = await simControl.loginCode({ user: 'gateway-bearer' })
  const login = await fetch(`${gateway.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
  if (!login.ok) throw new Error(`bearer login failed: ${login.status} ${await login.text()}`)
  const { token } = await login.json() as { token: string }

  const all: Scenario[] = [
    { name: 'seed /me (wafer gen-1)', url: `${seed.url}/me`, headers: { 'x-wx-id': seedSession.id, 'x-wx-skey': seedSession.skey }, servers: [seed] },
    { name: 'gateway /me (wafer gen-1)', url: `${gateway.url}/me`, headers: { 'x-wx-id': ourSession.id, 'x-wx-skey': ourSession.skey }, servers: [gateway, session] },
    { name: 'gateway /api/me (bearer)', url: `${gateway.url}/api/me`, headers: { authorization: `Bearer ${token}` }, servers: [gateway, session] }
  ]
  const scenarios = only === undefined ? all : all.filter((s) => only.some((o) => s.name.includes(o)))
  for (const s of scenarios) {
    const res = await fetch(s.url, { headers: s.headers })
    const body = await res.text()
    if (!res.ok || (!body.includes('openid') && !body.includes('openId'))) throw new Error(`${s.name}: ${res.status} ${body}`)
  }

  console.log(`${rounds} round(s) of ${durationSec} s per scenario, ${connections} connections, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)
  const byName = new Map<string, Result[]>(scenarios.map((s) => [s.name, []]))
  const syscallsByName = new Map<string, Array<Record<string, number>>>(scenarios.map((s) => [s.name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const s of scenarios) {
      await measure(s, { connections, durationSec: 1 }) // warm-up: JIT, pools, caches
      const before = s.servers.map((p) => syscalls(p.child.pid!))
      const loaderBefore = process.cpuUsage()
      const r = await measure(s, { connections, durationSec })
      const loader = process.cpuUsage(loaderBefore)
      const requests = Math.max(r.reqPerSec * durationSec, 1)
      const perRequest = Object.fromEntries(s.servers.map((p, i) => [p.name, (syscalls(p.child.pid!) - before[i]!) / requests]))
      // The load generator (autocannon, in this process) shares the 2 cores: its CPU bounds the throughput too.
      const loaderUs = (loader.user + loader.system) / requests
      byName.get(s.name)!.push(r)
      syscallsByName.get(s.name)!.push(perRequest)
      const cpu = Object.entries(r.cpuByProcess).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')
      const sys = Object.entries(perRequest).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')
      console.log(`round ${round + 1} ${s.name}: ${Math.round(r.reqPerSec)} req/s, CPU µs/req ${cpu}, syscalls/req ${sys}, loader CPU µs/req ${loaderUs.toFixed(1)}, errors/non2xx ${r.errors}/${r.non2xx}`)
    }
  }
  console.log(`load average at the end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`)

  const seedResults = byName.get(all[0]!.name)
  const rows = [...byName].map(([name, results]) => {
    const processes = Object.keys(results[0]!.cpuByProcess)
    const row: Record<string, string | number> = {
      scenario: name,
      'req/s (median)': Math.round(median(results.map((r) => r.reqPerSec))),
      'p99 ms (median)': median(results.map((r) => r.p99)),
      'CPU µs/req (median, by process)': processes.map((p) => `${p} ${median(results.map((r) => r.cpuByProcess[p]!)).toFixed(1)}`).join(', '),
      'CPU µs/req total': median(results.map((r) => r.cpuUsPerReq)).toFixed(1),
      'syscalls/req (median)': processes.map((p) => `${p} ${median(syscallsByName.get(name)!.map((x) => x[p]!)).toFixed(2)}`).join(', ')
    }
    // Same-round ratios: the seed's throughput and CPU per request in the round the scenario ran in.
    if (seedResults !== undefined && seedResults.length === results.length) {
      row['÷ seed req/s (median of rounds)'] = median(results.map((r, i) => r.reqPerSec / seedResults[i]!.reqPerSec)).toFixed(2)
      row['seed CPU ÷ ours (median of rounds)'] = median(results.map((r, i) => seedResults[i]!.cpuUsPerReq / r.cpuUsPerReq)).toFixed(2)
    }
    return row
  })
  console.table(rows)
} finally {
  await stopAll(procs)
}
