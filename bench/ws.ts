// `pnpm bench:ws`: the WebSocket path, measured in one run on this machine against a bare `ws` echo
// server (bench/ws-echo-server.ts) started alongside, and reported as ratios.
//
//   (a) idle memory: IDLE authenticated sockets opened on one target and left idle; RSS (VmRSS of
//       /proc/<pid>/status) of every server process on the path before and after: settled (3 s), and after
//       a full GC (SIGWINCH → gc(), preloaded by bench/lib/gc-on-signal.js, which also reports the live JS
//       heap). Each target gets fresh server processes (and a warm-up) first: a heap grown by an earlier
//       target would hide part of the next one's cost.
//   (c) fan-out: with those sockets open, FANOUT of them subscribe to a `public:` channel and the bench
//       publishes `channel.push` events on the bus (Redis pub/sub, `weapp:channels`) as another service
//       would; per socket: publish → receipt; per event: when the last socket had it.
//   (b) echo: CONNECTIONS sockets per target, each in a closed loop (send, await `Server: Received(…)`,
//       send again) for DURATION seconds; targets interleaved over ROUNDS rounds; msgs/s, RTT p50/p99,
//       CPU µs per message of every process on the path and of the client processes.
//
// Targets: `gateway` (the public entry of the bare-machine default: bearer token on the upgrade, the
// gateway authenticates it and relays the raw socket to realtime-ws), `direct` (straight at realtime-ws
// with a single-use ticket: what a proxy routing /ws?ticket= to realtime-ws gives, minus the proxy),
// `bare` (the ws echo server), and when nginx/render.sh exists: `nginx` (wss with a ticket: nginx, TLS,
// routes /ws?ticket= straight to realtime-ws; its configuration has no plain-HTTP WebSocket listener) and
// `nginx-bearer` (wss with the bearer token: nginx sends the upgrade straight to realtime-ws, which
// resolves the token itself; echo only, its memory is the `nginx` row's).
//
// Flags (or env): --duration BENCH_DURATION (s, 5), --rounds BENCH_ROUNDS (2), --connections
// BENCH_CONNECTIONS (100), --idle BENCH_IDLE (10000), --settle BENCH_SETTLE (s, 3), --fanout BENCH_FANOUT
// (1000), --events BENCH_EVENTS (50), --clients BENCH_CLIENTS (client processes, 2), --targets
// BENCH_TARGETS (gateway,direct,bare[,nginx,nginx-bearer]), --skip BENCH_SKIP (any of idle,fanout,echo).
// REDIS_URL: else a throw-away redis-server is started. IDLE / 5 users log in (realtime-ws keeps its
// default MAX_CONNECTIONS_PER_USER of 5); the gateway's login rate limit is raised for the bench.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { BusChannels, INTERNAL_TOKEN_HEADER, IDENTITY_HEADER, createBus, encodeIdentity, type Bus, type Identity } from '@weapp/common'
import { DEFAULT_SIM_APP, SimControl } from '@weapp/wechat-sim'
import { builtServer } from './lib/built.js'
import { cpuMicros, inPool, processTree, startProcess, stopAll, type Running } from './lib/processes.js'
import { ClientPool, type EchoResult, type OpenSpec } from './lib/ws-clients.js'
import { freePort, envOrLocalRedis, type LocalRedis } from '../scripts/redis-server.js'

// ---------- options ----------
function option (flag: string, env: string, fallback: string): string {
  const argv = process.argv.slice(2)
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === `--${flag}`) return argv[i + 1] ?? fallback
    if (a.startsWith(`--${flag}=`)) return a.slice(flag.length + 3)
  }
  return process.env[env] ?? fallback
}
const durationSec = Number(option('duration', 'BENCH_DURATION', '5'))
const rounds = Number(option('rounds', 'BENCH_ROUNDS', '2'))
const connections = Number(option('connections', 'BENCH_CONNECTIONS', '100'))
const idleCount = Number(option('idle', 'BENCH_IDLE', '10000'))
const fanoutCount = Math.min(Number(option('fanout', 'BENCH_FANOUT', '1000')), idleCount)
const events = Number(option('events', 'BENCH_EVENTS', '50'))
const clientCount = Number(option('clients', 'BENCH_CLIENTS', '2'))
const SETTLE_MS = 1000 * Number(option('settle', 'BENCH_SETTLE', '3'))
const skip = new Set(option('skip', 'BENCH_SKIP', '').split(',').filter((s) => s !== ''))
const root = new URL('..', import.meta.url).pathname
const nginxRender = join(root, 'nginx/render.sh')
const defaultTargets = ['gateway', 'direct', 'bare', ...(existsSync(nginxRender) ? ['nginx', 'nginx-bearer'] : [])]
const targetNames = option('targets', 'BENCH_TARGETS', defaultTargets.join(',')).split(',').filter((s) => s !== '')

// ---------- file descriptors: the gateway holds two per relayed socket ----------
function softNofile (): number { return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 0 }
if (softNofile() < 2 * idleCount + 1000 && process.env.BENCH_WS_NOFILE === undefined) {
  // Node cannot raise its own limit: run again under a shell that did (children inherit it). Without
  // CAP_SYS_RESOURCE the hard limit is the ceiling; a target that would need more gets fewer sockets.
  const want = Math.max(200_000, 2 * idleCount + 1000)
  const r = spawnSync('bash', ['-c', `ulimit -n ${want} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`, process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_WS_NOFILE: '1' }
  })
  process.exit(r.status ?? 1)
}

// ---------- constants, helpers ----------
const internalToken = randomBytes(32).toString('hex')
const USER_CAP = 5 // realtime-ws MAX_CONNECTIONS_PER_USER, default
const ECHO_MESSAGE = 'hello from the ws bench 0123456789'
const CHANNEL = 'public:bench-fanout'
const GC_WAIT_MS = 1500
const WARM_SOCKETS = 200
const tmp = mkdtempSync(join(tmpdir(), 'weapp-bench-ws-'))

function rssKb (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m?.[1] ?? Number.NaN)
}

function quantile (xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}

/** A process (or a master and its workers) whose memory and CPU count. */
interface Proc {
  name: string
  pids: () => number[]
  /** Fresh process(es) on the same port. */
  restart?: () => Promise<void>
  /** Node servers: where gc-on-signal.js writes process.memoryUsage() after a GC. */
  memoryFile?: string
}
const rssOf = (p: Proc): number => p.pids().reduce((s, pid) => s + rssKb(pid), 0)
const cpuOf = (p: Proc): number => p.pids().reduce((s, pid) => s + cpuMicros(pid), 0)
/** From the last GC's process.memoryUsage(): the live JS heap and what V8 holds for it, in KB. */
function heapKb (p: Proc): { used: number, total: number } {
  if (p.memoryFile === undefined) return { used: Number.NaN, total: Number.NaN }
  const m = JSON.parse(readFileSync(p.memoryFile, 'utf8')) as { heapUsed: number, heapTotal: number }
  return { used: m.heapUsed / 1024, total: m.heapTotal / 1024 }
}

const procs: Running[] = []

/** A Node server of the bench, restartable on its port. */
class Server implements Proc {
  running!: Running
  readonly memoryFile: string | undefined
  private constructor (readonly name: string, readonly entry: string, readonly port: number, readonly env: Record<string, string>, readonly readyPath: string, readonly nodeArgs: string[]) {
    this.memoryFile = nodeArgs.length > 0 ? join(tmp, `${name}.memory.json`) : undefined
  }

  static async start (name: string, entry: string, port: number, env: Record<string, string>, readyPath = '/healthz', nodeArgs: string[] = []): Promise<Server> {
    const server = new Server(name, entry, port, env, readyPath, nodeArgs)
    await server.restart()
    return server
  }

  get url (): string { return `http://127.0.0.1:${this.port}` }
  pids (): number[] { return [this.running.child.pid!] }

  async restart (): Promise<void> {
    const old = this.running as Running | undefined
    if (old !== undefined) {
      await stopAll([old])
      procs.splice(procs.indexOf(old), 1)
    }
    const env = this.memoryFile === undefined ? this.env : { ...this.env, BENCH_MEMORY_FILE: this.memoryFile }
    this.running = await startProcess(this.name, this.entry, this.port, env, this.readyPath, this.nodeArgs)
    procs.push(this.running)
  }
}

/** nginx in the foreground with the configuration nginx/render.sh writes (master + workers). */
class Nginx implements Proc {
  readonly name = 'nginx'
  child: ChildProcess | null = null
  constructor (readonly dir: string, readonly port: number) {}

  pids (): number[] {
    const master = this.child?.pid
    return master === undefined ? [] : processTree(master)
  }

  async stop (): Promise<void> {
    const child = this.child
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGQUIT') // graceful: workers finish, then exit
    await Promise.race([exited, sleep(3000).then(() => { child.kill('SIGKILL') })])
  }

  async restart (): Promise<void> {
    await this.stop()
    this.child = spawn('nginx', ['-c', join(this.dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    // Its errors, but not the setrlimit alert of every worker start (see NGINX_WORKER_CONNECTIONS).
    this.child.stderr!.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line !== '' && !line.includes('setrlimit(RLIMIT_NOFILE')) console.error(`nginx: ${line}`)
    })
    for (let i = 0; i < 100; i++) {
      if (this.child.exitCode !== null) throw new Error(`nginx exited with ${this.child.exitCode}`)
      const up = await new Promise<boolean>((resolve) => {
        const s = connect(this.port, '127.0.0.1', () => { s.destroy(); resolve(true) })
        s.once('error', () => { resolve(false) })
      })
      if (up && this.pids().length > 1) return
      await sleep(50)
    }
    throw new Error('nginx did not start listening')
  }
}

interface Target {
  name: string
  /** Server processes on this target's path. */
  path: Proc[]
  /** Sockets specs for `count` connections, users dealt round-robin from `userOffset`. */
  specs: (count: number, userOffset?: number) => Promise<OpenSpec[]>
  /** Whether realtime-ws serves these sockets (its /healthz counts them; fan-out applies). */
  realtime: boolean
  /** File descriptors one socket costs the busiest process on the path. */
  fdsPerSocket: number
  note?: string
  /** Measured in (b) only. */
  echoOnly?: boolean
}

// ---------- cleanup ----------
let nginx: Nginx | null = null
let localRedis: LocalRedis | null = null
let bus: Bus | undefined
let clients: ClientPool | undefined
let cleaning: Promise<void> | undefined
async function cleanup (): Promise<void> {
  cleaning ??= (async () => {
    clients?.stop()
    await Promise.all([stopAll(procs), nginx?.stop()])
    await bus?.close()
    await localRedis?.stop()
    rmSync(tmp, { recursive: true, force: true })
  })()
  await cleaning
}
process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })

const benchStarted = performance.now()
try {
  const redis = await envOrLocalRedis()
  localRedis = redis.local
  const redisUrl = redis.url
  bus = createBus(redisUrl)

  // ---------- servers, each its own process ----------
  const gcPreload = ['--import', new URL('./lib/gc-on-signal.js', import.meta.url).href]
  const [barePort, simPort, sessionPort, realtimePort, gatewayPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()]
  const bare = await Server.start('ws-echo', `${root}bench/ws-echo-server.ts`, barePort, {}, '/', gcPreload)
  const sim = await Server.start('wechat-sim', builtServer('packages/wechat-sim'), simPort, {})
  const common = { INTERNAL_TOKEN: internalToken, REDIS_URL: redisUrl }
  const session = await Server.start('session', builtServer('services/session'), sessionPort, {
    ...common, APP_ID: DEFAULT_SIM_APP.appId, APP_SECRET: DEFAULT_SIM_APP.appSecret, WECHAT_API_BASE: sim.url
  })
  // Every socket comes from this one address: the per-address failed-lookup budgets (which count lookups in
  // flight) would refuse the bench's own cold opens.
  const realtime = await Server.start('realtime-ws', builtServer('services/realtime-ws'), realtimePort, { ...common, SESSION_URL: session.url, AUTH_FAILURE_LIMIT_MAX: '100000' }, '/healthz', gcPreload)
  const gateway = await Server.start('gateway', builtServer('gateway'), gatewayPort, {
    ...common, SESSION_URL: session.url, REALTIME_WS_URL: realtime.url, LOGIN_RATE_LIMIT_MAX: '1000000', AUTH_FAILURE_LIMIT_MAX: '100000'
  }, '/healthz', gcPreload)
  const wsUrl = (http: string): string => http.replace(/^http/, 'ws')

  // ---------- users: wx.login (simulator) → POST /api/login through the gateway ----------
  const userCount = Math.max(Math.ceil(idleCount / USER_CAP), connections)
  const simControl = new SimControl(sim.url)
  let t = performance.now()
  const users = await inPool(Array.from({ length: userCount }, (_, i) => i), 64, async (i) => {
    const { code } = await simControl.loginCode({ user: `ws-bench-${i}` })
    const res = await fetch(`${gateway.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
    if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`)
    const { token } = await res.json() as { token: string }
    // What the gateway forwards for this session (tickets are asked for with it below).
    const resolved = await fetch(`${session.url}/internal/resolve`, { method: 'POST', headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: internalToken }, body: JSON.stringify({ bearer: token }) })
    const { identity } = await resolved.json() as { identity: Identity }
    return { token, identityHeader: encodeIdentity(identity) }
  })
  console.log(`${userCount} users logged in through the gateway in ${((performance.now() - t) / 1000).toFixed(1)} s`)

  /**
   * Single-use tickets, one per socket: POST /api/ws/tickets as the gateway forwards it (internal token
   * and the user's identity), asked of realtime-ws directly to keep the bench short.
   */
  async function tickets (count: number, userOffset: number): Promise<string[]> {
    return await inPool(Array.from({ length: count }, (_, i) => i), 32, async (i) => {
      const user = users[(i + userOffset) % users.length]!
      const res = await fetch(`${realtime.url}/api/ws/tickets`, { method: 'POST', headers: { [INTERNAL_TOKEN_HEADER]: internalToken, [IDENTITY_HEADER]: user.identityHeader } })
      if (!res.ok) throw new Error(`ticket refused: ${res.status} ${await res.text()}`)
      return ((await res.json()) as { ticket: string }).ticket
    })
  }

  // ---------- nginx (optional) ----------
  let nginxCa: string | undefined
  if (targetNames.some((n) => n.startsWith('nginx'))) {
    const started = await startNginx(gateway.port, realtime.port)
    if (started === null) {
      for (let i = targetNames.length - 1; i >= 0; i--) if (targetNames[i]!.startsWith('nginx')) targetNames.splice(i, 1)
    } else {
      nginx = started.nginx
      nginxCa = started.ca
    }
  }

  const all: Record<string, Target> = {
    gateway: {
      name: 'gateway',
      path: [gateway, realtime],
      realtime: true,
      fdsPerSocket: 2,
      specs: async (count, userOffset = 0) => Array.from({ length: count }, (_, i) => ({
        url: `${wsUrl(gateway.url)}/ws`, headers: { authorization: `Bearer ${users[(i + userOffset) % users.length]!.token}` }
      }))
    },
    direct: {
      name: 'direct',
      path: [realtime],
      realtime: true,
      fdsPerSocket: 1,
      specs: async (count, userOffset = 0) => (await tickets(count, userOffset)).map((ticket) => ({ url: `${wsUrl(realtime.url)}/ws?ticket=${ticket}` }))
    },
    bare: {
      name: 'bare',
      path: [bare],
      realtime: false,
      fdsPerSocket: 1,
      specs: async (count) => Array.from({ length: count }, () => ({ url: `${wsUrl(bare.url)}/` }))
    }
  }
  if (nginx !== null) {
    const port = nginx.port
    all.nginx = {
      name: 'nginx',
      path: [nginx, realtime],
      realtime: true,
      // Two per socket, spread over the workers (one per core).
      fdsPerSocket: 2 / Math.max(1, nginx.pids().length - 1),
      note: 'wss (TLS)',
      specs: async (count, userOffset = 0) => (await tickets(count, userOffset)).map((ticket) => ({ url: `wss://127.0.0.1:${port}/ws?ticket=${ticket}` }))
    }
    all['nginx-bearer'] = {
      name: 'nginx-bearer',
      path: [nginx, realtime],
      realtime: true,
      fdsPerSocket: 2,
      note: 'wss (TLS)',
      echoOnly: true,
      specs: async (count, userOffset = 0) => Array.from({ length: count }, (_, i) => ({
        url: `wss://127.0.0.1:${port}/ws`, headers: { authorization: `Bearer ${users[(i + userOffset) % users.length]!.token}` }
      }))
    }
  }
  const targets = targetNames.map((n) => {
    const target = all[n]
    if (target === undefined) throw new Error(`unknown target ${n} (have: ${Object.keys(all).join(', ')})`)
    return target
  })

  clients = new ClientPool(clientCount, nginxCa === undefined ? {} : { NODE_EXTRA_CA_CERTS: nginxCa })
  const clientProcs: Proc[] = clients.workers.map((w) => ({ name: w.name, pids: () => [w.pid] }))
  const nofile = softNofile()
  console.log(`targets: ${targets.map((x) => x.name + (x.note === undefined ? '' : ` (${x.note})`)).join(', ')}; ${clientCount} client processes; ${cpus().length} cores; Redis ${redisUrl}; open files limit ${nofile}`)

  const realtimeSockets = async (): Promise<number> => ((await (await fetch(`${realtime.url}/healthz`)).json()) as { sockets: number }).sockets
  async function untilRealtimeIdle (): Promise<void> {
    for (let i = 0; i < 100 && await realtimeSockets() > 0; i++) await sleep(100)
  }
  async function openOrFail (group: string, specs: OpenSpec[], concurrency = 200): Promise<number> {
    const r = await clients!.open(group, specs, concurrency)
    if (r.failed > 0) throw new Error(`${group}: ${r.failed} of ${specs.length} sockets failed to open: ${JSON.stringify(r.errors)}`)
    return r.ms
  }
  /** Full GC in the Node processes given (and their memoryUsage() written), then a pause. */
  async function gc (path: Proc[]): Promise<void> {
    for (const p of path) if (p.memoryFile !== undefined) for (const pid of p.pids()) process.kill(pid, 'SIGWINCH')
    await sleep(GC_WAIT_MS)
  }
  const idleCountFor = (target: Target): number => {
    const cap = Math.floor((nofile - 500) / target.fdsPerSocket / 100) * 100
    if (cap >= idleCount) return idleCount
    console.log(`(a) ${target.name}: ${cap} sockets instead of ${idleCount}: open files limit ${nofile}, ${target.fdsPerSocket} per socket (raise the hard limit for ${idleCount})`)
    return cap
  }

  // ---------- (a) idle memory, and (c) fan-out on those sockets ----------
  interface ProcMemory { name: string, beforeKb: number, settledKb: number, gcKb: number, heapBeforeKb: number, heapAfterKb: number, heapTotalBeforeKb: number, heapTotalAfterKb: number }
  interface IdleRow { target: string, note: string | undefined, count: number, openMs: number, cpuPerOpen: string, procs: ProcMemory[], clientKbPerConn: number }
  interface FanoutRow { target: string, subscribed: number, idle: number, received: number, expected: number, last: number[], median: number[], first: number[] }
  const idleRows: IdleRow[] = []
  const fanoutRows: FanoutRow[] = []

  async function fanout (target: Target, idle: number): Promise<FanoutRow> {
    const subscribed = await clients!.subscribe('idle', CHANNEL, fanoutCount)
    if (subscribed !== fanoutCount) throw new Error(`fan-out: ${subscribed} of ${fanoutCount} sockets subscribed`)
    const publishedAt = new Map<number, number>()
    const WARM_EVENTS = 3
    for (let seq = 1; seq <= events + WARM_EVENTS; seq++) {
      const pending = new Set(clients!.workers)
      const done = new Promise<void>((resolve) => {
        for (const w of clients!.workers) {
          w.onFanoutComplete = (s) => { if (s === seq && pending.delete(w) && pending.size === 0) resolve() }
        }
      })
      // The same clock as the receivers' (CLOCK_MONOTONIC), in µs.
      const t0 = Number(process.hrtime.bigint() / 1000n)
      if (seq > WARM_EVENTS) publishedAt.set(seq, t0)
      await Promise.all([
        bus!.publish(BusChannels.channels, { type: 'channel.push', channel: CHANNEL, event: 'bench', data: { seq } }),
        Promise.race([done, sleep(5000)])
      ])
      await sleep(20)
    }
    const receipts = await clients!.receipts()
    const row: FanoutRow = { target: target.name, subscribed, idle, received: 0, expected: events * subscribed, last: [], median: [], first: [] }
    for (const [seq, t0] of publishedAt) {
      const lat = (receipts.get(seq) ?? []).map((at) => (at - t0) / 1000).sort((a, b) => a - b)
      row.received += lat.length
      if (lat.length === 0) continue
      row.first.push(lat[0]!)
      row.median.push(lat[Math.floor(lat.length / 2)]!)
      row.last.push(lat[lat.length - 1]!)
    }
    const q = (xs: number[], p: number): string => quantile(xs, p).toFixed(1)
    console.log(`(c) ${target.name}: ${events} events to ${subscribed} sockets: last socket p50 ${q(row.last, 0.5)} / p99 ${q(row.last, 0.99)} / max ${q(row.last, 1)} ms; median socket p50 ${q(row.median, 0.5)} ms; received ${row.received}/${row.expected}`)
    return row
  }

  if (!skip.has('idle')) {
    for (const target of targets) {
      if (target.echoOnly === true) continue
      await untilRealtimeIdle()
      for (const p of target.path) await p.restart?.()
      await openOrFail(`warm-${target.name}`, await target.specs(WARM_SOCKETS))
      await clients.echo(`warm-${target.name}`, 500, ECHO_MESSAGE)
      await clients.close(`warm-${target.name}`)
      await untilRealtimeIdle()

      const count = idleCountFor(target)
      t = performance.now()
      const specs = await target.specs(count)
      const specMs = performance.now() - t
      await gc(target.path)
      const before = target.path.map(rssOf)
      const heapBefore = target.path.map(heapKb)
      const clientBefore = clientProcs.reduce((s, p) => s + rssOf(p), 0)
      const cpuProcs = [...target.path, ...(target.realtime ? [session] : []), ...clientProcs]
      const cpuBefore = cpuProcs.map(cpuOf)
      const openMs = await openOrFail('idle', specs, 256)
      const cpuPerOpen = cpuProcs.map((p, i) => `${p.name} ${((cpuOf(p) - cpuBefore[i]!) / count).toFixed(0)}`).join(', ')
      if (target.realtime) {
        const n = await realtimeSockets()
        if (n !== count) throw new Error(`realtime-ws counts ${n} sockets, expected ${count}`)
      }
      await sleep(SETTLE_MS)
      const settled = target.path.map(rssOf)
      const clientAfter = clientProcs.reduce((s, p) => s + rssOf(p), 0)
      await gc(target.path)
      const afterGc = target.path.map(rssOf)
      const heapAfter = target.path.map(heapKb)
      const row: IdleRow = {
        target: target.name,
        note: target.note,
        count,
        openMs,
        cpuPerOpen,
        procs: target.path.map((p, i) => ({ name: p.name, beforeKb: before[i]!, settledKb: settled[i]!, gcKb: afterGc[i]!, heapBeforeKb: heapBefore[i]!.used, heapAfterKb: heapAfter[i]!.used, heapTotalBeforeKb: heapBefore[i]!.total, heapTotalAfterKb: heapAfter[i]!.total })),
        clientKbPerConn: (clientAfter - clientBefore) / count
      }
      idleRows.push(row)
      const per = (kb: number): string => (kb / count).toFixed(1)
      console.log(`(a) ${target.name}: ${count} sockets open in ${(openMs / 1000).toFixed(1)} s${specMs > 500 ? ` (tickets: ${(specMs / 1000).toFixed(1)} s before)` : ''}; CPU µs per open: ${cpuPerOpen}; KB/conn: ` +
        row.procs.map((p) => `${p.name} ${per(p.settledKb - p.beforeKb)} (after GC ${per(p.gcKb - p.beforeKb)}${Number.isNaN(p.heapAfterKb) ? '' : `; JS heap live ${per(p.heapAfterKb - p.heapBeforeKb)}, held by V8 ${per(p.heapTotalAfterKb - p.heapTotalBeforeKb)}`})`).join(', '))

      if (target.realtime && !skip.has('fanout') && fanoutCount > 0) fanoutRows.push(await fanout(target, count))
      await clients.close('idle')
    }
  }

  // ---------- (b) echo throughput ----------
  interface EchoRow extends EchoResult { target: string, round: number, cpuUsPerMsg: Record<string, number> }
  const echoRows: EchoRow[] = []
  if (!skip.has('echo')) {
    await untilRealtimeIdle()
    // Users 0..connections-1, one socket each per target (at most 4 per user on realtime-ws).
    for (const target of targets) await openOrFail(`echo-${target.name}`, await target.specs(connections, 0), 50)
    console.log(`(b) ${connections} sockets per target, closed loop, ${durationSec} s per run after 1 s of warm-up, ${rounds} rounds, message ${ECHO_MESSAGE.length} bytes`)
    for (let round = 1; round <= rounds; round++) {
      for (const target of targets) {
        await clients.echo(`echo-${target.name}`, 1000, ECHO_MESSAGE)
        const measured = [...target.path, ...clientProcs]
        const before = measured.map(cpuOf)
        const r = await clients.echo(`echo-${target.name}`, durationSec * 1000, ECHO_MESSAGE)
        const after = measured.map(cpuOf)
        const cpuUsPerMsg: Record<string, number> = {}
        measured.forEach((p, i) => { cpuUsPerMsg[p.name] = (after[i]! - before[i]!) / Math.max(r.count, 1) })
        echoRows.push({ ...r, target: target.name, round, cpuUsPerMsg })
        console.log(`    round ${round} ${target.name}: ${Math.round(r.perSec)} msgs/s, p50 ${r.p50Ms.toFixed(2)} / p99 ${r.p99Ms.toFixed(2)} ms${r.lost > 0 ? `, ${r.lost} unanswered` : ''}`)
      }
    }
  }

  // ---------- report ----------
  if (idleRows.length > 0) {
    console.log(`\n(a) idle authenticated sockets: KB per connection = RSS growth / sockets, settled ${SETTLE_MS / 1000} s; after a full GC; live JS heap after GC`)
    console.table(idleRows.map((r) => {
      const sum = (f: (p: ProcMemory) => number): string => (r.procs.reduce((s, p) => s + f(p), 0) / r.count).toFixed(1)
      return {
        target: r.target + (r.note === undefined ? '' : ` (${r.note})`),
        sockets: r.count,
        'KB/conn by process: settled; after GC; JS heap': r.procs.map((p) => `${p.name} ${((p.settledKb - p.beforeKb) / r.count).toFixed(1)}; ${((p.gcKb - p.beforeKb) / r.count).toFixed(1)}${Number.isNaN(p.heapAfterKb) ? '' : `; ${((p.heapAfterKb - p.heapBeforeKb) / r.count).toFixed(1)}`}`).join(', '),
        'total KB/conn settled; after GC': `${sum((p) => p.settledKb - p.beforeKb)}; ${sum((p) => p.gcKb - p.beforeKb)}`,
        'RSS MB before → settled': r.procs.map((p) => `${p.name} ${(p.beforeKb / 1024).toFixed(0)} → ${(p.settledKb / 1024).toFixed(0)}`).join(', '),
        'open s': (r.openMs / 1000).toFixed(1)
      }
    }))
    for (const r of idleRows) {
      if (r.target === 'bare') continue
      const settled = r.procs.reduce((s, p) => s + p.settledKb - p.beforeKb, 0) / r.count
      console.log(`${r.target}: ${settled.toFixed(1)} KB per idle connection over ${r.procs.map((p) => p.name).join(' + ')} (goal <= 15 KB) ${settled <= 15 ? 'ok' : 'MISSED'}`)
    }
  }
  if (fanoutRows.length > 0) {
    console.log(`\n(c) fan-out: one channel.push on ${BusChannels.channels} (Redis pub/sub) to ${fanoutCount} subscribed sockets, ${events} events each, ms from publish to receipt`)
    console.table(fanoutRows.map((r) => ({
      target: r.target,
      'sockets open': r.idle,
      'last socket p50 / p99 / max': `${quantile(r.last, 0.5).toFixed(1)} / ${quantile(r.last, 0.99).toFixed(1)} / ${quantile(r.last, 1).toFixed(1)}`,
      'median socket p50': quantile(r.median, 0.5).toFixed(1),
      'first socket p50': quantile(r.first, 0.5).toFixed(1),
      received: `${r.received}/${r.expected}`
    })))
  }
  if (echoRows.length > 0) {
    const best = new Map<string, EchoRow>()
    for (const r of echoRows) if ((best.get(r.target)?.perSec ?? -1) < r.perSec) best.set(r.target, r)
    console.log(`\n(b) echo, ${connections} connections per target, best of ${rounds} rounds of ${durationSec} s`)
    console.table([...best.values()].map((r) => ({
      target: r.target + (all[r.target]?.note === undefined ? '' : ` (${all[r.target]!.note!})`),
      'msgs/s': Math.round(r.perSec),
      'p50 / p99 ms': `${r.p50Ms.toFixed(2)} / ${r.p99Ms.toFixed(2)}`,
      'server CPU µs/msg': Object.entries(r.cpuUsPerMsg).filter(([k]) => !k.startsWith('client')).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '),
      'client CPU µs/msg': Object.entries(r.cpuUsPerMsg).filter(([k]) => k.startsWith('client')).reduce((s, [, v]) => s + v, 0).toFixed(1)
    })))
    const bareBest = best.get('bare')
    if (bareBest !== undefined) {
      for (const [name, r] of best) {
        if (name === 'bare') continue
        // The same ratio per round too: both measured within seconds of each other.
        const perRound = Array.from({ length: rounds }, (_, i) => {
          const a = echoRows.find((x) => x.target === name && x.round === i + 1)
          const b = echoRows.find((x) => x.target === 'bare' && x.round === i + 1)
          return a !== undefined && b !== undefined ? (a.perSec / b.perSec).toFixed(2) : '?'
        })
        const ratio = r.perSec / bareBest.perSec
        console.log(`${name} / bare ws echo: ${ratio.toFixed(2)}x (per round ${perRound.join(', ')}) (goal >= 0.6x) ${ratio >= 0.6 ? 'ok' : 'MISSED'}`)
      }
    }
    const ratioOf = (a: string, b: string): void => {
      const x = best.get(a)
      const y = best.get(b)
      if (x !== undefined && y !== undefined) console.log(`${a} / ${b}: ${(x.perSec / y.perSec).toFixed(2)}x`)
    }
    ratioOf('gateway', 'direct')
    ratioOf('nginx-bearer', 'nginx')
  }
  console.log(`\n(bench: ${((performance.now() - benchStarted) / 1000).toFixed(0)} s)`)
} finally {
  await cleanup()
}

/**
 * nginx with the configuration nginx/render.sh writes (access log off, workers sized for the idle
 * sockets), listening on 127.0.0.1 with a throw-away ECDSA P-256 certificate (the handshakes of 10,000
 * sockets cost a fraction of RSA 2048's, which make-cert.sh makes); null, with the reason printed, when
 * that does not work.
 */
async function startNginx (gatewayPort: number, realtimePort: number): Promise<{ nginx: Nginx, ca: string } | null> {
  const dir = join(tmp, 'nginx')
  try {
    execFileSync('mkdir', ['-p', dir])
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] })
    const [httpPort, httpsPort] = [await freePort(), await freePort()]
    execFileSync(nginxRender, [dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        NGINX_LISTEN_ADDRESS: '127.0.0.1',
        NGINX_HTTP_PORT: String(httpPort),
        NGINX_HTTPS_PORT: String(httpsPort),
        GATEWAY_UPSTREAM: `127.0.0.1:${gatewayPort}`,
        REALTIME_WS_UPSTREAM: `127.0.0.1:${realtimePort}`,
        NGINX_ACCESS_LOG: 'off',
        NGINX_ERROR_LOG_LEVEL: 'error',
        // One client address opens every socket: nginx's per-address upgrade limits would refuse them.
        NGINX_WS_RATE: '1000000r/s',
        NGINX_WS_BURST: '1000000',
        NGINX_WS_CONN: '60000',
        // Two connections (client, upstream) per socket, all on one worker at worst; the workers' file
        // limit (twice this) may be above what they are allowed: nginx then keeps the one it has.
        NGINX_WORKER_CONNECTIONS: String(2 * idleCount + 1000)
      }
    })
    const server = new Nginx(dir, httpsPort)
    await server.restart()
    return { nginx: server, ca: join(dir, 'cert.pem') }
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim()
    console.log(`nginx target skipped: ${stderr !== undefined && stderr !== '' ? stderr : String(err)}`)
    return null
  }
}
