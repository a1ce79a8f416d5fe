// The whole system as real processes: the WeChat simulator, the three services and the gateway, each its
// own Node process. `pnpm start` runs it on fixed ports; end-to-end tests (nginx, the mini-program SDK)
// run it on free ports. One definition of which process gets which environment, so both stay the same.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { readSecretFile } from '@weapp/common/secret-file'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim/defaults'
import { ensureBuilt, PRODUCTION_NODE_FLAGS } from './build.js'
import { freePort } from './redis-server.js'

export type ProcessName = 'sim' | 'session' | 'cs' | 'realtime' | 'gateway'

export interface SystemOptions {
  /** Fixed ports; a missing one is picked free. */
  ports?: Partial<Record<ProcessName, number>>
  host?: string
  /**
   * Environment given to every process (MONGO_URL, LOG_LEVEL, a Redis topology: REDIS_URL, or
   * REDIS_SENTINELS + REDIS_SENTINEL_NAME, or REDIS_CLUSTER_NODES, with REDIS_USERNAME/PASSWORD/TLS…),
   * over the parent's when `inheritEnv`.
   */
  env?: Record<string, string | undefined>
  /** Extra environment per process. */
  processEnv?: Partial<Record<ProcessName, Record<string, string>>>
  /** Pass the parent's environment on (pnpm start: yes; tests: no, so a developer's shell cannot leak in). */
  inheritEnv?: boolean
  /** 'prefix': each line prefixed with the process name (pnpm start); 'ignore' (tests); 'stderr': errors only. */
  output?: 'prefix' | 'ignore' | 'stderr'
  /** Called when a process exits on its own (not through stop/restart). */
  onUnexpectedExit?: (name: ProcessName, code: number | null, signal: NodeJS.Signals | null) => void
  /** Use a real WeChat (or another simulator) at this base instead of starting the simulator. */
  wechatApiBase?: string
}

export interface RunningSystem {
  host: string
  ports: Record<ProcessName, number>
  urls: Record<ProcessName, string>
  /** ws://host:gatewayPort */
  wsUrl: string
  usingSimulator: boolean
  /** Secrets of this run (tests need them to sign pushes or to call as an admin). */
  secrets: { internalToken: string, appId: string, appSecret: string, pushToken: string, aesKey: string, adminKey: string | undefined, adminApiKeys: string, consoleAdmin: { login: string, password: string } }
  pid: (name: ProcessName) => number | undefined
  /** Stops one process gracefully (SIGTERM) and starts it again on the same port, waiting until healthy. */
  restart: (name: ProcessName) => Promise<void>
  /** Stops one process (SIGTERM, SIGKILL after 10 s). */
  stopProcess: (name: ProcessName) => Promise<void>
  /** Starts a process stopped with stopProcess again. */
  startProcess: (name: ProcessName) => Promise<void>
  /** Stops everything (SIGTERM, then SIGKILL after 10 s). */
  stop: () => Promise<void>
}

// The bundled entries (scripts/build.ts), run as production runs them (Dockerfile): plain node with the
// production flags (source-mapped stack traces, a small young generation).
const ENTRIES: Record<ProcessName, string> = {
  sim: 'packages/wechat-sim/dist/server.js',
  session: 'services/session/dist/server.js',
  cs: 'services/cs-messaging/dist/server.js',
  realtime: 'services/realtime-ws/dist/server.js',
  gateway: 'gateway/dist/server.js'
}
const root = new URL('..', import.meta.url).pathname
/** Any of these configures Redis (packages/common/src/redis-topology.ts); none: the bus hub. */
const REDIS_TOPOLOGY_VARIABLES = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const

export async function startSystem (options: SystemOptions = {}): Promise<RunningSystem> {
  const unbundled = ensureBuilt()
  if (unbundled.length > 0) throw new Error(`could not bundle ${unbundled.join(', ')} (above)`)
  const host = options.host ?? '127.0.0.1'
  const given = options.env ?? {}
  const usingSimulator = options.wechatApiBase === undefined
  const names: ProcessName[] = usingSimulator ? ['sim', 'session', 'cs', 'realtime', 'gateway'] : ['session', 'cs', 'realtime', 'gateway']
  const ports = {} as Record<ProcessName, number>
  for (const name of ['sim', 'session', 'cs', 'realtime', 'gateway'] as const) ports[name] = options.ports?.[name] ?? await freePort()
  const urls = Object.fromEntries(Object.entries(ports).map(([n, p]) => [n, `http://${host}:${p}`])) as Record<ProcessName, string>

  // Secrets left unset are made for this run only: the internal token, the push Token and
  // EncodingAESKey (shared by cs-messaging and the simulator's push sender), one admin key.
  const adminKey = given.ADMIN_API_KEYS === undefined ? randomBytes(32).toString('base64url') : undefined
  // A password file is handed on as the file (the session service reads it as loadConfig reads every *_FILE).
  const consoleAdminPasswordFile = given.CONSOLE_ADMIN_PASSWORD === undefined && (given.CONSOLE_ADMIN_PASSWORD_FILE ?? '') !== '' ? given.CONSOLE_ADMIN_PASSWORD_FILE : undefined
  const secrets = {
    internalToken: given.INTERNAL_TOKEN ?? randomBytes(32).toString('hex'),
    appId: given.APP_ID ?? DEFAULT_SIM_APP.appId,
    appSecret: given.APP_SECRET ?? DEFAULT_SIM_APP.appSecret,
    pushToken: given.WECHAT_TOKEN ?? randomBytes(16).toString('hex'),
    // 43 characters of base64: what the WeChat console generates.
    aesKey: given.WECHAT_ENCODING_AES_KEY ?? randomBytes(32).toString('base64').slice(0, 43),
    adminKey,
    adminApiKeys: given.ADMIN_API_KEYS ?? `dev:${adminKey!}`,
    // The agent console's first admin (docs/console.md#sessions): a random password for this run unless given.
    consoleAdmin: { login: given.CONSOLE_ADMIN_LOGIN ?? 'admin', password: given.CONSOLE_ADMIN_PASSWORD ?? (consoleAdminPasswordFile !== undefined ? readSecretFile(consoleAdminPasswordFile) : randomBytes(18).toString('base64url')) }
  }
  const consoleAdminPassword: Record<string, string> = consoleAdminPasswordFile !== undefined
    ? { CONSOLE_ADMIN_PASSWORD_FILE: consoleAdminPasswordFile }
    : { CONSOLE_ADMIN_PASSWORD: secrets.consoleAdmin.password }
  const shared: Record<string, string> = {
    HOST: host,
    LOG_LEVEL: given.LOG_LEVEL ?? 'info',
    INTERNAL_TOKEN: secrets.internalToken,
    APP_ID: secrets.appId,
    APP_SECRET: secrets.appSecret,
    WECHAT_API_BASE: options.wechatApiBase ?? urls.sim
  }
  const push = { WECHAT_TOKEN: secrets.pushToken, WECHAT_ENCODING_AES_KEY: secrets.aesKey }
  const envOf: Record<ProcessName, Record<string, string>> = {
    sim: {
      SIM_APP_ID: secrets.appId,
      SIM_APP_SECRET: secrets.appSecret,
      SIM_PUSH_URL: given.SIM_PUSH_URL ?? `${urls.gateway}/wechat/callback`,
      SIM_PUSH_TOKEN: secrets.pushToken,
      SIM_PUSH_AES_KEY: secrets.aesKey,
      SIM_PUSH_MODE: given.SIM_PUSH_MODE ?? 'safe',
      SIM_PUSH_FORMAT: given.SIM_PUSH_FORMAT ?? 'xml'
    },
    session: {
      CONSOLE_ADMIN_LOGIN: secrets.consoleAdmin.login,
      ...consoleAdminPassword,
      // session_keys at rest (required with MONGO_URL): a key for this run unless given.
      SESSION_KEY_ENCRYPTION_KEY: given.SESSION_KEY_ENCRYPTION_KEY ?? randomBytes(32).toString('base64')
    },
    cs: push,
    realtime: { SESSION_URL: urls.session },
    gateway: { SESSION_URL: urls.session, CS_MESSAGING_URL: urls.cs, REALTIME_WS_URL: urls.realtime, ADMIN_API_KEYS: secrets.adminApiKeys, METRICS_PUBLIC: given.METRICS_PUBLIC ?? 'true' }
  }

  const base: Record<string, string> = {}
  const parent = options.inheritEnv === true ? process.env : { PATH: process.env.PATH ?? '' }
  for (const [k, v] of Object.entries({ ...parent, ...given })) if (v !== undefined) base[k] = v
  // Without Redis, realtime-ws serves the bus hub and the other services join it: one bus for the stack
  // (docs/console.md#without-redis-the-bus-hub). They may start first: their hub clients retry until it is up.
  if (!REDIS_TOPOLOGY_VARIABLES.some((k) => (base[k] ?? '') !== '') && (base.BUS_HUB_URL ?? '') === '') {
    const busHubUrl = `${urls.realtime.replace(/^http/, 'ws')}/internal/bus`
    for (const name of ['session', 'cs', 'gateway'] as const) envOf[name].BUS_HUB_URL = busHubUrl
  }

  const children = new Map<ProcessName, ChildProcess>()
  const expectedExit = new Set<ChildProcess>()

  async function launch (name: ProcessName): Promise<void> {
    const child = spawn(process.execPath, [...PRODUCTION_NODE_FLAGS, ENTRIES[name]], {
      cwd: root,
      env: { ...base, ...shared, ...envOf[name], ...options.processEnv?.[name], PORT: String(ports[name]) },
      stdio: ['ignore', options.output === 'prefix' ? 'pipe' : 'ignore', options.output === 'ignore' ? 'ignore' : 'pipe']
    })
    if (options.output === 'prefix') child.stdout?.on('data', (c: Buffer) => prefix(name, c, process.stdout))
    if (options.output !== 'ignore') child.stderr?.on('data', (c: Buffer) => prefix(name, c, process.stderr))
    child.on('exit', (code, signal) => {
      if (!expectedExit.has(child)) options.onUnexpectedExit?.(name, code, signal)
    })
    children.set(name, child)
    await waitHealthy(name, child)
  }

  async function waitHealthy (name: ProcessName, child: ChildProcess): Promise<void> {
    const path = '/healthz'
    for (let i = 0; i < 3000; i++) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.signalCode ?? child.exitCode}) before it was ready`)
      try {
        const res = await fetch(urls[name] + path)
        if (res.ok) return
      } catch {}
      await sleep(20)
    }
    throw new Error(`${name} did not answer ${path} within 60 s`)
  }

  async function stopProcess (name: ProcessName): Promise<void> {
    const child = children.get(name)
    if (child === undefined) return
    children.delete(name)
    expectedExit.add(child)
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }

  const system: RunningSystem = {
    host,
    ports,
    urls,
    wsUrl: `ws://${host}:${ports.gateway}`,
    usingSimulator,
    secrets,
    pid: (name) => children.get(name)?.pid,
    restart: async (name) => { await stopProcess(name); await launch(name) },
    stopProcess,
    startProcess: launch,
    stop: async () => { await Promise.all([...children.keys()].map(stopProcess)) }
  }
  // All at once: no process needs another to boot (the gateway's /readyz and realtime-ws's calls to the
  // session service happen per request), so the stack is ready in the slowest one's time, not the sum.
  const launched = await Promise.allSettled(names.map(launch))
  const failed = launched.find((r) => r.status === 'rejected')
  if (failed !== undefined) {
    await system.stop()
    throw failed.reason
  }
  return system
}

function prefix (name: string, chunk: Buffer, out: NodeJS.WriteStream): void {
  for (const line of chunk.toString('utf8').split('\n')) if (line !== '') out.write(`${name.padEnd(9)} | ${line}\n`)
}
