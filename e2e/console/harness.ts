// The agent console in a real browser: Debian's Chromium driven by playwright-core (never a downloaded
// browser) against the whole system as real processes (scripts/system.ts: the WeChat simulator, the three
// services and the gateway serving the built console at /console/). One system and one browser per test
// file; each test opens its own browser contexts (one per agent: separate cookies, separate sockets).
//
// Chromium missing (a bare machine): every browser test is skipped with the reason (`{ skip: NO_BROWSER }`),
// so `npm test` still ends with 0 failed. .ci/run installs it.
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { AgentView, ConsoleSession } from '@weapp/common'
import { waitFor, type Teardown } from '@weapp/test-kit'
import { SimControl, type SentResult } from '@weapp/wechat-sim'
import { chromium, type Browser, type BrowserContext, type Page, type WebSocket } from 'playwright-core'
import { startSystem, type RunningSystem } from '../../scripts/system.js'

export const CHROMIUM = '/usr/bin/chromium'
/** For `t.test(name, { skip: NO_BROWSER }, …)`: false when the browser tests can run, else why not. */
export const NO_BROWSER: string | false = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed: the console's browser tests are skipped (apt-get install chromium; .ci/run does it)`

const root = new URL('../..', import.meta.url).pathname
export const ARTIFACTS = join(root, '.artifacts', 'console')
/** The size the screenshots are taken at (the README's images). */
export const VIEWPORT = { width: 1280, height: 800 }
/** How long a live update may take to show (a 2-core machine running other test files beside this one). */
export const LIVE_MS = 15_000
/**
 * A file's time limit (tap's default is 120 s): it may bundle the stack first, then starts five processes and a
 * browser, and each test logs agents in (scrypt) and waits on live updates, beside the other test files.
 */
export const FILE_TIMEOUT_MS = 600_000

/** A 1×1 PNG, for image uploads. */
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64')

export interface Credentials { login: string, password: string }

/** A console session held by the test itself (Node's fetch): the admin creating agents, old-cookie checks. */
export interface ApiSession {
  /** `name=value`, as a Cookie header. */
  cookie: string
  csrfToken: string
  session: ConsoleSession
}

export interface ApiReply { status: number, body: any }

/** One agent's console open in a browser context of its own. */
export interface ConsolePage {
  context: BrowserContext
  page: Page
  /** console.error messages and uncaught page errors seen so far (CSP violations show here). */
  errors: string[]
  /** The console sockets (`/console/ws`) the page opened, as the browser saw them. */
  sockets: WebSocket[]
}

export interface OpenOptions {
  /** Runs on the fresh page before the console loads (e.g. `page.clock.install`). */
  beforeLoad?: (page: Page) => Promise<void>
}

export interface ConsoleHarness {
  system: RunningSystem
  sim: SimControl
  /** The gateway's origin: the console is at `${base}/console/`. */
  base: string
  browser: Browser
  admin: Credentials
  /** Logs in through the API (with the Origin the gateway checks). */
  apiLogin: (creds: Credentials) => Promise<ApiSession>
  /** A console API call as that session; `csrf: false` leaves the x-csrf-token header out. */
  api: (session: ApiSession | null, method: string, path: string, body?: unknown, opts?: { csrf?: boolean, cookie?: string }) => Promise<ApiReply>
  /** Creates an agent as the admin (random login and password unless given). */
  createAgent: (opts?: { login?: string, displayName?: string, role?: 'admin' | 'agent', password?: string }) => Promise<Credentials & { agent: AgentView }>
  /** A new browser context at /console/, not logged in, closed when the test `t` ends. */
  openConsole: (t: Teardown, opts?: OpenOptions) => Promise<ConsolePage>
  /** A new browser context logged in as `creds` (waits for the header's name and an open socket). */
  loginAs: (t: Teardown, creds: Credentials, opts?: OpenOptions) => Promise<ConsolePage>
  /** A fresh simulated user label. */
  newUser: () => string
  /** The simulated user sends (as WeChat pushes it to the callback); returns the user's openid. */
  userSends: {
    text: (user: string, content: string) => Promise<string>
    image: (user: string) => Promise<string>
    card: (user: string, card: { title: string, pagepath: string }) => Promise<string>
    sessionEntry: (user: string, sessionFrom: string) => Promise<string>
  }
  /** What WeChat delivered to the user (`/sim/sent`). */
  sent: (openid: string) => Promise<SentResult>
  /** Saves `.artifacts/console/<name>.png` (gitignored); returns its path. */
  screenshot: (page: Page, name: string) => Promise<string>
}

/**
 * Starts the system and the browser for one test file; both are stopped when the file's tests end.
 * Without REDIS_URL the stack runs on its own buses joined by realtime-ws's bus hub.
 */
export async function startConsoleHarness (file: Teardown): Promise<ConsoleHarness> {
  const redisUrl = process.env.REDIS_URL === '' ? undefined : process.env.REDIS_URL
  const system = await startSystem({
    // A process's errors and warnings show in the test output: a failing browser test often starts there.
    output: 'stderr',
    onUnexpectedExit: (name, code, signal) => { console.error(`# ${name} exited unexpectedly (${signal ?? code ?? '?'})`) },
    env: {
      REDIS_URL: redisUrl,
      LOG_LEVEL: 'warn',
      // An app of its own: its keys and bus events in a Redis shared with other test files are this file's alone.
      APP_ID: `wx${randomBytes(8).toString('hex')}`,
      APP_SECRET: randomBytes(16).toString('hex')
    },
    // Every browser logs in from 127.0.0.1; with Redis the per-IP budget is shared by the whole run.
    processEnv: { gateway: { LOGIN_RATE_LIMIT_MAX: '100000' } }
  })
  file.teardown(system.stop)
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  file.teardown(async () => await browser.close())
  const base = system.urls.gateway
  // The first admin, made by the session service at start with a password made for this run.
  const admin = system.secrets.consoleAdmin
  const sim = new SimControl(system.urls.sim)

  async function api (session: ApiSession | null, method: string, path: string, body?: unknown, opts: { csrf?: boolean, cookie?: string } = {}): Promise<ApiReply> {
    const headers: Record<string, string> = { origin: base }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const cookie = opts.cookie ?? session?.cookie
    if (cookie !== undefined) headers.cookie = cookie
    if (session !== null && opts.csrf !== false) headers['x-csrf-token'] = session.csrfToken
    const res = await fetch(base + path, { method, headers, body: body === undefined ? null : JSON.stringify(body) })
    const text = await res.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch { /* not JSON: keep the text */ }
    return { status: res.status, body: parsed }
  }

  async function apiLogin (creds: Credentials): Promise<ApiSession> {
    const res = await fetch(`${base}/api/console/login`, {
      method: 'POST',
      headers: { origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ login: creds.login, password: creds.password })
    })
    const body = await res.json() as ConsoleSession
    if (res.status !== 200) throw new Error(`console login of ${creds.login}: ${res.status} ${JSON.stringify(body)}`)
    const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => /^(__Host-)?weapp_console=./.test(c ?? ''))
    if (cookie === undefined) throw new Error(`console login of ${creds.login} set no console cookie`)
    return { cookie, csrfToken: body.csrfToken, session: body }
  }

  let adminSession: ApiSession | undefined
  async function createAgent (opts: { login?: string, displayName?: string, role?: 'admin' | 'agent', password?: string } = {}): Promise<Credentials & { agent: AgentView }> {
    adminSession ??= await apiLogin(admin)
    const id = randomUUID().slice(0, 8)
    const login = opts.login ?? `agent-${id}`
    const password = opts.password ?? randomBytes(18).toString('base64url')
    const reply = await api(adminSession, 'POST', '/api/console/agents', {
      login, displayName: opts.displayName ?? `Agent ${id}`, role: opts.role ?? 'agent', password
    })
    if (reply.status !== 201) throw new Error(`creating agent ${login}: ${reply.status} ${JSON.stringify(reply.body)}`)
    return { login, password, agent: reply.body as AgentView }
  }

  async function openConsole (t: Teardown, opts: OpenOptions = {}): Promise<ConsolePage> {
    const context = await browser.newContext({ baseURL: base, viewport: VIEWPORT })
    t.teardown(async () => await context.close())
    // A missing element fails the test after LIVE_MS, not after Playwright's 30 s.
    context.setDefaultTimeout(LIVE_MS)
    const page = await context.newPage()
    const errors: string[] = []
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
    page.on('pageerror', (err) => errors.push(`page error: ${err.message}`))
    const sockets: WebSocket[] = []
    page.on('websocket', (ws) => { if (new URL(ws.url()).pathname === '/console/ws') sockets.push(ws) })
    await opts.beforeLoad?.(page)
    await page.goto('/console/')
    return { context, page, errors, sockets }
  }

  async function loginAs (t: Teardown, creds: Credentials, opts: OpenOptions = {}): Promise<ConsolePage> {
    const opened = await openConsole(t, opts)
    const { page } = opened
    await page.getByTestId('login-login').fill(creds.login)
    await page.getByTestId('login-password').fill(creds.password)
    await page.getByTestId('login-submit').click()
    await page.getByTestId('whoami').waitFor({ timeout: LIVE_MS })
    await page.locator('[data-testid="socket-state"][data-state="open"]').waitFor({ timeout: LIVE_MS })
    return opened
  }

  async function push (user: string, message: { MsgType: string, [field: string]: string }): Promise<string> {
    const result = await sim.push({ user, message })
    if (!result.acceptable) throw new Error(`the callback refused the push of ${user}: ${JSON.stringify(result.attempts)}`)
    return String(result.message.FromUserName)
  }

  return {
    system,
    sim,
    base,
    browser,
    admin,
    apiLogin,
    api,
    createAgent,
    openConsole,
    loginAs,
    newUser: () => `user-${randomUUID().slice(0, 8)}`,
    userSends: {
      text: async (user, content) => await push(user, { MsgType: 'text', Content: content }),
      image: async (user) => await push(user, { MsgType: 'image' }),
      card: async (user, card) => await push(user, { MsgType: 'miniprogrampage', Title: card.title, PagePath: card.pagepath, AppId: system.secrets.appId }),
      sessionEntry: async (user, sessionFrom) => await push(user, { MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: sessionFrom })
    },
    sent: async (openid) => await sim.sent({ openid }),
    screenshot: async (page, name) => {
      mkdirSync(ARTIFACTS, { recursive: true })
      const path = join(ARTIFACTS, `${name}.png`)
      await page.screenshot({ path })
      return path
    }
  }
}

/**
 * Polls until `check` holds (the DOM and the simulator change asynchronously to the test), then counts it as
 * a passed assertion; throws naming `what` when it never held.
 */
export async function eventually<T> (t: { pass: (message: string) => unknown }, check: () => T | Promise<T>, what: string, timeoutMs = LIVE_MS): Promise<void> {
  await waitFor(check, { timeoutMs, what, intervalMs: 50 })
  t.pass(what)
}

/**
 * The Content-Security-Policy violations the page reported so far: anything the console does that its strict
 * policy blocks (an inline style, an eval, another host) shows as a console error naming the policy.
 */
export function cspErrors (opened: ConsolePage): string[] {
  return opened.errors.filter((e) => /Content[- ]Security[- ]Policy/i.test(e))
}

/** Whether the page opened a console socket (`/console/ws`) and every one it opened is closed now. */
export function socketsClosed (opened: ConsolePage): boolean {
  return opened.sockets.length > 0 && opened.sockets.every((ws) => ws.isClosed())
}
