import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { PRODUCTION_NODE_FLAGS } from '../../scripts/build.js'

export interface Running {
  name: string
  child: ChildProcess
  url: string
  /** Milliseconds from spawn until `readyPath` first answered 200 (polled every READY_POLL_MS). */
  readyMs: number
  /** CPU time (user + system) the process used until then, ms: what start-up costs, whatever else runs. */
  readyCpuMs: number
}

const READY_POLL_MS = 10
const READY_TIMEOUT_MS = 30_000

/**
 * How an entry runs. A bench-own TypeScript server runs under tsx, with workspace packages resolved to
 * their sources; a bundled service (`<dir>/dist/server.js`, see built.ts) runs as production runs it:
 * plain node with the production flags (scripts/build.ts); any other JavaScript (the seed peer) runs under
 * bare node.
 */
function runnerArgs (entry: string): string[] {
  if (entry.endsWith('.ts')) return ['--import', 'tsx']
  if (entry.endsWith('/dist/server.js')) return [...PRODUCTION_NODE_FLAGS]
  return []
}

/**
 * Installs a peer's locked dependencies (`npm ci` in `dir`, outside the pnpm workspace) when its node_modules
 * is missing. `label`: how it is named in messages (bench/peers/seed).
 */
export function ensurePeerInstalled (dir: string, label: string): void {
  if (existsSync(`${dir}node_modules`)) return
  console.log(`installing ${label} (npm ci)`)
  const result = spawnSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) throw new Error(`npm ci --prefix ${label} failed (${result.error?.message ?? `exit ${result.status}`})`)
}

/**
 * Starts a server in its own Node process and waits until `readyPath` answers 200.
 * `nodeArgs` go before the entry (e.g. a preload: `--import`, `--require`); `runner` replaces the flags
 * runnerArgs() picks (e.g. an older build run as it was run then).
 */
export async function startProcess (name: string, entry: string, port: number, env: Record<string, string>, readyPath = '/healthz', nodeArgs: string[] = [], runner = runnerArgs(entry)): Promise<Running> {
  // BENCH_NODE_ARGS: Node flags for every server process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to
  // see where a scenario's CPU goes (such flags are not allowed in NODE_OPTIONS). After the runner's own,
  // so a V8 flag given here wins (`--max-semi-space-size=16`: the production flag undone).
  const benchArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '')
  const started = performance.now()
  const child = spawn(process.execPath, [...runner, ...benchArgs, ...nodeArgs, entry], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const url = `http://127.0.0.1:${port}`
  while (performance.now() - started < READY_TIMEOUT_MS) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.signalCode ?? child.exitCode}) before it was ready`)
    try {
      const res = await fetch(url + readyPath)
      await res.arrayBuffer()
      if (res.ok) return { name, child, url, readyMs: performance.now() - started, readyCpuMs: cpuMicros(child.pid!) / 1000 }
    } catch {}
    await sleep(READY_POLL_MS)
  }
  child.kill('SIGKILL')
  throw new Error(`${name} did not become ready within ${READY_TIMEOUT_MS / 1000} s`)
}

export async function stopAll (procs: Running[]): Promise<void> {
  await Promise.all(procs.map(async ({ child }) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await Promise.race([exited, sleep(5000).then(() => child.kill('SIGKILL'))])
  }))
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc. */
export function cpuMicros (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime (fields 14 and 15 of stat)
  return ticks * (1e6 / CLOCK_TICKS)
}
const CLOCK_TICKS = 100 // sysconf(_SC_CLK_TCK) on Linux x86_64/arm64

/** The machine's CPU time so far, from the first line of /proc/stat: busy and idle (idle + iowait), in µs of CPU. */
export function machineCpu (): { busy: number, idle: number } {
  const jiffies = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  const idle = jiffies[3]! + (jiffies[4] ?? 0)
  const busy = jiffies.slice(0, 8).reduce((a, b) => a + b, 0) - idle
  return { busy: busy * (1e6 / CLOCK_TICKS), idle: idle * (1e6 / CLOCK_TICKS) }
}

/** `master` and its direct children (nginx's workers), from /proc. */
export function processTree (master: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === master) children.push(Number(entry))
    } catch {}
  }
  return [master, ...children]
}

/** Runs `fn` over `items`, at most `concurrency` at a time, results in order. */
export async function inPool<T, R> (items: T[], concurrency: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await fn(items[i]!, i)
    }
  }))
  return out
}
