/**
 * Throughput of `GET /api/me` through the gateway against calling the upstream directly.
 *
 *   npx tsx gateway/scripts/bench-proxy.ts [--duration 10] [--connections 50] [--rounds 3] [--modes direct,gateway,stock,hello]
 *     [--rate N] [--quiet-wait 60] [--variant name:ENV=VALUE,ENV=VALUE ... --modes direct,gateway,gateway:name]
 *
 * Every server runs in its own process (as in production); autocannon runs as a CLI in another.
 * Modes:
 *   direct   autocannon → stand-in session service (`GET /api/me`, ~300-byte JSON)
 *   gateway  autocannon → gateway (LOG_LEVEL info, bearer token, auth cache hit) → stand-in
 *   stock    autocannon → a stock @fastify/http-proxy (defaults) → stand-in, for comparison
 *   tuned    the same with a shared undici Pool (64 connections, pipelining 8, coalescing connector)
 *            and request logging off: how far @fastify/http-proxy's own options go
 *   hello    autocannon → a bare Fastify hello-world
 * Runs are interleaved round by round. The machine may be shared: before each run the harness waits
 * (up to --quiet-wait seconds) for other processes to go quiet, and measures how much CPU they took
 * during the run; disturbed runs are left out of the medians when undisturbed ones exist. The report
 * gives the median req/s per mode, the ratio to direct (per round) and CPU µs per request of each
 * server process (process.cpuUsage() deltas over the measured window ÷ requests autocannon counted).
 */
import { execFile, fork, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)
const INTERNAL_TOKEN = 'bench-internal-token-0123456789abcdef'
const BEARER = 'bench-token-0123456789abcdef0123456789'

type Role = 'upstream' | 'gateway' | 'stock' | 'tuned' | 'hello'

interface ChildMessage { port?: number, cpu?: number }

// ---------------------------------------------------------------- child side

async function serve (role: Role, upstreamUrl: string | undefined): Promise<void> {
  let port: number
  if (role === 'upstream') {
    const { startSessionStandIn } = await import('./stand-ins.js')
    const standIn = await startSessionStandIn({ internalToken: INTERNAL_TOKEN, credentials: [{ credential: { kind: 'bearer', token: BEARER } }] })
    port = standIn.port
  } else if (role === 'gateway') {
    const { buildGateway } = await import('../src/app.js')
    const { loadGatewayConfig } = await import('../src/config.js')
    const config = loadGatewayConfig({ ...process.env, INTERNAL_TOKEN, SESSION_URL: upstreamUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' })
    const app = await buildGateway(config)
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as { port: number }).port
  } else {
    const { default: Fastify } = await import('fastify')
    const app = Fastify({ logger: false })
    if (role === 'stock') {
      const { default: proxy } = await import('@fastify/http-proxy')
      await app.register(proxy, { upstream: upstreamUrl!, prefix: '/api', rewritePrefix: '/api' })
    } else if (role === 'tuned') {
      // @fastify/http-proxy with everything the gateway's own path uses that its options allow:
      // a shared pool with the gateway's settings and coalescing connector, no request logging.
      const { default: proxy } = await import('@fastify/http-proxy')
      const { Pool } = await import('undici')
      const { coalescingConnector } = await import('../src/proxy/coalescing-connector.js')
      const pool = new Pool(upstreamUrl!, { connections: 64, pipelining: 8, keepAliveTimeout: 30_000, connect: coalescingConnector({ timeout: 3000 }) })
      await app.register(proxy, { upstream: upstreamUrl!, prefix: '/api', rewritePrefix: '/api', undici: pool as never, disableRequestLogging: true })
    } else {
      app.get('/api/me', async () => ({ hello: 'world' }))
    }
    await app.listen({ host: '127.0.0.1', port: 0 })
    port = (app.server.address() as { port: number }).port
  }
  process.on('message', (msg) => {
    if (msg === 'cpu') {
      const u = process.cpuUsage()
      process.send?.({ cpu: u.user + u.system } satisfies ChildMessage)
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.send?.({ port } satisfies ChildMessage)
}

// ---------------------------------------------------------------- parent side

interface Server { child: ChildProcess, port: number, url: string }

async function start (role: Role, upstreamUrl?: string, env: Record<string, string> = {}): Promise<Server> {
  const args = ['--serve', role, ...(upstreamUrl === undefined ? [] : ['--upstream', upstreamUrl])]
  // BENCH_PROFILE=<role> writes a V8 CPU profile of that server to BENCH_PROFILE_DIR (default: a temp dir).
  const profile = process.env.BENCH_PROFILE === role ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR ?? join(tmpdir(), 'gateway-bench-profiles')}`] : []
  const child = fork(fileURLToPath(import.meta.url), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...profile], env: { ...process.env, ...env } })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: ChildMessage) => { if (typeof m.port === 'number') resolve(m.port); else reject(new Error(`${role}: bad hello`)) })
    child.once('exit', (code) => { reject(new Error(`${role} exited with ${code}`)) })
  })
  return { child, port, url: `http://127.0.0.1:${port}` }
}

async function cpuOf (server: Server): Promise<number> {
  return await new Promise((resolve) => {
    const onMessage = (m: ChildMessage): void => {
      if (typeof m.cpu === 'number') { server.child.off('message', onMessage); resolve(m.cpu) }
    }
    server.child.on('message', onMessage)
    server.child.send('cpu')
  })
}

function autocannonBin (): string {
  const fromEnv = process.env.AUTOCANNON
  if (fromEnv !== undefined) return fromEnv
  const bin = fileURLToPath(new URL('../../bench/node_modules/.bin/autocannon', import.meta.url))
  if (!existsSync(bin)) throw new Error('autocannon not found: install bench/ dependencies or set AUTOCANNON')
  return bin
}

interface Load { rps: number, requests: number, p50: number, p99: number, non2xx: number, errors: number }

/** Fixed offered load (req/s, 0 = as fast as possible): compares CPU cost per request at equal batching. */
let rate = 0

async function load (url: string, seconds: number, connections: number, headers: string[]): Promise<Load> {
  const args = ['-j', '-c', String(connections), '-d', String(seconds), ...(rate > 0 ? ['-R', String(rate)] : []), ...headers.flatMap((h) => ['-H', h]), url]
  const { stdout } = await execFileAsync(autocannonBin(), args, { maxBuffer: 16 * 1024 * 1024 })
  const r = JSON.parse(stdout) as { requests: { average: number, total: number }, latency: { p50: number, p99: number }, non2xx: number, errors: number }
  return { rps: r.requests.average, requests: r.requests.total, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors }
}

interface Sample extends Load {
  cpuUsPerReq: Record<string, number>
  /** CPU used by other processes during the run, in cores (the machine may be shared). */
  foreignCores: number
}

const CLOCK_TICK_US = 10_000 // USER_HZ = 100 on Linux

/**
 * Process-accounted CPU time of the whole machine (user + nice + system), µs. Interrupt and softirq
 * time (where loopback TCP delivery is often accounted) is left out: no process is charged for it.
 */
function machineBusyUs (): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  return ((f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0)) * CLOCK_TICK_US
}

/** CPU time of this process and its reaped children (autocannon runs), µs. */
function ownAndReapedUs (): number {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ').map(Number)
  // after the ") " fields start at state (3rd): utime 14th, stime 15th, cutime 16th, cstime 17th
  return ((f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0)) * CLOCK_TICK_US
}

const onLinux = existsSync('/proc/stat')

/** Longest wait for the machine to go quiet before a run (--quiet-wait seconds; 0 = do not wait). */
let quietWaitMs = 60_000

/** Waits (up to quietWaitMs) until other processes use less than DISTURBED_CORES over a second. */
async function waitForQuiet (servers: Server[]): Promise<void> {
  if (!onLinux || quietWaitMs === 0) return
  const until = Date.now() + quietWaitMs
  while (Date.now() < until) {
    const before = await Promise.all(servers.map(cpuOf))
    const machine0 = machineBusyUs()
    const own0 = ownAndReapedUs()
    const t0 = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = await Promise.all(servers.map(cpuOf))
    const foreign = machineBusyUs() - machine0 - (ownAndReapedUs() - own0) - after.reduce((sum, v, i) => sum + v - before[i]!, 0)
    if (foreign / ((performance.now() - t0) * 1000) <= DISTURBED_CORES) return
  }
}

/**
 * Warm up, then measure one run while sampling the CPU time of the given server processes and of
 * the machine (to tell how much CPU other processes took: such runs are reported as disturbed).
 */
async function measure (url: string, measured: Record<string, Server>, others: Server[], opts: { seconds: number, connections: number, headers: string[] }): Promise<Sample> {
  const all = [...Object.values(measured), ...others]
  await waitForQuiet(all)
  await load(url, 2, opts.connections, opts.headers)
  const before = await Promise.all(all.map(cpuOf))
  const machine0 = onLinux ? machineBusyUs() : 0
  const own0 = onLinux ? ownAndReapedUs() : 0
  const started = performance.now()
  const result = await load(url, opts.seconds, opts.connections, opts.headers)
  const elapsedUs = (performance.now() - started) * 1000
  const after = await Promise.all(all.map(cpuOf))
  const machine = onLinux ? machineBusyUs() - machine0 : 0
  const own = onLinux ? ownAndReapedUs() - own0 : 0
  const servers = after.reduce((sum, v, i) => sum + v - before[i]!, 0)
  const cpuUsPerReq: Record<string, number> = {}
  Object.keys(measured).forEach((k, i) => { cpuUsPerReq[k] = Math.round((after[i]! - before[i]!) / Math.max(1, result.requests) * 10) / 10 })
  const foreignCores = onLinux ? Math.max(0, machine - own - servers) / elapsedUs : 0
  return { ...result, cpuUsPerReq, foreignCores: Math.round(foreignCores * 100) / 100 }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export interface BenchOptions {
  seconds: number
  connections: number
  rounds: number
  /** `direct`, `gateway`, `stock`, `hello`, or `gateway:<name>` for a variant. */
  modes: string[]
  /** Gateway variants: name → environment overrides (e.g. { UPSTREAM_CONNECTIONS: '8' }). */
  variants?: Record<string, Record<string, string>>
}

export async function runBench (opts: BenchOptions): Promise<Record<string, Sample[]>> {
  const upstream = await start('upstream')
  const servers = new Map<string, Server>()
  for (const mode of opts.modes) {
    if (mode === 'direct' || servers.has(mode)) continue
    const [kind, variant] = mode.split(':') as [string, string | undefined]
    if (kind === 'gateway') servers.set(mode, await start('gateway', upstream.url, variant === undefined ? {} : opts.variants?.[variant] ?? {}))
    else if (kind === 'stock' || kind === 'tuned') servers.set(mode, await start(kind, upstream.url))
    else if (kind === 'hello') servers.set(mode, await start('hello'))
    else throw new Error(`unknown mode ${mode}`)
  }
  const everyone = [upstream, ...servers.values()]
  const idle = (...busy: Server[]): Server[] => everyone.filter((s) => !busy.includes(s))
  const samples: Record<string, Sample[]> = Object.fromEntries(opts.modes.map((m) => [m, []]))
  const common = { seconds: opts.seconds, connections: opts.connections }
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      for (const mode of opts.modes) {
        let sample: Sample
        const server = servers.get(mode)
        if (server === undefined) sample = await measure(`${upstream.url}/api/me`, { upstream }, idle(upstream), { ...common, headers: [] })
        else if (mode.startsWith('gateway')) sample = await measure(`${server.url}/api/me`, { gateway: server, upstream }, idle(server, upstream), { ...common, headers: [`authorization=Bearer ${BEARER}`] })
        else if (mode === 'stock' || mode === 'tuned') sample = await measure(`${server.url}/api/me`, { proxy: server, upstream }, idle(server, upstream), { ...common, headers: [] })
        else sample = await measure(`${server.url}/api/me`, { hello: server }, idle(server), { ...common, headers: [] })
        samples[mode]!.push(sample)
        const note = sample.foreignCores > DISTURBED_CORES ? '  DISTURBED' : ''
        console.error(`round ${round} ${mode.padEnd(15)} ${Math.round(sample.rps).toString().padStart(6)} req/s  p99 ${sample.p99} ms  non2xx ${sample.non2xx}  errors ${sample.errors}  cpu µs/req ${JSON.stringify(sample.cpuUsPerReq)}  other processes ${sample.foreignCores} cores${note}`)
      }
    }
  } finally {
    await Promise.all(everyone.map(async (s) => {
      const exited = new Promise((resolve) => s.child.once('exit', resolve))
      s.child.disconnect()
      const timer = setTimeout(() => s.child.kill(), 5000)
      await exited
      clearTimeout(timer)
    }))
  }
  return samples
}

/** A run during which other processes used more than this many cores is not counted (if enough are left). */
const DISTURBED_CORES = 0.1

function clean (runs: Sample[]): { runs: Sample[], disturbed: boolean } {
  const undisturbed = runs.filter((s) => s.foreignCores <= DISTURBED_CORES)
  return undisturbed.length > 0 ? { runs: undisturbed, disturbed: false } : { runs, disturbed: true }
}

function report (all: Record<string, Sample[]>): void {
  const direct = all.direct ?? []
  console.log('mode            runs  median req/s  ×direct  server CPU µs/req (median)')
  console.log(`  runs: undisturbed/all (a run is disturbed when other processes used > ${DISTURBED_CORES} core); ×direct: median over`)
  console.log('  rounds of req/s ÷ the same round\'s direct req/s, from rounds where both runs were undisturbed (else all rounds)')
  for (const [mode, samples] of Object.entries(all)) {
    if (samples.length === 0) continue
    const { runs, disturbed } = clean(samples)
    const rps = median(runs.map((s) => s.rps))
    const cpuKeys = Object.keys(runs[0]!.cpuUsPerReq)
    const cpu = cpuKeys.map((k) => `${k} ${median(runs.map((s) => s.cpuUsPerReq[k]!)).toFixed(1)}`).join(', ')
    const rounds = samples.map((s, i) => ({ s, d: direct[i] })).filter((r) => r.d !== undefined)
    const cleanRounds = rounds.filter((r) => r.s.foreignCores <= DISTURBED_CORES && r.d!.foreignCores <= DISTURBED_CORES)
    const ratios = (cleanRounds.length > 0 ? cleanRounds : rounds).map((r) => r.s.rps / r.d!.rps)
    const ratio = ratios.length > 0 ? median(ratios).toFixed(2) : '-'
    const count = `${disturbed ? 0 : runs.length}/${samples.length}`
    console.log(`${mode.padEnd(15)} ${count.padStart(4)}  ${Math.round(rps).toString().padStart(12)}  ${ratio.padStart(7)}  ${cpu}${disturbed ? '   (all runs disturbed)' : ''}`)
  }
}

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}

const role = arg('serve') as Role | undefined
if (role !== undefined) {
  await serve(role, arg('upstream'))
} else if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  rate = Number(arg('rate') ?? 0)
  quietWaitMs = Number(arg('quiet-wait') ?? 60) * 1000
  // --variant name:KEY=VALUE,KEY=VALUE (repeatable) defines mode gateway:name
  const variants: Record<string, Record<string, string>> = {}
  process.argv.forEach((a, i) => {
    if (a !== '--variant') return
    const [name, spec = ''] = (process.argv[i + 1] ?? '').split(/:(.*)/s) as [string, string?]
    variants[name] = Object.fromEntries(spec.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]))
  })
  const samples = await runBench({
    seconds: Number(arg('duration') ?? 10),
    connections: Number(arg('connections') ?? 50),
    rounds: Number(arg('rounds') ?? 3),
    modes: (arg('modes') ?? 'direct,gateway,stock,hello').split(','),
    variants
  })
  report(samples)
}
