// `pnpm start`: the whole system on one machine with the embedded stores (no MongoDB, no Redis unless
// MONGO_URL / REDIS_URL are set): the WeChat simulator, the services and the gateway, each its own process.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'

const env = process.env
const host = env.HOST ?? '127.0.0.1'
const ports = {
  gateway: Number(env.GATEWAY_PORT ?? 8080),
  session: Number(env.SESSION_PORT ?? 8081),
  sim: Number(env.SIM_PORT ?? 8090)
}
const usingSimulator = env.WECHAT_API_BASE === undefined
const simBase = `http://${host}:${ports.sim}`

// Shared by the processes of this run only; a real deployment sets its own (see .env.example).
const shared = {
  HOST: host,
  LOG_LEVEL: env.LOG_LEVEL ?? 'info',
  INTERNAL_TOKEN: env.INTERNAL_TOKEN ?? randomBytes(32).toString('hex'),
  APP_ID: env.APP_ID ?? DEFAULT_SIM_APP.appId,
  APP_SECRET: env.APP_SECRET ?? DEFAULT_SIM_APP.appSecret,
  WECHAT_API_BASE: env.WECHAT_API_BASE ?? simBase
}

interface Proc { name: string, entry: string, port: number, extra?: Record<string, string> }
const procs: Proc[] = [
  ...(usingSimulator ? [{ name: 'wechat-sim', entry: 'packages/wechat-sim/src/server.ts', port: ports.sim }] : []),
  { name: 'session', entry: 'services/session/src/server.ts', port: ports.session },
  { name: 'gateway', entry: 'gateway/src/server.ts', port: ports.gateway, extra: { SESSION_URL: `http://${host}:${ports.session}` } }
]

const children: ChildProcess[] = []
let stopping = false

function prefix (name: string, chunk: Buffer, out: NodeJS.WriteStream): void {
  for (const line of chunk.toString('utf8').split('\n')) if (line !== '') out.write(`${name.padEnd(10)} | ${line}\n`)
}

for (const proc of procs) {
  const child = spawn(process.execPath, ['--import', 'tsx', proc.entry], {
    env: { ...env, ...shared, ...proc.extra, PORT: String(proc.port) },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout?.on('data', (c: Buffer) => prefix(proc.name, c, process.stdout))
  child.stderr?.on('data', (c: Buffer) => prefix(proc.name, c, process.stderr))
  child.on('exit', (code, signal) => {
    if (stopping) return
    console.error(`${proc.name} exited (${signal ?? code}); stopping everything`)
    void stop(1)
  })
  children.push(child)
}

async function stop (exitCode: number): Promise<void> {
  if (stopping) return
  stopping = true
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }))
  process.exit(exitCode)
}
process.on('SIGINT', () => { void stop(0) })
process.on('SIGTERM', () => { void stop(0) })

const gateway = `http://${host}:${ports.gateway}`
for (let i = 0; i < 600 && !stopping; i++) {
  try {
    const res = await fetch(`${gateway}/readyz`)
    if (res.ok) break
  } catch {}
  await sleep(100)
}
if (!stopping) {
  console.log(`
  Ready. The gateway (the only public entry) is at ${gateway}
    session service ${`http://${host}:${ports.session}`} (internal)${usingSimulator ? `\n    WeChat simulator ${simBase} (stands in for api.weixin.qq.com; test helpers under /sim)` : ''}
    stores: ${env.MONGO_URL === undefined ? 'in-memory (set MONGO_URL for MongoDB)' : 'MongoDB'}, ${env.REDIS_URL === undefined ? 'in-process (set REDIS_URL for Redis)' : 'Redis'}
  Try it (README "Walk-through"):
    curl -s -X POST ${simBase}/sim/login-code -H 'content-type: application/json' -d '{"user":"alice"}'
    curl -s -X POST ${gateway}/api/login -H 'content-type: application/json' -d '{"code":"<code from above>"}'
    curl -s ${gateway}/api/me -H 'authorization: Bearer <token from above>'
  Ctrl-C stops everything.
`)
}
