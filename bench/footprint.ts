// `pnpm bench:footprint`: memory and start-up of the default stack (the simulator, the three services and
// the gateway, with the embedded stores, as `npm run up`) running the bundles, against the tutorial's
// own server (bench/peers/seed: Express + wafer-node-session + ws) measured in the same run.
//
//   1. `npm run start` as a user runs it (the five processes at once), timed from spawn until the
//      gateway's /readyz (every upstream) and the simulator's /healthz answer 200: the goal's measure
//      (≤ 3 s). Then stopped.
//   2. The same five processes started by the bench one at a time, then the peer: each timed from spawn
//      until it answers (polled every 10 ms) with the machine to itself, each with the preload
//      lib/gc-on-signal.js through which the bench asks for its V8 heap (no server code changes).
//   3. Idle, all six: RSS and heap used SETTLE seconds after the last start, then RSS again after IDLE
//      seconds. Early RSS holds the young generation V8 grew to while loading (up to 32 MB); V8's memory
//      reducer gives it back after some idle time (30 to 110 s here), so both readings are shown.
//   4. Load: LOGINS logins through the gateway (a simulator wx.login code → POST /api/login → GET /api/me,
//      one user each), then PUSHES pushes (safe-mode XML, signed and encrypted as WeChat sends them, to
//      /wechat/callback through the gateway, from those users); the peer gets LOGINS wafer logins
//      (X-WX-Code / X-WX-Encrypted-Data / X-WX-IV on /login) and as many /me. RSS SETTLE seconds after
//      each, and at the end the heap still live after a full GC.
//
// Env: BENCH_LOGINS (1000), BENCH_PUSHES (1000), BENCH_CONCURRENCY (requests in flight, 10), BENCH_SETTLE
// (seconds, 3), BENCH_IDLE (seconds, 120), BENCH_NPM_START (0: skip step 1), BENCH_NPM_START_RUNS (1; the
// median is reported), BENCH_BEFORE (another checkout of the repository, installed and built: its five
// dist/server.js run beside these in steps 2–4, rows marked "(before)", its `npm run start` timed in turn
// with this one's), BENCH_BEFORE_NODE_ARGS (how that build ran, default `--enable-source-maps`). REDIS_URL
// and MONGO_URL are ignored: the default stack keeps every store in-process.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildPush, DEFAULT_SIM_APP, SimControl } from '@weapp/wechat-sim'
import { builtServer } from './lib/built.js'
import { heapUsedMb, privateMb, rssMb } from './lib/memory.js'
import { startProcess, stopAll, type Running } from './lib/processes.js'
import { startSeed, waferLogin, waferMe } from './lib/seed-peer.js'
import { freePort } from '../scripts/redis-server.js'

const logins = Number(process.env.BENCH_LOGINS ?? 1000)
const pushes = Number(process.env.BENCH_PUSHES ?? 1000)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 10)
const settleMs = 1000 * Number(process.env.BENCH_SETTLE ?? 3)
const idleMs = 1000 * Number(process.env.BENCH_IDLE ?? 120)
const withNpmStart = process.env.BENCH_NPM_START !== '0'
const npmStartRuns = Math.max(1, Number(process.env.BENCH_NPM_START_RUNS ?? 1))
const before = process.env.BENCH_BEFORE
const beforeNodeArgs = (process.env.BENCH_BEFORE_NODE_ARGS ?? '--enable-source-maps').split(' ').filter((a) => a !== '')
const GOAL_RSS_MB = 80
const GOAL_STACK_MS = 3000
const root = new URL('..', import.meta.url).pathname
delete process.env.REDIS_URL
delete process.env.MONGO_URL

const tmp = mkdtempSync(join(tmpdir(), 'bench-footprint-'))
const probe = new URL('./lib/gc-on-signal.js', import.meta.url).href
const procs: Running[] = []
const memoryFile = (run: Running): string => join(tmp, `${run.name}.json`)
const median = (list: number[]): number => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)]!

interface Row {
  name: string
  readyMs: number | undefined
  readyCpuMs: number
  idleRss: number
  idlePrivate: number
  idleHeap: number
  longIdleRss: number
  afterLogins: number
  afterPushes: number | undefined
  liveHeap: number
}

/** A server with the memory probe preloaded. */
async function startProbed (name: string, entry: string, port: number, env: Record<string, string>, runner?: string[]): Promise<Running> {
  const run = await startProcess(name, entry, port, { ...env, BENCH_MEMORY_FILE: join(tmp, `${name}.json`) }, '/healthz', ['--import', probe], runner)
  procs.push(run)
  return run
}

/** `count` calls of `task`, `concurrency` at a time; the first failure stops the run. Returns ms. */
async function inParallel (count: number, task: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now()
  let next = 0
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await task(next++)
  }))
  return performance.now() - started
}

/** Polls (every 10 ms) until `url` answers 200 (on a busy 2-core machine `npm run start` has taken over a minute). */
async function waitOk (url: string, child: { exitCode: number | null }, timeoutMs = 180_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode} before ${url} answered`)
    try {
      const res = await fetch(url)
      await res.arrayBuffer()
      if (res.ok) return
    } catch {}
    await sleep(10)
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`)
}

/**
 * Step 1: `npm run start` in its own process group, spawn → everything ready, then SIGINT to the group.
 * Also says which packages it compiled first (their sources were newer than dist/): that time is included.
 */
async function timeNpmStart (tree: string): Promise<{ ms: number, built: string | undefined }> {
  const ports = { GATEWAY_PORT: await freePort(), SESSION_PORT: await freePort(), CS_PORT: await freePort(), WS_PORT: await freePort(), SIM_PORT: await freePort() }
  const started = performance.now()
  const child = spawn('npm', ['run', '--silent', 'start'], {
    cwd: tree,
    env: { ...process.env, ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true
  })
  let built: string | undefined
  child.stdout.on('data', (chunk: Buffer) => {
    // scripts/build.ts: "building <packages> (esbuild)"
    const m = /^building (.+) \((esbuild|tsc)/m.exec(chunk.toString('utf8'))
    if (m !== null) built = built === undefined ? m[1] : `${built}; ${m[1]!}`
  })
  try {
    await waitOk(`http://127.0.0.1:${ports.GATEWAY_PORT}/readyz`, child)
    await waitOk(`http://127.0.0.1:${ports.SIM_PORT}/healthz`, child)
    return { ms: performance.now() - started, built }
  } finally {
    await stopGroup(child.pid!)
  }
}

/** Ctrl-C to a process group (npm, its shell, tsx, scripts/start.ts and the five servers, all started here), SIGKILL after 15 s. */
async function stopGroup (pgid: number): Promise<void> {
  const alive = (): boolean => {
    try { process.kill(-pgid, 0); return true } catch { return false }
  }
  process.kill(-pgid, 'SIGINT')
  const deadline = performance.now() + 15_000
  while (alive() && performance.now() < deadline) await sleep(50)
  if (alive()) process.kill(-pgid, 'SIGKILL')
}

const mb = (n: number | undefined): string => n === undefined ? '–' : n.toFixed(1)
const ms = (n: number | undefined): string => n === undefined ? '–' : String(Math.round(n))
const ratio = (a: number | undefined, b: number | undefined): string => a === undefined || b === undefined ? '–' : `${(a / b).toFixed(2)}×`

interface Stack {
  label: string
  runs: Running[]
  gateway: Running
  sim: Running
  pushToken: string
  aesKey: string
}

/** The five processes of one build, one at a time (environment as scripts/system.ts gives it). */
async function startStack (label: string, entries: Record<'sim' | 'session' | 'cs' | 'realtime' | 'gateway', string>, runner: string[] | undefined): Promise<Stack> {
  const suffix = label === '' ? '' : ` (${label})`
  const [simPort, sessionPort, csPort, realtimePort, gatewayPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()]
  const url = (port: number): string => `http://127.0.0.1:${port}`
  const pushToken = randomBytes(16).toString('hex')
  const aesKey = randomBytes(32).toString('base64').slice(0, 43)
  const shared = { INTERNAL_TOKEN: randomBytes(32).toString('hex'), APP_ID: DEFAULT_SIM_APP.appId, APP_SECRET: DEFAULT_SIM_APP.appSecret, WECHAT_API_BASE: url(simPort) }
  const sim = await startProbed(`wechat-sim${suffix}`, entries.sim, simPort, {
    ...shared,
    SIM_APP_ID: DEFAULT_SIM_APP.appId,
    SIM_APP_SECRET: DEFAULT_SIM_APP.appSecret,
    SIM_PUSH_URL: `${url(gatewayPort)}/wechat/callback`,
    SIM_PUSH_TOKEN: pushToken,
    SIM_PUSH_AES_KEY: aesKey,
    SIM_PUSH_MODE: 'safe',
    SIM_PUSH_FORMAT: 'xml'
  }, runner)
  const session = await startProbed(`session${suffix}`, entries.session, sessionPort, shared, runner)
  const cs = await startProbed(`cs-messaging${suffix}`, entries.cs, csPort, { ...shared, WECHAT_TOKEN: pushToken, WECHAT_ENCODING_AES_KEY: aesKey }, runner)
  const realtime = await startProbed(`realtime-ws${suffix}`, entries.realtime, realtimePort, { ...shared, SESSION_URL: url(sessionPort) }, runner)
  const gateway = await startProbed(`gateway${suffix}`, entries.gateway, gatewayPort, {
    ...shared,
    SESSION_URL: url(sessionPort),
    CS_MESSAGING_URL: url(csPort),
    REALTIME_WS_URL: url(realtimePort),
    ADMIN_API_KEYS: `bench:${randomBytes(32).toString('base64url')}`,
    // Every login comes from 127.0.0.1: the default of 30 a minute per IP would refuse the bench.
    LOGIN_RATE_LIMIT_MAX: '1000000'
  }, runner)
  await waitOk(`${gateway.url}/readyz`, gateway.child)
  return { label, runs: [sim, session, cs, realtime, gateway], gateway, sim, pushToken, aesKey }
}

/** Step 4 on one stack: logins then pushes through its gateway, RSS `settleMs` after each. */
async function loadStack (stack: Stack): Promise<{ loginMs: number, pushMs: number, afterLogins: number[], afterPushes: number[] }> {
  const { gateway, sim, pushToken, aesKey } = stack
  const simControl = new SimControl(sim.url)
  const openids: string[] = []
  const loginMs = await inParallel(logins, async (i) => {
    const { code, openid } = await simControl.loginCode({ user: `footprint-${i}` })
    const login = await fetch(`${gateway.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
    const { token } = await login.json() as { token: string }
    if (!login.ok) throw new Error(`POST /api/login: ${login.status}`)
    const me = await fetch(`${gateway.url}/api/me`, { headers: { authorization: `Bearer ${token}` } })
    const user = await me.json() as { openid: string }
    if (!me.ok || user.openid !== openid) throw new Error(`GET /api/me: ${me.status} ${JSON.stringify(user)}`)
    openids.push(openid)
  })
  await sleep(settleMs)
  const afterLogins = stack.runs.map((run) => rssMb(run.child.pid!))

  const msgIdBase = 7_000_000_000_000_000_000n + BigInt(`0x${randomBytes(6).toString('hex')}`) * 1_000_000n
  const pushMs = await inParallel(pushes, async (i) => {
    const push = buildPush({
      url: `${gateway.url}/wechat/callback`,
      token: pushToken,
      encodingAESKey: aesKey,
      mode: 'safe',
      format: 'xml',
      appId: DEFAULT_SIM_APP.appId,
      message: {
        ToUserName: 'gh_footprint01',
        FromUserName: openids[i % openids.length] ?? `oFootprint${i}`,
        CreateTime: Math.floor(Date.now() / 1000),
        MsgType: 'text',
        Content: `Where is my order #${i}? 我的订单在哪里？`,
        MsgId: String(msgIdBase + BigInt(i))
      }
    })
    const res = await fetch(push.url, { method: 'POST', headers: { 'content-type': push.contentType }, body: push.body })
    const answer = await res.text()
    if (!res.ok || answer !== 'success') throw new Error(`push ${i}: ${res.status} ${answer}`)
  })
  await sleep(settleMs)
  return { loginMs, pushMs, afterLogins, afterPushes: stack.runs.map((run) => rssMb(run.child.pid!)) }
}

const entriesIn = (tree: string): Record<'sim' | 'session' | 'cs' | 'realtime' | 'gateway', string> => ({
  sim: join(tree, 'packages/wechat-sim/dist/server.js'),
  session: join(tree, 'services/session/dist/server.js'),
  cs: join(tree, 'services/cs-messaging/dist/server.js'),
  realtime: join(tree, 'services/realtime-ws/dist/server.js'),
  gateway: join(tree, 'gateway/dist/server.js')
})

try {
  console.log(`footprint: ${logins} logins, ${pushes} pushes, ${concurrency} in flight, readings ${settleMs / 1000} s after each step and ${idleMs / 1000} s idle; ` +
    `${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}, Node ${process.version}`)
  const entries = {
    sim: builtServer('packages/wechat-sim'),
    session: builtServer('services/session'),
    cs: builtServer('services/cs-messaging'),
    realtime: builtServer('services/realtime-ws'),
    gateway: builtServer('gateway')
  }
  // `npm run start` of both builds, interleaved, the median of each.
  const npmStarts: number[] = []
  const beforeStarts: number[] = []
  let builtFirst: string | undefined
  for (let i = 0; i < (withNpmStart ? npmStartRuns : 0); i++) {
    const run = await timeNpmStart(root)
    npmStarts.push(run.ms)
    builtFirst ??= run.built
    if (before !== undefined) beforeStarts.push((await timeNpmStart(before)).ms)
  }
  const npmStart = npmStarts.length === 0 ? undefined : { ms: median(npmStarts), built: builtFirst }
  const npmStartMs = npmStart?.ms

  // ---------- 2. the stack(s) one process at a time, the peer ----------
  const stack = await startStack('', entries, undefined)
  const old = before === undefined ? undefined : await startStack('before', entriesIn(before), beforeNodeArgs)
  // The simulator also answers the peer's jscode2session (wafer-node-session's call to WeChat).
  const seed = await startSeed('seed', await freePort(), {
    wechatApiBase: stack.sim.url,
    appId: DEFAULT_SIM_APP.appId,
    appSecret: DEFAULT_SIM_APP.appSecret,
    nodeArgs: ['--import', probe],
    env: { BENCH_MEMORY_FILE: join(tmp, 'seed.json') }
  })
  procs.push(seed)
  const all = [...stack.runs, ...(old?.runs ?? []), seed]

  // ---------- 3. idle ----------
  const idleFrom = performance.now()
  await sleep(settleMs)
  const idleRss = all.map((run) => rssMb(run.child.pid!))
  const idlePrivate = all.map((run) => privateMb(run.child.pid!))
  const idleHeap: number[] = []
  for (const run of all) idleHeap.push(await heapUsedMb(run.child.pid!, memoryFile(run), { gc: false }))
  await sleep(Math.max(0, idleFrom + idleMs - performance.now()))
  const longIdleRss = all.map((run) => rssMb(run.child.pid!))

  // ---------- 4. load: the stack(s), then the peer ----------
  const load = await loadStack(stack)
  const oldLoad = old === undefined ? undefined : await loadStack(old)
  const { loginMs, pushMs } = load
  const afterLogins = [...load.afterLogins, ...(oldLoad?.afterLogins ?? [])]
  const afterPushes = [...load.afterPushes, ...(oldLoad?.afterPushes ?? [])]

  const simControl = new SimControl(stack.sim.url)
  const seedLoginMs = await inParallel(logins, async (i) => {
    const session = await waferLogin(seed.url, simControl, `footprint-seed-${i}`)
    await waferMe(seed.url, session)
  })
  await sleep(settleMs)
  afterLogins.push(rssMb(seed.child.pid!))
  const liveHeap: number[] = []
  for (const run of all) liveHeap.push(await heapUsedMb(run.child.pid!, memoryFile(run), { gc: true }))

  // ---------- report ----------
  const rows: Row[] = all.map((run, i) => ({
    name: run === seed ? 'seed (tutorial)' : run.name,
    readyMs: run.readyMs,
    readyCpuMs: run.readyCpuMs,
    idleRss: idleRss[i]!,
    idlePrivate: idlePrivate[i]!,
    idleHeap: idleHeap[i]!,
    longIdleRss: longIdleRss[i]!,
    afterLogins: afterLogins[i]!,
    afterPushes: afterPushes[i],
    liveHeap: liveHeap[i]!
  }))
  const peer = rows.pop()!
  const oldRows = rows.splice(5)
  const total = (name: string, list: Row[], readyMs = npmStartMs): Row => {
    const sum = (pick: (r: Row) => number | undefined): number => list.reduce((s, r) => s + (pick(r) ?? 0), 0)
    return {
      name,
      readyMs,
      readyCpuMs: sum((r) => r.readyCpuMs),
      idleRss: sum((r) => r.idleRss),
      idlePrivate: sum((r) => r.idlePrivate),
      idleHeap: sum((r) => r.idleHeap),
      longIdleRss: sum((r) => r.longIdleRss),
      afterLogins: sum((r) => r.afterLogins),
      afterPushes: sum((r) => r.afterPushes),
      liveHeap: sum((r) => r.liveHeap)
    }
  }
  const services = rows.slice(1)
  const beforeStartMs = beforeStarts.length === 0 ? undefined : median(beforeStarts)
  const oldTotals = oldRows.length === 0 ? [] : [total('services + gateway (4) (before)', oldRows.slice(1), beforeStartMs), total('whole stack (5) (before)', oldRows, beforeStartMs)]
  const table = [...rows, total('services + gateway (4)', services), total('whole stack (5)', rows), ...oldRows, ...oldTotals, peer]
  console.log('\nMB = MiB. ready: spawn → answering, each process alone (the sums: `npm run start` → every process ready, all at once); CPU: what the process used until then. ' +
    `idle: ${settleMs / 1000} s after the last start; private: RSS without the node binary's pages, which every node process shares (RssAnon); heap: V8 heap used then; live: what stays after a full GC at the end.\n`)
  console.log(`| process | ready ms | CPU to ready ms | idle RSS MB | idle private MB | idle heap MB | RSS after ${idleMs / 1000} s idle | RSS after ${logins} logins | RSS after ${pushes} pushes | live heap at end MB | idle RSS / seed | after ${idleMs / 1000} s / seed | after logins / seed | ready / seed | CPU to ready / seed |`)
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
  for (const r of table) {
    const vsSeed = r === peer
      ? ['1', '1', '1', '1', '1']
      : [ratio(r.idleRss, peer.idleRss), ratio(r.longIdleRss, peer.longIdleRss), ratio(r.afterLogins, peer.afterLogins), ratio(r.readyMs, peer.readyMs), ratio(r.readyCpuMs, peer.readyCpuMs)]
    console.log(`| ${r.name} | ${ms(r.readyMs)} | ${ms(r.readyCpuMs)} | ${mb(r.idleRss)} | ${mb(r.idlePrivate)} | ${mb(r.idleHeap)} | ${mb(r.longIdleRss)} | ${mb(r.afterLogins)} | ${mb(r.afterPushes)} | ${mb(r.liveHeap)} | ${vsSeed.join(' | ')} |`)
  }
  if (oldLoad !== undefined) console.log(`\nbefore: ${before!} (node ${beforeNodeArgs.join(' ')}); ${logins} logins ${(oldLoad.loginMs / 1000).toFixed(1)} s, ${pushes} pushes ${(oldLoad.pushMs / 1000).toFixed(1)} s; \`npm run start\` ${beforeStarts.map(ms).join(' / ')} ms`)
  console.log(`\n${logins} logins: stack ${(loginMs / 1000).toFixed(1)} s, seed ${(seedLoginMs / 1000).toFixed(1)} s; ${pushes} pushes: ${(pushMs / 1000).toFixed(1)} s; load average now ${loadavg()[0]!.toFixed(1)}`)
  const goal = (pick: (r: Row) => number): string => {
    const over = services.filter((r) => pick(r) > GOAL_RSS_MB).map((r) => `${r.name} ${mb(pick(r))}`)
    return over.length === 0 ? 'met' : `not met (${over.join(', ')} MB)`
  }
  console.log(`goal idle RSS ≤ ${GOAL_RSS_MB} MB per service process: ${settleMs / 1000} s after start ${goal((r) => r.idleRss)}; after ${idleMs / 1000} s ${goal((r) => r.longIdleRss)}`)
  const privates = services.map((r) => r.idlePrivate)
  console.log(`idle private memory per service process: ${mb(Math.min(...privates))}–${mb(Math.max(...privates))} MB (the seed ${mb(peer.idlePrivate)} MB)`)
  const built = npmStart?.built === undefined ? '' : ` (including a build of ${npmStart.built}: sources newer than dist/)`
  const runsNote = npmStarts.length > 1 ? `, the median of ${npmStarts.map(ms).join(' / ')}` : ''
  // Wall times follow whatever else the machine runs; CPU to ready does not, and bounds the stack's start.
  const startCpu = rows.reduce((sum, r) => sum + r.readyCpuMs, 0)
  console.log(`start-up CPU of the five: ${ms(startCpu)} ms (the slowest ${ms(Math.max(...rows.map((r) => r.readyCpuMs)))} ms): at ${cpus().length} cores, at least ${ms(startCpu / cpus().length)} ms all at once on an idle machine; the seed ${ms(peer.readyCpuMs)} ms`)
  console.log(`goal stack ready ≤ ${GOAL_STACK_MS} ms from \`npm run start\`: ${npmStartMs === undefined ? 'not measured (BENCH_NPM_START=0)' : `${ms(npmStartMs)} ms, ${npmStartMs <= GOAL_STACK_MS ? 'met' : 'not met'}${built}${runsNote}`}`)
} finally {
  await stopAll(procs)
  rmSync(tmp, { recursive: true, force: true })
}
