// `pnpm start`: the whole system on one machine with the embedded stores (no MongoDB, no Redis unless
// MONGO_URL / REDIS_URL are set): the WeChat simulator, the services and the gateway, each its own process.
// Secrets left unset get development values made for this run only: the internal token, the push Token
// and EncodingAESKey (shared by cs-messaging and the simulator's push sender), and one admin API key,
// which is printed once in the ready banner (the curl examples need it) and nowhere else.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'

const env = process.env
const host = env.HOST ?? '127.0.0.1'
const ports = {
  gateway: Number(env.GATEWAY_PORT ?? 8080),
  session: Number(env.SESSION_PORT ?? 8081),
  cs: Number(env.CS_PORT ?? 8082),
  ws: Number(env.WS_PORT ?? 8083),
  sim: Number(env.SIM_PORT ?? 8090)
}
const usingSimulator = env.WECHAT_API_BASE === undefined
const simBase = `http://${host}:${ports.sim}`
const gateway = `http://${host}:${ports.gateway}`

// Shared by the processes of this run only; a real deployment sets its own (see .env.example).
const shared = {
  HOST: host,
  LOG_LEVEL: env.LOG_LEVEL ?? 'info',
  INTERNAL_TOKEN: env.INTERNAL_TOKEN ?? randomBytes(32).toString('hex'),
  APP_ID: env.APP_ID ?? DEFAULT_SIM_APP.appId,
  APP_SECRET: env.APP_SECRET ?? DEFAULT_SIM_APP.appSecret,
  WECHAT_API_BASE: env.WECHAT_API_BASE ?? simBase
}

// The message-push configuration (console: 消息推送配置): the same values for cs-messaging and for the
// simulator, which plays WeChat's push sender and delivers to the gateway's public /wechat/callback.
const push = {
  WECHAT_TOKEN: env.WECHAT_TOKEN ?? randomBytes(16).toString('hex'),
  // 43 characters of base64: what the console generates.
  WECHAT_ENCODING_AES_KEY: env.WECHAT_ENCODING_AES_KEY ?? randomBytes(32).toString('base64').slice(0, 43)
}

// One admin key for this run unless ADMIN_API_KEYS is set; only the gateway gets it.
const generatedAdminKey = env.ADMIN_API_KEYS === undefined ? randomBytes(32).toString('base64url') : undefined
const adminApiKeys = env.ADMIN_API_KEYS ?? `dev:${generatedAdminKey!}`

interface Proc { name: string, entry: string, port: number, extra?: Record<string, string> }
const procs: Proc[] = [
  ...(usingSimulator
    ? [{
        name: 'wechat-sim',
        entry: 'packages/wechat-sim/src/server.ts',
        port: ports.sim,
        extra: {
          SIM_APP_ID: shared.APP_ID,
          SIM_APP_SECRET: shared.APP_SECRET,
          SIM_PUSH_URL: env.SIM_PUSH_URL ?? `${gateway}/wechat/callback`,
          SIM_PUSH_TOKEN: push.WECHAT_TOKEN,
          SIM_PUSH_AES_KEY: push.WECHAT_ENCODING_AES_KEY,
          SIM_PUSH_MODE: env.SIM_PUSH_MODE ?? 'safe',
          SIM_PUSH_FORMAT: env.SIM_PUSH_FORMAT ?? 'xml'
        }
      }]
    : []),
  { name: 'session', entry: 'services/session/src/server.ts', port: ports.session },
  { name: 'cs', entry: 'services/cs-messaging/src/server.ts', port: ports.cs, extra: push },
  { name: 'realtime', entry: 'services/realtime-ws/src/server.ts', port: ports.ws, extra: { SESSION_URL: `http://${host}:${ports.session}` } },
  {
    name: 'gateway',
    entry: 'gateway/src/server.ts',
    port: ports.gateway,
    extra: { SESSION_URL: `http://${host}:${ports.session}`, CS_MESSAGING_URL: `http://${host}:${ports.cs}`, REALTIME_WS_URL: `http://${host}:${ports.ws}`, ADMIN_API_KEYS: adminApiKeys }
  }
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

for (let i = 0; i < 600 && !stopping; i++) {
  try {
    const res = await fetch(`${gateway}/readyz`)
    if (res.ok) break
  } catch {}
  await sleep(100)
}
if (!stopping) {
  const adminKeyLine = generatedAdminKey === undefined
    ? '    admin keys: from ADMIN_API_KEYS'
    : `    admin key (this run only): ${generatedAdminKey}`
  const pushLine = usingSimulator
    ? `    the simulator's pushes (POST ${simBase}/sim/push) go to ${env.SIM_PUSH_URL ?? `${gateway}/wechat/callback`} (${env.SIM_PUSH_MODE ?? 'safe'} mode, ${env.SIM_PUSH_FORMAT ?? 'xml'})`
    : '    message push URL: /wechat/callback (WECHAT_TOKEN / WECHAT_ENCODING_AES_KEY as configured)'
  console.log(`
  Ready. The gateway (the only public entry) is at ${gateway}
    session service ${`http://${host}:${ports.session}`}, cs-messaging ${`http://${host}:${ports.cs}`}, realtime-ws ${`http://${host}:${ports.ws}`} (internal)${usingSimulator ? `\n    WeChat simulator ${simBase} (stands in for api.weixin.qq.com; test helpers under /sim)` : ''}
    stores: ${env.MONGO_URL === undefined ? 'in-memory (set MONGO_URL for MongoDB)' : 'MongoDB'}, ${env.REDIS_URL === undefined ? 'in-process (set REDIS_URL for Redis)' : 'Redis'}
${pushLine}
${adminKeyLine}
  Try it (README "Walk-through"):
    curl -s -X POST ${simBase}/sim/login-code -H 'content-type: application/json' -d '{"user":"alice"}'
    curl -s -X POST ${gateway}/api/login -H 'content-type: application/json' -d '{"code":"<code from above>"}'
    curl -s ${gateway}/api/me -H 'authorization: Bearer <token from above>'
    curl -s -X POST ${simBase}/sim/push -H 'content-type: application/json' -d '{"user":"alice","message":{"MsgType":"text","Content":"hi"}}'
    curl -s ${gateway}/api/cs/conversations -H 'authorization: Bearer <admin key>'
    WebSocket (greeting, then echo): node -e "const ws = new (require('ws'))('ws://${host}:${ports.gateway}/ws', { headers: { authorization: 'Bearer <token>' } }); ws.on('message', (m) => { console.log(String(m)); ws.send('hi') })"
      (run it from services/realtime-ws, where ws is installed; or POST ${gateway}/api/ws/tickets for a single-use /ws?ticket=…)
  Ctrl-C stops everything.
`)
}
