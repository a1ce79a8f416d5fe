// `pnpm bench`: GET /api/me through the gateway vs straight at the session service vs a bare Fastify
// hello, measured in one run on this machine, reported as ratios (absolute numbers vary between runs).
// Env: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (default 50), BENCH_ROUNDS (default 2).
import { randomBytes } from 'node:crypto'
import { encodeIdentity, type Identity } from '@weapp/common'
import { DEFAULT_SIM_APP, SimControl } from '@weapp/wechat-sim'
import { builtServer } from './lib/built.js'
import { startProcess, stopAll, type Running } from './lib/processes.js'
import { measure, printTable, type Result, type Scenario } from './lib/measure.js'
import { freePort } from '../scripts/redis-server.js'

const durationSec = Number(process.env.BENCH_DURATION ?? 10)
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50)
const rounds = Number(process.env.BENCH_ROUNDS ?? 2)
const internalToken = randomBytes(32).toString('hex')
const root = new URL('..', import.meta.url).pathname

const procs: Running[] = []
try {
  const [helloPort, simPort, sessionPort, gatewayPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const hello = await startProcess('hello', `${root}bench/hello-server.ts`, helloPort, {}, '/')
  procs.push(hello)
  const sim = await startProcess('wechat-sim', builtServer('packages/wechat-sim'), simPort, {})
  procs.push(sim)
  const common = { INTERNAL_TOKEN: internalToken, APP_ID: DEFAULT_SIM_APP.appId, APP_SECRET: DEFAULT_SIM_APP.appSecret, WECHAT_API_BASE: sim.url }
  const session = await startProcess('session', builtServer('services/session'), sessionPort, common)
  procs.push(session)
  const gateway = await startProcess('gateway', builtServer('gateway'), gatewayPort, { ...common, SESSION_URL: session.url })
  procs.push(gateway)

  // One logged-in user, as a mini-program would have after wx.login → POST /api/login.
  const { code } = await new SimControl(sim.url).loginCode({ user: 'bench' })
  const login = await fetch(`${gateway.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
  if (!login.ok) throw new Error(`login failed: ${login.status} ${await login.text()}`)
  const { token } = await login.json() as { token: string }
  const resolved = await fetch(`${session.url}/internal/resolve`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-internal-token': internalToken }, body: JSON.stringify({ bearer: token }) })
  const { identity } = await resolved.json() as { identity: Identity }

  const scenarios: Scenario[] = [
    { name: 'fastify hello', url: `${hello.url}/`, servers: [hello] },
    { name: 'GET /api/me direct', url: `${session.url}/api/me`, headers: { 'x-internal-token': internalToken, 'x-weapp-identity': encodeIdentity(identity) }, servers: [session] },
    { name: 'GET /api/me via gateway', url: `${gateway.url}/api/me`, headers: { authorization: `Bearer ${token}` }, servers: [gateway, session] }
  ]
  for (const s of scenarios) {
    const res = await fetch(s.url, { headers: s.headers })
    if (!res.ok) throw new Error(`${s.name}: ${res.status} ${await res.text()}`)
  }

  console.log(`${rounds} round(s) of ${durationSec}s per scenario, ${connections} connections, on ${(await import('node:os')).cpus().length} cores`)
  const best = new Map<string, Result>()
  for (let round = 0; round < rounds; round++) {
    for (const s of scenarios) {
      await measure(s, { connections, durationSec: 2 }) // warm-up: JIT, pools, caches
      const r = await measure(s, { connections, durationSec })
      const prev = best.get(s.name)
      if (prev === undefined || r.reqPerSec > prev.reqPerSec) best.set(s.name, r)
    }
  }
  const results = [...best.values()]
  printTable(results)
  const [hello_, direct, viaGateway] = results as [Result, Result, Result]
  const ratio = (a: Result, b: Result): string => (a.reqPerSec / b.reqPerSec).toFixed(2)
  console.log(`gateway / direct throughput: ${ratio(viaGateway, direct)}x (goal >= 0.35x)`)
  console.log(`direct / hello throughput:   ${ratio(direct, hello_)}x`)
  console.log(`gateway / hello throughput:  ${ratio(viaGateway, hello_)}x`)
  console.log(`gateway process CPU per request: ${(viaGateway.cpuByProcess.gateway ?? 0).toFixed(1)} µs (hello: ${hello_.cpuUsPerReq.toFixed(1)} µs)`)
} finally {
  await stopAll(procs)
}
