// `pnpm bench:peers`: this project against what a team would run instead, same machine, same run
// (issue 17): the seed tutorial's server (bench/peers/seed: Express + wafer-node-session + ws, sessions in
// Redis through connect-redis) and, for the push callback, node-webot's `wechat` middleware on Express
// (bench/peers/webot). This project runs as `npm run up` with REDIS_URL (scripts/system.ts: simulator,
// session, cs-messaging, realtime-ws, gateway, bundled), the cs worker off (the push flow measures the
// callback: de-dup and the durable enqueue, as bench:push does).
//
// Flows, each on both paths: `dev` (loopback, the gateway's port against the seed's) and `nginx` (TLS on
// the same machine: our nginx/ configuration against the tutorial's ssl.conf modernized, one worker each,
// bench/lib/peers-nginx.ts). Rounds interleave the sides; a ratio is the median of the per-round ratios.
//   login   wafer gen-1 logins (simulator code + encrypted userInfo → session), a fixed number per side
//   me      GET /me with X-WX-Id/X-WX-Skey (both), GET /api/me with a bearer (ours, against the seed's /me)
//   ws      /ws: sockets opened (the greeting counted) and a closed echo loop, per kind of client: ours with
//           a bearer header, a ticket, the wafer session in the query; the seed's session in the query
//   idle    N idle sockets (wafer session in the query): RSS growth of every server process ÷ N
//   push    safe-mode XML pushes: ours (signatures, AES, the atomic de-dup + enqueue in Redis) against
//           node-webot's (msg_signature, AES, XML, an empty answer)
// CPU per request of every process on the path is printed for each flow (user + system time from /proc).
//
// Flags: --duration (s per measured run, 3), --rounds (2), --only (login,me,ws,idle,push), --paths
// (dev,nginx), --connections (HTTP, 50), --ws-connections (100), --logins (per side and run, 200),
// --idle (sockets, 2000), --webot-reply (empty|text). REDIS_URL: else a throw-away redis-server.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { SimControl, buildPush } from '@weapp/wechat-sim'
import { cpuMicros, inPool, stopAll, type Running } from './lib/processes.js'
import { rssMb } from './lib/memory.js'
import { httpRequest, peerLoad } from './lib/peers-load.js'
import { NginxProcess, makeCert, nginxMissing, renderOurNginx, seedNginxConf } from './lib/peers-nginx.js'
import { startWebot } from './lib/peers-webot.js'
import { startSeed } from './lib/seed-peer.js'
import { ClientPool, type OpenSpec } from './lib/ws-clients.js'
import { askRedis, freePort, envOrLocalRedis, type LocalRedis } from '../scripts/redis-server.js'
import { startSystem, type RunningSystem } from '../scripts/system.js'

// ---------- options ----------
function option (flag: string, fallback: string): string {
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === `--${flag}`) return argv[i + 1] ?? fallback
    if (a.startsWith(`--${flag}=`)) return a.slice(flag.length + 3)
  }
  return fallback
}
const FLOWS = ['login', 'me', 'ws', 'idle', 'push'] as const
type Flow = typeof FLOWS[number]
const durationSec = Number(option('duration', '3'))
const rounds = Number(option('rounds', '2'))
const only = new Set(option('only', FLOWS.join(',')).split(',').filter((s) => s !== ''))
for (const f of only) if (!(FLOWS as readonly string[]).includes(f)) throw new Error(`--only: unknown flow ${f} (have ${FLOWS.join(', ')})`)
const connections = Number(option('connections', '50'))
const wsConnections = Number(option('ws-connections', '100'))
const loginsPerRun = Number(option('logins', '200'))
const idleSockets = Number(option('idle', '2000'))
const webotReply = option('webot-reply', 'empty') === 'text' ? 'text' : 'empty'
let paths = option('paths', 'dev,nginx').split(',').filter((s) => s === 'dev' || s === 'nginx') as Path[]
const WARM_SEC = 0.5
// Sockets per user: realtime-ws allows MAX_CONNECTIONS_PER_USER (5 by default) per user; raised for the
// bench so that a few hundred logins give thousands of idle sockets (the cap costs nothing per socket).
const MAX_CONNECTIONS_PER_USER = 50
const USER_CAP = 40
const IDLE_WARM = 200
const ECHO_MESSAGE = 'hello from the peers bench 0123456789'
const runs = (flow: Flow): boolean => only.has(flow)

type Path = 'dev' | 'nginx'
/** A process (or nginx's master and worker) whose CPU counts. */
interface Proc { name: string, pids: () => number[] }
interface Sample { flow: string, path: Path, side: string, round: number, rate: number, count: number, p50: number, p99: number, bad: number, cpuUs: Record<string, number> }

const samples: Sample[] = []
const idleRows: Array<{ path: Path, side: string, sockets: number, kbPerSocket: number, byProcess: Record<string, number> }> = []
const tmp = mkdtempSync(join(tmpdir(), 'weapp-bench-peers-'))
const running: Running[] = []
const nginxes: NginxProcess[] = []
let system: RunningSystem | undefined
let localRedis: LocalRedis | null = null
let clients: ClientPool | undefined

function cpuOf (procs: Proc[]): number[] {
  return procs.map((p) => p.pids().reduce((s, pid) => { try { return s + cpuMicros(pid) } catch { return s } }, 0))
}
async function withCpu<R> (procs: Proc[], run: () => Promise<R>): Promise<{ result: R, cpuUs: Record<string, number> }> {
  const before = cpuOf(procs)
  const result = await run()
  const after = cpuOf(procs)
  const cpuUs: Record<string, number> = {}
  procs.forEach((p, i) => { cpuUs[p.name] = after[i]! - before[i]! })
  return { result, cpuUs }
}
async function distinctFreePorts (n: 3): Promise<[number, number, number]> {
  const ports = new Set<number>()
  while (ports.size < n) ports.add(await freePort())
  return [...ports] as [number, number, number]
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const benchStarted = performance.now()
const loadAtStart = loadavg()
async function cleanup (): Promise<void> {
  clients?.stop()
  await Promise.all(nginxes.map(async (n) => { await n.stop() }))
  await stopAll(running)
  await system?.stop()
  await localRedis?.stop()
  rmSync(tmp, { recursive: true, force: true })
}
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })

try {
  const redis = await envOrLocalRedis()
  localRedis = redis.local
  const redisUrl = redis.url
  const redisPort = Number(new URL(redisUrl).port || 6379)
  const redisPidText = /process_id:(\d+)/.exec(await askRedis(redisPort, 'INFO server'))?.[1]
  const redisPid = redisPidText === undefined ? undefined : Number(redisPidText)
  const redisProc: Proc[] = redisPid === undefined || new URL(redisUrl).hostname !== '127.0.0.1' ? [] : [{ name: 'redis', pids: () => [redisPid] }]

  // ---------- this project: `npm run up` with REDIS_URL ----------
  system = await startSystem({
    output: 'stderr',
    env: { REDIS_URL: redisUrl, LOG_LEVEL: 'warn', APP_ID: `wx${randomBytes(8).toString('hex')}` },
    processEnv: {
      // Every request of the bench comes from one address: the per-address limits on logins and on
      // failed credential lookups (a lookup that times out on a loaded machine counts) would refuse them.
      gateway: { LOGIN_RATE_LIMIT_MAX: '100000000', AUTH_FAILURE_LIMIT_MAX: '100000' },
      cs: { WORKER_ENABLED: 'false' },
      realtime: { MAX_CONNECTIONS_PER_USER: String(MAX_CONNECTIONS_PER_USER), AUTH_FAILURE_LIMIT_MAX: '100000' }
    }
  })
  const sys = system
  const secrets = sys.secrets
  const pidOf = (name: Parameters<RunningSystem['pid']>[0]) => () => { const pid = sys.pid(name); return pid === undefined ? [] : [pid] }
  const ours: Proc[] = [
    { name: 'gateway', pids: pidOf('gateway') },
    { name: 'session', pids: pidOf('session') },
    { name: 'realtime-ws', pids: pidOf('realtime') },
    { name: 'cs-messaging', pids: pidOf('cs') }
  ]
  const simProc: Proc = { name: 'wechat-sim', pids: pidOf('sim') }
  const sim = new SimControl(sys.urls.sim)

  // ---------- the peers ----------
  const prefix = `bench-peers:${randomBytes(4).toString('hex')}:`
  const seedOptions = {
    wechatApiBase: sys.urls.sim,
    appId: secrets.appId,
    appSecret: secrets.appSecret,
    env: { SESSION_STORE: 'redis', REDIS_URL: redisUrl, SESSION_PREFIX: prefix }
  }
  const seedPort = await freePort()
  let seed = await startSeed('seed', seedPort, seedOptions)
  running.push(seed)
  /** A fresh seed process on the same port (its sessions are in Redis). */
  const restartSeed = async (): Promise<void> => {
    await stopAll([seed])
    running.splice(running.indexOf(seed), 1)
    seed = await startSeed('seed', seedPort, seedOptions)
    running.push(seed)
  }
  const webot = await startWebot('webot', await freePort(), { token: secrets.pushToken, encodingAESKey: secrets.aesKey, appId: secrets.appId, reply: webotReply })
  running.push(webot)
  const seedProc: Proc = { name: 'seed', pids: () => [seed.child.pid!] }
  const webotProc: Proc = { name: 'webot', pids: () => [webot.child.pid!] }

  // ---------- nginx in front of each ----------
  let ca: Buffer | undefined
  let caFile: string | undefined
  const origins: Record<Path, { ours: string, seed: string, webot: string }> = {
    dev: { ours: sys.urls.gateway, seed: seed.url, webot: webot.url },
    nginx: { ours: '', seed: '', webot: '' }
  }
  const nginxProcs: Record<Path, { ours: Proc[], seed: Proc[] }> = { dev: { ours: [], seed: [] }, nginx: { ours: [], seed: [] } }
  if (paths.includes('nginx')) {
    const missing = nginxMissing()
    if (missing !== null) {
      console.log(`nginx path skipped: ${missing}`)
      paths = paths.filter((p) => p !== 'nginx')
    } else {
      const { cert, key } = makeCert(join(tmp, 'tls'))
      caFile = cert
      ca = readFileSync(cert)
      const [ourHttps, ourHttp, seedHttps] = await distinctFreePorts(3)
      const ourNginx = new NginxProcess('nginx (ours)', renderOurNginx(join(tmp, 'nginx-ours'), { httpPort: ourHttp, httpsPort: ourHttps, gatewayPort: sys.ports.gateway, realtimePort: sys.ports.realtime, cert, key }), ourHttps)
      const seedNginx = new NginxProcess('nginx (seed)', seedNginxConf(join(tmp, 'nginx-seed'), { httpsPort: seedHttps, seedPort: Number(new URL(seed.url).port), webotPort: Number(new URL(webot.url).port), cert, key }), seedHttps)
      for (const n of [ourNginx, seedNginx]) { await n.start(); nginxes.push(n) }
      origins.nginx = { ours: ourNginx.origin, seed: seedNginx.origin, webot: seedNginx.origin }
      nginxProcs.nginx = { ours: [{ name: 'nginx', pids: () => ourNginx.pids() }], seed: [{ name: 'nginx', pids: () => seedNginx.pids() }] }
    }
  }
  const hostOf = (origin: string): string => new URL(origin).host
  const sideProcs = (path: Path, side: 'ours' | 'seed' | 'webot'): Proc[] => side === 'ours'
    ? [...nginxProcs[path].ours, ...ours, ...redisProc]
    : side === 'seed' ? [...nginxProcs[path].seed, seedProc, ...redisProc] : [...nginxProcs[path].seed, webotProc]

  console.log(`bench:peers: ${cpus().length} cores, load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}; paths ${paths.join(', ')}; flows ${[...only].join(', ')}; ${rounds} rounds of ${durationSec} s; Redis ${redisUrl}; nginx ${paths.includes('nginx') ? 'one worker each' : 'off'}`)

  // ---------- sessions: wafer gen 1 on both sides, bearer tokens on ours ----------
  interface Wafer { id: string, skey: string }
  const wafer: Record<'ours' | 'seed', Wafer[]> = { ours: [], seed: [] }
  let userSeq = 0
  const loginHeaders = async (): Promise<Record<string, string>> => {
    const { code, userInfo } = await sim.loginCode({ user: `peers-${userSeq++}` })
    return { 'X-WX-Code': code, 'X-WX-Encrypted-Data': userInfo.encryptedData, 'X-WX-IV': userInfo.iv }
  }
  /** `count` wafer logins on one side through `origin` (the load measured by the caller). */
  async function waferLogins (side: 'ours' | 'seed', origin: string, count: number, conns: number): Promise<{ load: Awaited<ReturnType<typeof peerLoad>>, bad: number }> {
    const headers = await inPool(Array.from({ length: count }, (_, i) => i), 32, async () => await loginHeaders())
    let next = 0
    let bad = 0
    const load = await peerLoad({
      origin,
      ca,
      connections: conns,
      total: count,
      next: () => next < headers.length ? httpRequest('GET', '/login', hostOf(origin), headers[next++]!) : null,
      onResponse: (status, body) => {
        try {
          const session = (JSON.parse(body) as { session?: Wafer }).session
          if (status === 200 && session !== undefined) { wafer[side].push({ id: session.id, skey: session.skey }); return }
        } catch {}
        bad++
        badExample(status, body)
      }
    })
    return { load, bad }
  }
  async function ensureWafer (count: number): Promise<void> {
    for (const side of ['ours', 'seed'] as const) {
      const missing = count - wafer[side].length
      if (missing > 0) {
        const { bad } = await waferLogins(side, origins.dev[side], missing, 16)
        if (bad > 0) throw new Error(`${bad} of ${missing} wafer logins failed on ${side}`)
      }
    }
  }
  const bearers: string[] = []
  async function ensureBearers (count: number): Promise<void> {
    const more = await inPool(Array.from({ length: count - bearers.length }, (_, i) => i), 16, async () => {
      const { code } = await sim.loginCode({ user: `peers-${userSeq++}` })
      const res = await fetch(`${sys.urls.gateway}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
      if (!res.ok) throw new Error(`bearer login failed: ${res.status} ${await res.text()}`)
      return ((await res.json()) as { token: string }).token
    })
    bearers.push(...more)
  }
  /** The first few answers that were not what the flow expects, printed with the run. */
  const badExamples = new Map<string, number>()
  const badExample = (status: number, body: string): void => {
    const key = `${status} ${body.slice(0, 160)}`
    badExamples.set(key, (badExamples.get(key) ?? 0) + 1)
  }
  const record = (flow: string, path: Path, side: string, round: number, r: { reqPerSec: number, requests: number, p50: number, p99: number, non2xx: number, errors: number }, bad: number, cpuUs: Record<string, number>): Sample => {
    const s: Sample = { flow, path, side, round, rate: r.reqPerSec, count: r.requests, p50: r.p50, p99: r.p99, bad: bad + r.errors, cpuUs }
    samples.push(s)
    console.log(`  ${flow} ${path} round ${round} ${side}: ${Math.round(r.reqPerSec)}/s, p50 ${r.p50} / p99 ${r.p99} ms${s.bad > 0 ? `, ${s.bad} bad` : ''}`)
    for (const [answer, n] of [...badExamples].slice(0, 3)) console.log(`    ${n}× ${answer}`)
    badExamples.clear()
    return s
  }
  /** Rounds alternate which side goes first. */
  const ordered = <T>(round: number, xs: T[]): T[] => round % 2 === 1 ? xs : [...xs].reverse()

  // ---------- login ----------
  if (runs('login')) {
    console.log(`\nlogin: ${loginsPerRun} wafer gen-1 logins per side and run, ${Math.min(connections, 20)} connections`)
    for (let round = 1; round <= rounds; round++) {
      for (const path of paths) {
        for (const side of ordered(round, ['seed', 'ours'] as const)) {
          const procs = [...sideProcs(path, side), simProc]
          const { result, cpuUs } = await withCpu(procs, async () => await waferLogins(side, origins[path][side], loginsPerRun, Math.min(connections, 20)))
          record('login', path, side, round, { ...result.load, non2xx: 0 }, result.bad, cpuUs)
        }
      }
    }
  }

  // ---------- GET /me ----------
  if (runs('me')) {
    await ensureWafer(connections)
    await ensureBearers(connections)
    console.log(`\nme: ${connections} connections, ${durationSec} s per run after ${WARM_SEC} s of warm-up`)
    const variants = [
      { side: 'seed', procs: 'seed' as const, path: '/me', headers: (c: number) => ({ 'X-WX-Id': wafer.seed[c % connections]!.id, 'X-WX-Skey': wafer.seed[c % connections]!.skey }), origin: 'seed' as const },
      { side: 'ours gen-1', procs: 'ours' as const, path: '/me', headers: (c: number) => ({ 'X-WX-Id': wafer.ours[c % connections]!.id, 'X-WX-Skey': wafer.ours[c % connections]!.skey }), origin: 'ours' as const },
      { side: 'ours bearer', procs: 'ours' as const, path: '/api/me', headers: (c: number) => ({ Authorization: `Bearer ${bearers[c % connections]!}` }), origin: 'ours' as const }
    ]
    for (let round = 1; round <= rounds; round++) {
      for (const path of paths) {
        for (const v of ordered(round, variants)) {
          const origin = origins[path][v.origin]
          const requests = Array.from({ length: connections }, (_, c) => httpRequest('GET', v.path, hostOf(origin), v.headers(c)))
          let bad = 0
          const run = async (sec: number): Promise<Awaited<ReturnType<typeof peerLoad>>> => await peerLoad({
            origin, ca, connections, durationSec: sec, next: (c) => requests[c]!, onResponse: (status, body) => { if (status !== 200 || !/"open_?id"/i.test(body)) { bad++; badExample(status, body) } }
          })
          await run(WARM_SEC)
          bad = 0
          const { result, cpuUs } = await withCpu(sideProcs(path, v.procs), async () => await run(durationSec))
          record('me', path, v.side, round, result, bad, cpuUs)
        }
      }
    }
  }

  // ---------- /ws ----------
  const wsOrigin = (origin: string): string => origin.replace(/^http/, 'ws')
  if (runs('ws') || runs('idle')) clients = new ClientPool(2, caFile === undefined ? {} : { NODE_EXTRA_CA_CERTS: caFile })
  const clientProcs: Proc[] = clients?.workers.map((w) => ({ name: w.name, pids: () => [w.pid] })) ?? []
  async function tickets (count: number, offset: number): Promise<string[]> {
    return await inPool(Array.from({ length: count }, (_, i) => i), 16, async (i) => {
      const res = await fetch(`${sys.urls.gateway}/api/ws/tickets`, { method: 'POST', headers: { authorization: `Bearer ${bearers[(i + offset) % bearers.length]!}` } })
      if (!res.ok) throw new Error(`ticket refused: ${res.status} ${await res.text()}`)
      return ((await res.json()) as { ticket: string }).ticket
    })
  }
  const queryUrl = (origin: string, s: Wafer): string => `${wsOrigin(origin)}/ws?X-WX-Id=${s.id}&X-WX-Skey=${s.skey}`
  /** Closed sockets leave realtime-ws (and its per-user count) a moment after the client closed them. */
  async function untilRealtimeIdle (): Promise<void> {
    for (let i = 0; i < 100; i++) {
      const { sockets } = await (await fetch(`${sys.urls.realtime}/healthz`)).json() as { sockets: number }
      if (sockets === 0) return
      await sleep(100)
    }
  }
  async function openGroup (group: string, specs: OpenSpec[]): Promise<number> {
    const r = await clients!.open(group, specs, 50, 60_000)
    if (r.failed > 0) throw new Error(`${group}: ${r.failed} of ${specs.length} sockets failed to open: ${JSON.stringify(r.errors)}`)
    return r.ms
  }

  if (runs('ws')) {
    const n = wsConnections
    await ensureWafer(2 * n)
    await ensureBearers(n)
    interface Kind { side: string, procs: 'ours' | 'seed', specs: (path: Path) => Promise<OpenSpec[]> }
    // Each user holds at most 4 of our sockets at once (bearer and ticket, both paths).
    const offset = (path: Path): number => path === 'dev' ? 0 : n
    const kinds: Kind[] = [
      { side: 'seed query', procs: 'seed', specs: async (path) => Array.from({ length: n }, (_, i) => ({ url: queryUrl(origins[path].seed, wafer.seed[offset(path) + i]!) })) },
      { side: 'ours bearer', procs: 'ours', specs: async (path) => Array.from({ length: n }, (_, i) => ({ url: `${wsOrigin(origins[path].ours)}/ws`, headers: { authorization: `Bearer ${bearers[i]!}` } })) },
      { side: 'ours ticket', procs: 'ours', specs: async (path) => (await tickets(n, 0)).map((ticket) => ({ url: `${wsOrigin(origins[path].ours)}/ws?ticket=${ticket}` })) },
      { side: 'ours query', procs: 'ours', specs: async (path) => Array.from({ length: n }, (_, i) => ({ url: queryUrl(origins[path].ours, wafer.ours[offset(path) + i]!) })) }
    ]
    console.log(`\nws: ${n} sockets per kind and path (opened once: the greeting counted), closed echo loop ${durationSec} s per run after ${WARM_SEC} s`)
    for (const path of paths) {
      for (const kind of kinds) {
        const specs = await kind.specs(path)
        const { result: ms, cpuUs } = await withCpu([...sideProcs(path, kind.procs), ...clientProcs], async () => await openGroup(`${path} ${kind.side}`, specs))
        record('ws open', path, kind.side, 1, { reqPerSec: n / (ms / 1000), requests: n, p50: Number.NaN, p99: Number.NaN, non2xx: 0, errors: 0 }, 0, cpuUs)
      }
    }
    for (let round = 1; round <= rounds; round++) {
      for (const path of paths) {
        for (const kind of ordered(round, kinds)) {
          const group = `${path} ${kind.side}`
          await clients!.echo(group, WARM_SEC * 1000, ECHO_MESSAGE)
          const { result, cpuUs } = await withCpu([...sideProcs(path, kind.procs), ...clientProcs], async () => await clients!.echo(group, durationSec * 1000, ECHO_MESSAGE))
          record('ws echo', path, kind.side, round, { reqPerSec: result.perSec, requests: result.count, p50: result.p50Ms, p99: result.p99Ms, non2xx: 0, errors: 0 }, result.lost, cpuUs)
        }
      }
    }
    for (const path of paths) for (const kind of kinds) await clients!.close(`${path} ${kind.side}`)
    await untilRealtimeIdle()
  }

  // ---------- idle memory per socket ----------
  if (runs('idle')) {
    const users = Math.ceil(idleSockets / USER_CAP)
    await ensureWafer(users)
    console.log(`\nidle: ${idleSockets} idle sockets per side and path (wafer session in the query, ${USER_CAP} per user), RSS 3 s after the last opened, fresh processes warmed with ${IDLE_WARM} sockets first`)
    for (const path of paths) {
      for (const side of ['seed', 'ours'] as const) {
        // Fresh processes (memory an earlier flow grew would hide part of this one's), warmed up.
        if (side === 'seed') await restartSeed()
        else for (const name of ['realtime', 'gateway'] as const) await sys.restart(name)
        await openGroup(`warm ${path} ${side}`, Array.from({ length: IDLE_WARM }, (_, i) => ({ url: queryUrl(origins[path][side], wafer[side][i % users]!) })))
        await clients!.close(`warm ${path} ${side}`)
        await untilRealtimeIdle()
        const procs = side === 'ours' ? [...nginxProcs[path].ours, ...ours] : [...nginxProcs[path].seed, seedProc]
        const rss = (): number[] => procs.map((p) => p.pids().reduce((s, pid) => s + rssMb(pid) * 1024, 0))
        await sleep(1000)
        const before = rss()
        await openGroup(`idle ${path} ${side}`, Array.from({ length: idleSockets }, (_, i) => ({ url: queryUrl(origins[path][side], wafer[side][i % users]!) })))
        await sleep(3000)
        const after = rss()
        const byProcess: Record<string, number> = {}
        procs.forEach((p, i) => { byProcess[p.name] = (after[i]! - before[i]!) / idleSockets })
        const kbPerSocket = Object.values(byProcess).reduce((a, b) => a + b, 0)
        idleRows.push({ path, side, sockets: idleSockets, kbPerSocket, byProcess })
        console.log(`  idle ${path} ${side}: ${kbPerSocket.toFixed(1)} KB per socket (${Object.entries(byProcess).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')})`)
        await clients!.close(`idle ${path} ${side}`)
        await untilRealtimeIdle()
      }
    }
  }

  // ---------- push callback ----------
  if (runs('push')) {
    const openids = Array.from({ length: 1000 }, (_, i) => `oPeers${String(i).padStart(6, '0')}${randomBytes(8).toString('hex')}`)
    const ghId = `gh_${randomBytes(6).toString('hex')}`
    const msgIdBase = 7_000_000_000_000_000_000n + BigInt(`0x${randomBytes(6).toString('hex')}`) * 1_000_000n
    let msgSeq = 0
    const onePush = (host: string): Buffer => {
      const n = msgSeq++
      const built = buildPush({
        url: 'http://127.0.0.1/wechat/callback',
        token: secrets.pushToken,
        encodingAESKey: secrets.aesKey,
        appId: secrets.appId,
        mode: 'safe',
        format: 'xml',
        message: { ToUserName: ghId, FromUserName: openids[n % openids.length]!, CreateTime: Math.floor(Date.now() / 1000), MsgType: 'text', Content: `Where is my order #${n}? 我的订单在哪里？`, MsgId: String(msgIdBase + BigInt(n)) }
      })
      const u = new URL(built.url)
      return httpRequest('POST', u.pathname + u.search, host, { 'Content-Type': 'text/xml' }, Buffer.from(built.body))
    }
    let expectRate = 2000
    console.log(`\npush: safe-mode XML, a distinct MsgId each, ${connections} connections, ${durationSec} s per run after ${WARM_SEC} s; webot answers ${webotReply === 'text' ? 'an encrypted text reply' : "res.reply('') (empty)"}`)
    for (let round = 1; round <= rounds; round++) {
      for (const path of paths) {
        for (const side of ordered(round, ['webot', 'ours'] as const)) {
          const origin = origins[path][side]
          const host = hostOf(origin)
          // Built before the run (so the loader only sends), signed now; more are built if the run needs them.
          const pool = Array.from({ length: Math.ceil(expectRate * (durationSec + WARM_SEC) * 1.5) + 1000 }, () => onePush(host))
          let taken = 0
          let onTheFly = 0
          let bad = 0
          const expected = side === 'ours' ? 'success' : webotReply === 'text' ? null : ''
          const run = async (sec: number): Promise<Awaited<ReturnType<typeof peerLoad>>> => await peerLoad({
            origin,
            ca,
            connections,
            durationSec: sec,
            next: () => { if (taken < pool.length) return pool[taken++]!; onTheFly++; return onePush(host) },
            onResponse: (status, body) => { if (status !== 200 || (expected === null ? !body.startsWith('<xml><Encrypt>') : body !== expected)) { bad++; badExample(status, body) } }
          })
          await run(WARM_SEC)
          bad = 0
          const { result, cpuUs } = await withCpu(sideProcs(path, side), async () => await run(durationSec))
          record('push', path, side, round, result, bad, cpuUs)
          if (onTheFly > 0) console.log(`    (${onTheFly} pushes built during the run)`)
          expectRate = Math.max(expectRate, result.reqPerSec)
        }
      }
    }
  }

  // ---------- report ----------
  console.log('\nPer flow: median rate over rounds; CPU µs per request (or message, socket) of each process, over all rounds')
  const groups = new Map<string, Sample[]>()
  for (const s of samples) {
    const key = `${s.flow}|${s.path}|${s.side}`
    groups.set(key, [...groups.get(key) ?? [], s])
  }
  const cpuPer = (list: Sample[]): Record<string, number> => {
    const count = list.reduce((a, s) => a + s.count, 0)
    const out: Record<string, number> = {}
    for (const s of list) for (const [k, v] of Object.entries(s.cpuUs)) out[k] = (out[k] ?? 0) + v / Math.max(count, 1)
    return out
  }
  const fmtCpu = (cpu: Record<string, number>): string => Object.entries(cpu).filter(([, v]) => v >= 0.05).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')
  console.table([...groups.values()].map((list) => {
    const s = list[0]!
    const cpu = cpuPer(list)
    const server = Object.entries(cpu).filter(([k]) => !k.startsWith('client')).reduce((a, [, v]) => a + v, 0)
    return {
      flow: s.flow,
      path: s.path,
      side: s.side,
      'rate /s': Math.round(median(list.map((x) => x.rate))),
      'rounds /s': list.map((x) => Math.round(x.rate)).join(', '),
      'p50 / p99 ms': Number.isNaN(s.p50) ? '' : `${median(list.map((x) => x.p50))} / ${median(list.map((x) => x.p99))}`,
      'server µs/req': server.toFixed(1),
      'by process µs/req': fmtCpu(cpu),
      bad: list.reduce((a, x) => a + x.bad, 0)
    }
  }))

  interface Goal { flow: string, path: Path, ours: string, peer: string, goal: number, higherIsBetter: boolean }
  const goals: Goal[] = []
  for (const path of paths) {
    goals.push({ flow: 'login', path, ours: 'ours', peer: 'seed', goal: Number.NaN, higherIsBetter: true })
    for (const ours of ['ours gen-1', 'ours bearer']) goals.push({ flow: 'me', path, ours, peer: 'seed', goal: path === 'dev' ? 2 : 1.5, higherIsBetter: true })
    for (const ours of ['ours bearer', 'ours ticket', 'ours query']) {
      goals.push({ flow: 'ws open', path, ours, peer: 'seed query', goal: Number.NaN, higherIsBetter: true })
      goals.push({ flow: 'ws echo', path, ours, peer: 'seed query', goal: path === 'dev' ? 0.6 : 1.2, higherIsBetter: true })
    }
    goals.push({ flow: 'idle', path, ours: 'ours', peer: 'seed', goal: 1.5, higherIsBetter: false })
    goals.push({ flow: 'push', path, ours: 'ours', peer: 'webot', goal: 1, higherIsBetter: true })
  }
  const rows: Array<Record<string, string>> = []
  for (const g of goals) {
    let ratios: number[]
    let oursValue: number
    let peerValue: number
    if (g.flow === 'idle') {
      const o = idleRows.find((r) => r.path === g.path && r.side === 'ours')
      const p = idleRows.find((r) => r.path === g.path && r.side === 'seed')
      if (o === undefined || p === undefined) continue
      oursValue = o.kbPerSocket
      peerValue = p.kbPerSocket
      ratios = [o.kbPerSocket / p.kbPerSocket]
    } else {
      const o = groups.get(`${g.flow}|${g.path}|${g.ours}`)
      const p = groups.get(`${g.flow}|${g.path}|${g.peer}`)
      if (o === undefined || p === undefined) continue
      ratios = o.map((x) => x.rate / (p.find((y) => y.round === x.round)?.rate ?? Number.NaN)).filter((r) => !Number.isNaN(r))
      oursValue = median(o.map((x) => x.rate))
      peerValue = median(p.map((x) => x.rate))
    }
    const ratio = median(ratios)
    const unit = g.flow === 'idle' ? 'KB/socket' : g.flow.startsWith('ws echo') ? 'msg/s' : g.flow === 'ws open' ? 'sockets/s' : 'req/s'
    const met = Number.isNaN(g.goal) ? '' : (g.higherIsBetter ? ratio >= g.goal : ratio <= g.goal) ? 'PASS' : 'MISS'
    const oursCpu = g.flow === 'idle' ? '' : fmtCpu(cpuPer(groups.get(`${g.flow}|${g.path}|${g.ours}`)!))
    const peerCpu = g.flow === 'idle' ? '' : fmtCpu(cpuPer(groups.get(`${g.flow}|${g.path}|${g.peer}`)!))
    rows.push({
      flow: `${g.flow}${g.ours === 'ours' ? '' : ` (${g.ours.replace('ours ', '')})`}`,
      path: g.path,
      peer: `${g.peer}: ${peerValue.toFixed(g.flow === 'idle' ? 1 : 0)} ${unit}`,
      ours: `${oursValue.toFixed(g.flow === 'idle' ? 1 : 0)}`,
      ratio: `${ratio.toFixed(2)}×${ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : ''}`,
      goal: Number.isNaN(g.goal) ? '–' : `${g.higherIsBetter ? '≥' : '≤'} ${g.goal}×`,
      result: met,
      'CPU µs/req ours | peer': g.flow === 'idle' ? '' : `${oursCpu} | ${peerCpu}`
    })
  }
  console.log(`\nRatios (ours ÷ peer; idle: KB per socket, lower is better), median of per-round ratios (range), ${rounds} rounds of ${durationSec} s`)
  console.table(rows)
  console.log('\nMarkdown:\n')
  console.log('| flow | path | peer | ours | ratio | goal | result | CPU µs per request: ours \\| peer |')
  console.log('|---|---|---|---|---|---|---|---|')
  for (const r of rows) console.log(`| ${r.flow} | ${r.path} | ${r.peer} | ${r.ours} | ${r.ratio} | ${r.goal} | ${r.result} | ${r['CPU µs/req ours | peer']!.replace('|', '\\|')} |`)
  console.log(`\n(bench: ${((performance.now() - benchStarted) / 1000).toFixed(0)} s; load average at start ${loadAtStart.map((l) => l.toFixed(1)).join(' ')}, at end ${loadavg().map((l) => l.toFixed(1)).join(' ')})`)
} finally {
  await cleanup()
}
