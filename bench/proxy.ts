// `pnpm bench:proxy`: `GET /api/me` through the gateway's own proxy engine against @fastify/http-proxy,
// and the cost of the gateway's performance devices, in one run.
//
//   pnpm bench:proxy [--duration 5] [--connections 50] [--rounds 5] [--modes direct,gateway,plugin,plugin-tuned,hello]
//     [--rate N] [--quiet-wait 60] [--variant name:ENV=VALUE,ENV=VALUE ... --modes gateway,gateway:name]
//
// Every server runs in its own process, the gateway as production runs it (its compiled dist/server.js under
// node --enable-source-maps, built first when stale: lib/built.ts); autocannon runs as a CLI in another.
// Modes:
//   direct        autocannon → the session stand-in (session-stand-in-server.ts: `GET /api/me`, ~300 bytes of JSON)
//   gateway       autocannon → the gateway (LOG_LEVEL info, bearer token, auth cache hit) → the stand-in
//   gateway:name  the same with the environment of `--variant name:…` (a device switched off, a pool setting)
//   plugin        autocannon → @fastify/http-proxy with its defaults, doing the gateway's per-request work
//                 (http-proxy-server.ts: same Fastify options, cached bearer resolve, identity headers)
//   plugin-tuned  the same with every option that helps: an undici Pool with the gateway's settings and
//                 coalescing connector under it, request logging off
//   hello         autocannon → a bare Fastify hello (hello-server.ts)
// Runs are interleaved round by round. The machine may be shared: before each run the bench waits (up to
// --quiet-wait seconds) for other processes to go quiet, and measures how much CPU they took during the run;
// disturbed runs are left out of the medians when undisturbed ones exist. The report gives per mode the median
// req/s, the ratio to direct (per round), and CPU µs per request of the front process (gateway or plugin) and
// of the stand-in: user + system CPU time from /proc/<pid>/stat (what process.cpuUsage() reads) over the
// measured window ÷ the requests autocannon counted; "÷ gateway" is the front's median over the gateway's.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { builtServer } from './lib/built.js'
import { cpuMicros, startProcess, stopAll, type Running } from './lib/processes.js'
import { freePort } from '../scripts/redis-server.js'

const execFileAsync = promisify(execFile)
const INTERNAL_TOKEN = randomBytes(32).toString('hex')
/** The shape of a token the session service issues (the gateway refuses others without a lookup). */
const BEARER = randomBytes(32).toString('base64url')

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i === -1 ? undefined : process.argv[i + 1]
}

const seconds = Number(arg('duration') ?? 5)
const connections = Number(arg('connections') ?? 50)
const rounds = Number(arg('rounds') ?? 5)
const modes = (arg('modes') ?? 'direct,gateway,plugin,plugin-tuned,hello').split(',')
/** Fixed offered load (req/s, 0 = as fast as possible): compares CPU cost per request at equal batching. */
const rate = Number(arg('rate') ?? 0)
/** Longest wait for the machine to go quiet before a run (0 = do not wait). */
const quietWaitMs = Number(arg('quiet-wait') ?? 60) * 1000
/** --variant name:KEY=VALUE,KEY=VALUE (repeatable) defines mode gateway:name. */
const variants: Record<string, Record<string, string>> = {}
process.argv.forEach((a, i) => {
  if (a !== '--variant') return
  const [name, spec = ''] = (process.argv[i + 1] ?? '').split(/:(.*)/s) as [string, string?]
  variants[name] = Object.fromEntries(spec.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]))
})

function autocannonBin (): string {
  const bin = process.env.AUTOCANNON ?? fileURLToPath(new URL('./node_modules/.bin/autocannon', import.meta.url))
  if (!existsSync(bin)) throw new Error('autocannon not found: install bench/ dependencies or set AUTOCANNON')
  return bin
}

interface Load { rps: number, requests: number, p50: number, p99: number, non2xx: number, errors: number }

async function load (url: string, durationSec: number, headers: string[]): Promise<Load> {
  const args = ['-j', '-c', String(connections), '-d', String(durationSec), ...(rate > 0 ? ['-R', String(rate)] : []), ...headers.flatMap((h) => ['-H', h]), url]
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

/** A run during which other processes used more than this many cores is not counted (if enough are left). */
const DISTURBED_CORES = 0.1

const cpuOf = (server: Running): number => cpuMicros(server.child.pid!)

/** Waits (up to quietWaitMs) until other processes use less than DISTURBED_CORES over a second. */
async function waitForQuiet (servers: Running[]): Promise<void> {
  const until = Date.now() + quietWaitMs
  while (Date.now() < until) {
    const before = servers.map(cpuOf)
    const machine0 = machineBusyUs()
    const own0 = ownAndReapedUs()
    const t0 = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = servers.map(cpuOf)
    const foreign = machineBusyUs() - machine0 - (ownAndReapedUs() - own0) - after.reduce((sum, v, i) => sum + v - before[i]!, 0)
    if (foreign / ((performance.now() - t0) * 1000) <= DISTURBED_CORES) return
  }
}

/**
 * Warm up, then measure one run while sampling the CPU time of the given server processes and of the
 * machine (to tell how much CPU other processes took: such runs are reported as disturbed).
 */
async function measure (url: string, measured: Record<string, Running>, others: Running[], headers: string[]): Promise<Sample> {
  const all = [...Object.values(measured), ...others]
  await waitForQuiet(all)
  await load(url, 2, headers)
  const before = all.map(cpuOf)
  const machine0 = machineBusyUs()
  const own0 = ownAndReapedUs()
  const started = performance.now()
  const result = await load(url, seconds, headers)
  const elapsedUs = (performance.now() - started) * 1000
  const after = all.map(cpuOf)
  const servers = after.reduce((sum, v, i) => sum + v - before[i]!, 0)
  const cpuUsPerReq: Record<string, number> = {}
  Object.keys(measured).forEach((k, i) => { cpuUsPerReq[k] = Math.round((after[i]! - before[i]!) / Math.max(1, result.requests) * 10) / 10 })
  const foreignCores = Math.max(0, machineBusyUs() - machine0 - (ownAndReapedUs() - own0) - servers) / elapsedUs
  return { ...result, cpuUsPerReq, foreignCores: Math.round(foreignCores * 100) / 100 }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function clean (runs: Sample[]): { runs: Sample[], disturbed: boolean } {
  const undisturbed = runs.filter((s) => s.foreignCores <= DISTURBED_CORES)
  return undisturbed.length > 0 ? { runs: undisturbed, disturbed: false } : { runs, disturbed: true }
}

function report (all: Record<string, Sample[]>): void {
  const direct = all.direct ?? []
  const frontMedian = (mode: string): number | undefined => {
    const samples = all[mode]
    if (samples === undefined || samples.length === 0 || samples[0]!.cpuUsPerReq.front === undefined) return undefined
    return median(clean(samples).runs.map((s) => s.cpuUsPerReq.front!))
  }
  /** Median over rounds of the front's CPU per request ÷ the gateway's in the same round (undisturbed pairs, else all). */
  const perGateway = (mode: string): string => {
    const engine = all.gateway ?? []
    const pairs = (all[mode] ?? []).map((s, i) => ({ s, g: engine[i] })).filter((p) => p.g !== undefined && p.s.cpuUsPerReq.front !== undefined)
    const cleanPairs = pairs.filter((p) => p.s.foreignCores <= DISTURBED_CORES && p.g!.foreignCores <= DISTURBED_CORES)
    const ratios = (cleanPairs.length > 0 ? cleanPairs : pairs).map((p) => p.s.cpuUsPerReq.front! / p.g!.cpuUsPerReq.front!)
    return ratios.length > 0 ? median(ratios).toFixed(2) : '-'
  }
  console.log('mode                   runs  median req/s  ×direct  p99 ms  front µs/req  ÷ gateway  upstream µs/req')
  for (const [mode, samples] of Object.entries(all)) {
    if (samples.length === 0) continue
    const { runs, disturbed } = clean(samples)
    const rps = median(runs.map((s) => s.rps))
    const p99 = median(runs.map((s) => s.p99))
    const rounds = samples.map((s, i) => ({ s, d: direct[i] })).filter((r) => r.d !== undefined)
    const cleanRounds = rounds.filter((r) => r.s.foreignCores <= DISTURBED_CORES && r.d!.foreignCores <= DISTURBED_CORES)
    const ratios = (cleanRounds.length > 0 ? cleanRounds : rounds).map((r) => r.s.rps / r.d!.rps)
    const ratio = ratios.length > 0 ? median(ratios).toFixed(2) : '-'
    const front = frontMedian(mode)
    const upstream = runs[0]!.cpuUsPerReq.upstream === undefined ? '-' : median(runs.map((s) => s.cpuUsPerReq.upstream!)).toFixed(1)
    const count = `${disturbed ? 0 : runs.length}/${samples.length}`
    console.log(`${mode.padEnd(22)} ${count.padStart(4)}  ${Math.round(rps).toString().padStart(12)}  ${ratio.padStart(7)}  ${String(p99).padStart(6)}  ` +
      `${(front?.toFixed(1) ?? '-').padStart(12)}  ${perGateway(mode).padStart(9)}  ${upstream.padStart(15)}` +
      `${disturbed ? '   (all runs disturbed)' : ''}`)
  }
  console.log(`runs: undisturbed/all (disturbed: other processes used > ${DISTURBED_CORES} core during the run); ×direct: median over rounds`)
  console.log('of req/s ÷ the same round\'s direct req/s; front: the gateway or @fastify/http-proxy process; ÷ gateway: median over rounds')
  console.log('of front µs/req ÷ the same round\'s gateway µs/req (rounds where both were undisturbed, else all); other columns: medians of undisturbed runs')
}

const root = new URL('..', import.meta.url).pathname
const procs: Running[] = []
try {
  console.log(`bench:proxy ${new Date().toISOString()}: ${rounds} round(s) of ${seconds} s per mode, ${connections} connections${rate > 0 ? `, ${rate} req/s offered` : ''}; ` +
    `${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, Node ${process.version}`)
  const upstream = await startProcess('upstream', `${root}bench/session-stand-in-server.ts`, await freePort(), { INTERNAL_TOKEN, BENCH_BEARER: BEARER })
  procs.push(upstream)
  const fronts = new Map<string, Running>()
  for (const mode of modes) {
    if (mode === 'direct' || fronts.has(mode)) continue
    const [kind, variant] = mode.split(':') as [string, string | undefined]
    const port = await freePort()
    let front: Running
    if (kind === 'gateway') {
      if (variant !== undefined && variants[variant] === undefined) throw new Error(`mode ${mode}: no --variant ${variant}:…`)
      front = await startProcess(mode, builtServer('gateway'), port, { INTERNAL_TOKEN, SESSION_URL: upstream.url, LOG_LEVEL: 'info', ...(variant === undefined ? {} : variants[variant]) })
    } else if (kind === 'plugin' || kind === 'plugin-tuned') {
      front = await startProcess(mode, `${root}bench/http-proxy-server.ts`, port, { INTERNAL_TOKEN, UPSTREAM_URL: upstream.url, LOG_LEVEL: 'info', PROXY_VARIANT: kind === 'plugin' ? 'stock' : 'tuned' })
    } else if (kind === 'hello') {
      front = await startProcess(mode, `${root}bench/hello-server.ts`, port, {}, '/')
    } else {
      throw new Error(`unknown mode ${mode}`)
    }
    procs.push(front)
    fronts.set(mode, front)
  }
  const auth = [`authorization=Bearer ${BEARER}`]
  for (const [mode, front] of fronts) {
    if (mode === 'hello') continue
    const res = await fetch(`${front.url}/api/me`, { headers: { authorization: `Bearer ${BEARER}` } })
    if (!res.ok) throw new Error(`${mode}: GET /api/me answered ${res.status} ${await res.text()}`)
  }
  const idle = (...busy: Running[]): Running[] => procs.filter((s) => !busy.includes(s))
  const samples: Record<string, Sample[]> = Object.fromEntries(modes.map((m) => [m, []]))
  for (let round = 1; round <= rounds; round++) {
    for (const mode of modes) {
      const front = fronts.get(mode)
      let sample: Sample
      if (front === undefined) sample = await measure(`${upstream.url}/api/me`, { upstream }, idle(upstream), [])
      else if (mode === 'hello') sample = await measure(`${front.url}/`, { front }, idle(front), [])
      else sample = await measure(`${front.url}/api/me`, { front, upstream }, idle(front, upstream), auth)
      samples[mode]!.push(sample)
      const note = sample.foreignCores > DISTURBED_CORES ? '  DISTURBED' : ''
      console.error(`round ${round} ${mode.padEnd(22)} ${Math.round(sample.rps).toString().padStart(6)} req/s  p99 ${sample.p99} ms  non2xx ${sample.non2xx}  errors ${sample.errors}  ` +
        `cpu µs/req ${JSON.stringify(sample.cpuUsPerReq)}  other processes ${sample.foreignCores} cores${note}`)
    }
  }
  report(samples)
  console.log(`load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`)
} finally {
  await stopAll(procs)
}
