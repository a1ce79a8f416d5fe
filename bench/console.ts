// `pnpm bench:console`: the agent console's performance goals (issue 15), against the running built system
// (scripts/system.ts through the console's browser-test harness: the bundled simulator, services and gateway,
// Debian's Chromium driven by playwright-core).
//
//   1. push → visible: two agents logged in, two consoles open (two browser contexts). Signed, encrypted
//      pushes (the simulator's buildPush) go to the gateway's callback URL at a fixed rate, each text with a
//      unique mark; in each page a MutationObserver notes when each mark first enters the DOM (list preview or
//      open conversation) and a WebSocket listener when its frame arrives (bench/lib/console-observer.ts).
//      Latency = page time (performance.timeOrigin + performance.now()) − the sender's Date.now() when the
//      callback answered `success`. Modes: `spread` (the pushes come from --users users in turn, the list
//      shows them) and `open` (one user, whose conversation both consoles have open). Goal p99 ≤ 250 ms.
//   2. the list's first page with --conversations and --messages stored (bench/lib/console-list.ts: cs-messaging
//      in this process, filled through its repositories, MongoDB when MONGO_URL is set): server time of
//      `GET /api/console/conversations` per filter, median and p99. Goal ≤ 20 ms.
//   3. first load: a fresh browser context with the agent's cookie opens /console/ (cache disabled); from
//      navigation start to the first conversation of the list in the DOM; then warm reloads. Goal ≤ 1 s.
//      Besides: the console's JavaScript gzip-compressed (goal ≤ 80 KB).
//
// Flags: --rate (pushes/s, 200), --duration (s per mode, 10), --users (500), --modes (spread,open),
// --conversations (10000), --messages (1000000), --list-requests (200 per filter), --loads (5 cold, 5 warm),
// --skip (push,list,load), --redis (a throw-away redis-server under the stack; REDIS_URL set: that one;
// default: the embedded stack of `npm run up`, one bus through realtime-ws's hub).
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'
import type { Page } from 'playwright-core'
import { CHROMIUM, NO_BROWSER, VIEWPORT, startConsoleHarness, type ConsoleHarness, type ConsolePage, type Credentials } from '../e2e/console/harness.js'
import { startLocalRedis, type LocalRedis } from '../scripts/redis-server.js'
import { benchList, type ListBenchResult } from './lib/console-list.js'
import { FIRST_LOAD_GLOBAL, SEEN_GLOBAL, firstLoadScript, observerScript, type FirstLoadTimes, type PageObservations } from './lib/console-observer.js'
import type { RatePushResult } from './lib/console-pushes.js'
import { pushAtRateInWorker } from './lib/console-push-worker.js'
import { cpuMicros } from './lib/processes.js'
import { bucketsBetween, histogramBuckets, latencies, ms, percentile, summarize, verdict, type LatencySummary } from './lib/console-stats.js'

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '10' },
    users: { type: 'string', default: '500' },
    modes: { type: 'string', default: 'spread,open' },
    conversations: { type: 'string', default: '10000' },
    messages: { type: 'string', default: '1000000' },
    'list-requests': { type: 'string', default: '200' },
    loads: { type: 'string', default: '5' },
    skip: { type: 'string', default: '' },
    redis: { type: 'boolean', default: false }
  }
})
const num = (name: keyof typeof args): number => {
  const n = Number(args[name])
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${String(args[name])}`)
  return n
}
const rate = num('rate')
const durationSec = num('duration')
const users = Math.round(num('users'))
const modes = String(args.modes).split(',').filter((m) => m !== '')
for (const m of modes) if (m !== 'spread' && m !== 'open') throw new Error(`--modes: ${m} is neither spread nor open`)
const skip = new Set(String(args.skip).split(',').filter((s) => s !== ''))
const loads = Math.round(num('loads'))

const GOAL_VISIBLE_P99_MS = 250
const GOAL_LIST_MS = 20
const GOAL_FIRST_LOAD_MS = 1000
const GOAL_JS_GZIP_KB = 80
/** How long marks still missing from a page are waited for after the last push was answered. */
const DRAIN_MS = 10_000
const WARMUP_RATE = 100
/** Playwright's limit per step (a loaded machine is slow; the harness's 15 s is for tests). */
const PAGE_TIMEOUT_MS = 60_000

const root = new URL('..', import.meta.url).pathname
const runId = randomBytes(3).toString('hex')
const prefix = `cb${runId}-`

interface GoalRow { measure: string, value: string, goal: string, result: 'PASS' | 'MISS' }
const goals: GoalRow[] = []
const loadAverages: string[] = [loadavg().map((l) => l.toFixed(1)).join(' ')]

/** Teardown for the harness (it expects tap's): run in reverse at the end. */
const cleanups: Array<() => unknown> = []
const teardown = { teardown: (fn: () => unknown) => { cleanups.push(fn) } }

async function observations (page: Page): Promise<PageObservations> {
  return await page.evaluate(`window.${SEEN_GLOBAL}`) as PageObservations
}

/**
 * Waits until every acknowledged mark is in each page's DOM, or DRAIN_MS passed without any new mark showing in
 * either page (a backlog of earlier pushes still showing counts as progress).
 */
async function drain (pages: ConsolePage[], acked: ReadonlyMap<string, number>): Promise<void> {
  let lastProgress = Date.now()
  let lastShown = -1
  while (Date.now() - lastProgress < DRAIN_MS) {
    const counts = await Promise.all(pages.map(async ({ page }) => {
      const o = await observations(page)
      let n = 0
      for (const mark of acked.keys()) if (o.dom[mark] !== undefined) n++
      return { waited: n, shown: Object.keys(o.dom).length }
    }))
    if (counts.every((c) => c.waited === acked.size)) return
    const shown = counts.reduce((a, c) => a + c.shown, 0)
    if (shown > lastShown) { lastShown = shown; lastProgress = Date.now() }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

interface PageResult {
  page: string
  seen: number
  sent: number
  visible: LatencySummary
  /** From when the push was posted (not answered) to visible: the sender's late reading of answers cannot lower it. */
  postedVisible: LatencySummary
  frame: LatencySummary
  render: LatencySummary
  /** Over the measured pushes: the console's API requests by kind, socket frames and console events. */
  requests: Record<string, number>
  frames: number
  events: number
  /** Answered pushes the page never showed, and whether a socket frame carried any of them. */
  neverShown: string[]
  neverShownFramed: boolean
  /** Sockets the page opened so far, and the close codes of those that closed. */
  sockets: number
  closes: number[]
}

/** Each console page's API requests so far, by `METHOD path` with the openid replaced (`:openid`). */
const requestCounts = new WeakMap<Page, Map<string, number>>()

function countRequests (page: Page): void {
  const counts = new Map<string, number>()
  requestCounts.set(page, counts)
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname
    if (!path.startsWith('/api/console/')) return
    const kind = `${request.method()} ${path.slice('/api/console'.length).replace(/^\/conversations\/[^/]+/, '/conversations/:openid')}`
    counts.set(kind, (counts.get(kind) ?? 0) + 1)
  })
}

function requestsSince (page: Page, before: ReadonlyMap<string, number>): Record<string, number> {
  const since: Record<string, number> = {}
  for (const [kind, n] of requestCounts.get(page) ?? []) if (n > (before.get(kind) ?? 0)) since[kind] = n - (before.get(kind) ?? 0)
  return since
}

/** cs-messaging's /metrics (the internal token: it is not public). */
async function csMetrics (h: ConsoleHarness): Promise<string> {
  return await (await fetch(`${h.system.urls.cs}/metrics`, { headers: { 'x-internal-token': h.system.secrets.internalToken } })).text()
}

/** The bounds (s) of cs_push_ack_seconds the bench prints: where the callback's own answer time went. */
const ACK_BOUNDS = ['0.01', '0.1', '0.5', '1', '5']

async function pushMode (h: ConsoleHarness, pages: ConsolePage[], mode: 'spread' | 'open', offset: number): Promise<{ push: RatePushResult, pages: PageResult[], cpuPerPush: Record<string, number>, csAnswers: string }> {
  const callbackUrl = `${h.base}/wechat/callback`
  const secrets = { appId: h.system.secrets.appId, pushToken: h.system.secrets.pushToken, aesKey: h.system.secrets.aesKey }
  const openids = mode === 'spread'
    ? Array.from({ length: users }, (_, i) => `oConsBench${runId}${String(i).padStart(5, '0')}`)
    : [`oConsBenchOpen${runId}`]
  const run = async (offset: number, pushRate: number, seconds: number): Promise<RatePushResult> => await pushAtRateInWorker({
    callbackUrl, secrets, rate: pushRate, durationSec: seconds, openids, textPrefix: prefix, textSuffix: ' where is my order?', offset
  })
  // Warm-up, not measured: every user writes once (the conversations exist, the processes are warm).
  const warmRate = Math.min(WARMUP_RATE, rate)
  const warm = await run(offset, warmRate, Math.max(openids.length, 50) / warmRate)
  if (warm.failed > 0) console.log(`warm-up (${mode}): ${warm.failed} of ${warm.sent} pushes not answered success (e.g. ${warm.failures[0] ?? '?'})`)
  await drain(pages, warm.acked)
  if (mode === 'open') {
    const openid = openids[0]!
    for (const { page } of pages) {
      await page.locator(`[data-testid="conv-item"][data-openid="${openid}"]`).click()
      await page.locator(`[data-testid="conv-view"][data-openid="${openid}"] [data-testid="msg"]`).first().waitFor()
    }
  }
  const cpuBefore = systemCpu(h)
  const requestsBefore = pages.map(({ page }) => new Map(requestCounts.get(page)))
  const countsBefore = await Promise.all(pages.map(async ({ page }) => (await observations(page)).counts))
  const acksBefore = histogramBuckets(await csMetrics(h), 'cs_push_ack_seconds')
  const push = await run(offset + 100_000, rate, durationSec)
  const csAnswers = bucketsBetween(acksBefore, histogramBuckets(await csMetrics(h), 'cs_push_ack_seconds'), ACK_BOUNDS)
  await drain(pages, push.acked)
  const cpuAfter = systemCpu(h)
  const cpuPerPush: Record<string, number> = {}
  for (const [name, before] of Object.entries(cpuBefore)) {
    const after = cpuAfter[name]
    if (after !== undefined) cpuPerPush[name] = (after - before) / 1000 / push.sent
  }
  const results: PageResult[] = []
  for (const [i, { page }] of pages.entries()) {
    const o = await observations(page)
    const visible = latencies(push.acked, o.dom)
    const neverShown = [...push.acked.keys()].filter((m) => o.dom[m] === undefined)
    const postedVisible = latencies(new Map([...push.acked.keys()].map((m) => [m, push.posted.get(m)!])), o.dom)
    const frame = latencies(push.acked, o.frames)
    // Frame → DOM, per mark that has both.
    const render: number[] = []
    for (const m of push.acked.keys()) if (o.dom[m] !== undefined && o.frames[m] !== undefined) render.push(o.dom[m]! - o.frames[m]!)
    results.push({
      page: `agent ${i + 1}`,
      seen: visible.values.length,
      sent: push.sent,
      visible: summarize(visible.values),
      postedVisible: summarize(postedVisible.values),
      frame: summarize(frame.values),
      render: summarize(render),
      requests: requestsSince(page, requestsBefore[i]!),
      frames: o.counts.frames - countsBefore[i]!.frames,
      events: o.counts.events - countsBefore[i]!.events,
      neverShown,
      neverShownFramed: neverShown.some((m) => o.frames[m] !== undefined),
      sockets: o.sockets,
      closes: o.closes
    })
  }
  return { push, pages: results, cpuPerPush, csAnswers }
}

const PROCESSES = ['gateway', 'cs', 'realtime', 'session', 'sim'] as const

/** CPU time (µs) each process of the system has used so far (from /proc). */
function systemCpu (h: ConsoleHarness): Record<string, number> {
  const used: Record<string, number> = {}
  for (const name of PROCESSES) {
    const pid = h.system.pid(name)
    if (pid === undefined) continue
    try { used[name] = cpuMicros(pid) } catch { /* exited */ }
  }
  return used
}

async function pushBench (h: ConsoleHarness): Promise<void> {
  const pages: ConsolePage[] = []
  for (let i = 0; i < 2; i++) {
    const agent = await retried('creating an agent', async () => await h.createAgent({ displayName: `Bench ${i + 1}` }))
    pages.push(await openLoggedIn(h, agent, observerScript(prefix)))
  }
  for (const [index, mode] of modes.entries()) {
    const { push, pages: results, cpuPerPush, csAnswers } = await pushMode(h, pages, mode as 'spread' | 'open', index * 1_000_000)
    loadAverages.push(loadavg().map((l) => l.toFixed(1)).join(' '))
    const where = mode === 'spread' ? `${users} users, the list` : 'one user, its conversation open'
    console.log(`\npush → visible, ${mode} (${where}): ${push.sent} pushes at ${rate}/s offered (${push.offeredPerSec.toFixed(0)}/s handed out), ${push.acked.size} answered success, ${push.failed} failed${push.failures.length > 0 ? ` (e.g. ${push.failures.join(' | ')})` : ''}`)
    console.table(results.map((r) => ({
      page: r.page,
      'seen / sent': `${r.seen} / ${r.sent}`,
      'visible p50': ms(r.visible.p50),
      p95: ms(r.visible.p95),
      p99: ms(r.visible.p99),
      max: ms(r.visible.max),
      'posted → visible p50 / p99': `${ms(r.postedVisible.p50)} / ${ms(r.postedVisible.p99)}`,
      'ack → frame p50 / p99': `${ms(r.frame.p50)} / ${ms(r.frame.p99)}`,
      'frame → DOM p50 / p99': `${ms(r.render.p50)} / ${ms(r.render.p99)}`
    })))
    const answers = summarize(push.answerMs)
    console.log(`answers as the sender saw them (post → answer, ms): p50 ${ms(answers.p50)}, p99 ${ms(answers.p99)}, max ${ms(answers.max)}; ${push.timedOut} not answered within 5 s; the sender ${push.raisedPriority === true ? 'at nice −10' : 'at normal priority (not root: its answer times may be late)'}`)
    console.log(`cs-messaging's own answer times (cs_push_ack_seconds over the run): ${csAnswers}`)
    for (const r of results) {
      if (r.sockets > 1) console.log(`${r.page}: ${r.sockets} sockets opened so far, closes ${r.closes.join(', ')}`)
      if (r.neverShown.length > 0) console.log(`${r.page}: ${r.neverShown.length} answered pushes never shown, e.g. ${r.neverShown.slice(0, 8).map((m) => m.slice(prefix.length)).join(', ')}${r.neverShownFramed ? ' (their frames arrived)' : ' (no frame carried them)'}`)
    }
    for (const r of results) {
      const perPush = (n: number): string => (n / Math.max(1, r.sent)).toFixed(2)
      const kinds = Object.entries(r.requests).sort((a, b) => b[1] - a[1]).map(([kind, n]) => `${kind} ${n}`).join(', ')
      console.log(`${r.page}, per push: ${perPush(r.events)} console events (${perPush(r.frames)} frames), ${perPush(Object.values(r.requests).reduce((a, b) => a + b, 0))} API requests (${kinds === '' ? 'none' : kinds})`)
    }
    console.log(`server CPU per push sent (ms, from the first push to the last mark shown): ${Object.entries(cpuPerPush).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}; at ${rate}/s that is ${(Object.values(cpuPerPush).reduce((a, b) => a + b, 0) * rate / 1000).toFixed(2)} cores, before the browsers`)
    const worst = Math.max(...results.map((r) => r.visible.p99))
    const complete = results.every((r) => r.seen === r.sent) && push.failed === 0
    goals.push({
      measure: `push → visible p99, ${mode} (${rate}/s, 2 consoles)`,
      value: `${ms(worst)} ms${complete ? '' : ` (seen ${results.map((r) => r.seen).join(', ')} of ${push.sent})`}`,
      goal: `≤ ${GOAL_VISIBLE_P99_MS} ms, all seen`,
      result: complete ? verdict(worst, GOAL_VISIBLE_P99_MS) : 'MISS'
    })
  }
}

/** Logging in hashes with scrypt: on a loaded machine the gateway may give up on the session service (504). */
async function retried<T> (what: string, fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (err) {
      if (i >= attempts) throw err
      console.log(`${what} failed (${(err as Error).message.slice(0, 120)}), again`)
    }
  }
}

/** The agent's session cookie as Playwright takes it, from a login through the API. */
async function sessionCookie (h: ConsoleHarness, creds: Credentials): Promise<{ name: string, value: string, url: string }> {
  const { cookie } = await retried(`logging ${creds.login} in`, async () => await h.apiLogin(creds))
  return { name: cookie.slice(0, cookie.indexOf('=')), value: cookie.slice(cookie.indexOf('=') + 1), url: h.base }
}

/**
 * A console logged in as `creds` in a browser context of its own (the cookie of an API login: no typing, and
 * no 15 s limit on a login the loaded machine makes slow), `script` installed before the console loads; waits
 * for the list and an open socket.
 */
async function openLoggedIn (h: ConsoleHarness, creds: Credentials, script: string): Promise<ConsolePage> {
  const context = await h.browser.newContext({ baseURL: h.base, viewport: VIEWPORT })
  teardown.teardown(async () => await context.close())
  context.setDefaultTimeout(PAGE_TIMEOUT_MS)
  await context.addCookies([await sessionCookie(h, creds)])
  await context.addInitScript({ content: script })
  const page = await context.newPage()
  countRequests(page)
  await page.goto('/console/')
  await page.locator('[data-testid="socket-state"][data-state="open"]').waitFor()
  await page.getByTestId('conv-list').waitFor()
  return { context, page, errors: [], sockets: [] }
}

async function firstLoadBench (h: ConsoleHarness): Promise<void> {
  const agent = await retried('creating an agent', async () => await h.createAgent({ displayName: 'Bench loader' }))
  const { name, value } = await sessionCookie(h, agent)
  const cold: number[] = []
  const warm: number[] = []
  const coldList: number[] = []
  const readTimes = async (page: Page): Promise<FirstLoadTimes> => {
    await page.locator('[data-testid="conv-item"]').first().waitFor()
    return await page.evaluate(`window.${FIRST_LOAD_GLOBAL}`) as FirstLoadTimes
  }
  for (let i = 0; i < loads; i++) {
    const context = await h.browser.newContext({ baseURL: h.base, viewport: VIEWPORT })
    try {
      context.setDefaultTimeout(PAGE_TIMEOUT_MS)
      await context.addCookies([{ name, value, url: h.base }])
      await context.addInitScript({ content: firstLoadScript() })
      const page = await context.newPage()
      const cdp = await context.newCDPSession(page)
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
      await page.goto('/console/')
      const times = await readTimes(page)
      cold.push(times.item ?? Number.NaN)
      coldList.push(times.list ?? Number.NaN)
      if (i === 0) {
        // Warm: the same context, cache on, reloaded `loads` times.
        await cdp.send('Network.setCacheDisabled', { cacheDisabled: false })
        await page.reload()
        await readTimes(page)
        for (let j = 0; j < loads; j++) {
          await page.reload()
          warm.push((await readTimes(page)).item ?? Number.NaN)
        }
      }
    } finally {
      await context.close()
    }
  }
  const median = (v: number[]): number => percentile(v, 0.5)
  console.log(`\nfirst load, navigation start → first conversation in the list: cold (cache disabled, fresh context) ${cold.map(ms).join(', ')} ms (the empty list ${coldList.map(ms).join(', ')}); warm ${warm.map(ms).join(', ')} ms`)
  goals.push({ measure: `first load, cold (median of ${loads})`, value: `${ms(median(cold))} ms`, goal: `≤ ${GOAL_FIRST_LOAD_MS} ms`, result: verdict(median(cold), GOAL_FIRST_LOAD_MS) })
  goals.push({ measure: `first load, warm (median of ${loads})`, value: `${ms(median(warm))} ms`, goal: `≤ ${GOAL_FIRST_LOAD_MS} ms`, result: verdict(median(warm), GOAL_FIRST_LOAD_MS) })
}

function bundleSize (): void {
  const dir = join(root, 'packages/console/dist/assets')
  let gzip = 0
  for (const file of readdirSync(dir)) if (file.endsWith('.js')) gzip += gzipSync(readFileSync(join(dir, file)), { level: 9 }).length
  const kb = gzip / 1024
  goals.push({ measure: 'console JavaScript, gzip', value: `${kb.toFixed(1)} KB`, goal: `≤ ${GOAL_JS_GZIP_KB} KB`, result: verdict(kb, GOAL_JS_GZIP_KB) })
}

function listGoals (result: ListBenchResult): void {
  console.log(`\nthe list's first page: ${result.store}; filled in ${result.fillSec.toFixed(1)} s: ${result.filledIn}`)
  console.table(result.results.map((r) => ({
    filter: r.filter,
    items: r.items,
    'server p50 ms': ms(r.server.p50),
    'server p99 ms': ms(r.server.p99),
    'server max ms': ms(r.server.max),
    'round trip p50 / p99 ms': `${ms(r.roundTrip.p50)} / ${ms(r.roundTrip.p99)}`
  })))
  for (const r of result.results) {
    goals.push({ measure: `list first page, ${r.filter}, server p50 (n=${r.server.count})`, value: `${ms(r.server.p50)} ms (p99 ${ms(r.server.p99)})`, goal: `≤ ${GOAL_LIST_MS} ms`, result: verdict(r.server.p50, GOAL_LIST_MS) })
  }
}

let localRedis: LocalRedis | null = null
try {
  console.log(`pnpm bench:console, run ${runId}, ${new Date().toISOString()}, load average ${loadAverages[0]}`)
  if (!skip.has('push') || !skip.has('load')) {
    if (NO_BROWSER !== false) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or --skip push,load)`)
    if (args.redis === true && process.env.REDIS_URL === undefined) {
      localRedis = await startLocalRedis()
      if (localRedis === null) throw new Error('--redis: no redis-server to start (apt-get install redis-server)')
      process.env.REDIS_URL = localRedis.url
    }
    const h = await startConsoleHarness(teardown)
    console.log(`the system: bundled processes, ${process.env.REDIS_URL === undefined ? 'embedded (no Redis: the bus through realtime-ws\'s hub)' : `Redis ${process.env.REDIS_URL}`}; gateway ${h.base}`)
    if (!skip.has('push')) await pushBench(h)
    if (!skip.has('load')) await firstLoadBench(h)
    while (cleanups.length > 0) await cleanups.pop()!()
  }
  if (!skip.has('load')) bundleSize()
  if (!skip.has('list')) {
    listGoals(await benchList({
      conversations: Math.round(num('conversations')),
      messages: Math.round(num('messages')),
      requests: Math.round(num('list-requests')),
      mongoUrl: process.env.MONGO_URL === '' ? undefined : process.env.MONGO_URL
    }))
  }
  loadAverages.push(loadavg().map((l) => l.toFixed(1)).join(' '))
  console.log(`\ngoals (load average at start, after each push mode and at the end: ${loadAverages.join(' → ')}; 2 cores shared with other work)`)
  console.table(goals)
} finally {
  while (cleanups.length > 0) await cleanups.pop()!()
  await localRedis?.stop()
}
