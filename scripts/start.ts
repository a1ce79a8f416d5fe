// `pnpm start`: the whole system on one machine, bundled as production runs it (built first when a
// source changed: scripts/build.ts), with the embedded stores (no MongoDB, no Redis unless
// MONGO_URL / a Redis topology is set): the WeChat simulator, the services and the gateway, each its own process
// (scripts/system.ts). Secrets left unset get development values made for this run only: the internal
// token, the push Token and EncodingAESKey (shared by cs-messaging and the simulator's push sender), one
// admin API key and the agent console's admin password, printed once in the ready banner (the curl examples
// and the console's login need them) and nowhere else.
// package.json runs this file bundled by esbuild into .run/start.mjs (one level below the root, as here:
// system.ts and build.ts find the root from import.meta.url) under plain node: tsx would cost the start
// about 1 s of CPU and a second Node process.
import { startSystem, type RunningSystem } from './system.js'

const env = process.env
const startedAt = performance.now()

/** The banner's word for the Redis topology (the services parse and check it; this only names it). */
function redisStore (): string {
  const set = (name: string): boolean => (env[name] ?? '') !== ''
  if (set('REDIS_SENTINELS') || (env.REDIS_URL ?? '').includes('+sentinel://')) return 'Redis with Sentinel'
  if (set('REDIS_CLUSTER_NODES')) return 'Redis Cluster'
  if (set('REDIS_URL')) return 'Redis'
  return 'in-process, one bus through realtime-ws (set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES for Redis)'
}
const port = (value: string | undefined, fallback: number): number => Number(value ?? fallback)
let system: RunningSystem | undefined
let stopping = false

async function stop (exitCode: number): Promise<void> {
  if (stopping) return
  stopping = true
  await system?.stop()
  process.exit(exitCode)
}
process.on('SIGINT', () => { void stop(0) })
process.on('SIGTERM', () => { void stop(0) })

try {
  system = await startSystem({
    host: env.HOST ?? '127.0.0.1',
    ports: { gateway: port(env.GATEWAY_PORT, 8080), session: port(env.SESSION_PORT, 8081), cs: port(env.CS_PORT, 8082), realtime: port(env.WS_PORT, 8083), sim: port(env.SIM_PORT, 8090) },
    env: { ...env, LOG_LEVEL: env.LOG_LEVEL ?? 'info' },
    inheritEnv: true,
    output: 'prefix',
    wechatApiBase: env.WECHAT_API_BASE,
    onUnexpectedExit: (name, code, signal) => {
      if (stopping) return
      console.error(`${name} exited (${signal ?? code}); stopping everything`)
      void stop(1)
    }
  })
} catch (err) {
  console.error(`could not start: ${(err as Error).message}`)
  await stop(1)
}

if (system !== undefined && !stopping) {
  const { urls, secrets, usingSimulator, host, ports } = system
  const gateway = urls.gateway
  const simBase = urls.sim
  const pushUrl = env.SIM_PUSH_URL ?? `${gateway}/wechat/callback`
  const adminKeyLine = secrets.adminKey === undefined
    ? '    admin keys: from ADMIN_API_KEYS'
    : `    admin key (this run only): ${secrets.adminKey}`
  const consoleAdminLine = env.CONSOLE_ADMIN_PASSWORD === undefined && env.CONSOLE_ADMIN_PASSWORD_FILE === undefined
    ? `    agent console ${gateway}/console/: login ${secrets.consoleAdmin.login}, password (this run only) ${secrets.consoleAdmin.password}`
    : `    agent console ${gateway}/console/: login ${secrets.consoleAdmin.login} (${env.CONSOLE_ADMIN_PASSWORD === undefined ? 'CONSOLE_ADMIN_PASSWORD_FILE' : 'CONSOLE_ADMIN_PASSWORD'} as given)`
  const pushLine = usingSimulator
    ? `    the simulator's pushes (POST ${simBase}/sim/push) go to ${pushUrl} (${env.SIM_PUSH_MODE ?? 'safe'} mode, ${env.SIM_PUSH_FORMAT ?? 'xml'})`
    : '    message push URL: /wechat/callback (WECHAT_TOKEN / WECHAT_ENCODING_AES_KEY as configured)'
  console.log(`
  Ready in ${((performance.now() - startedAt) / 1000).toFixed(1)} s. The gateway (the only public entry) is at ${gateway}
    session service ${urls.session}, cs-messaging ${urls.cs}, realtime-ws ${urls.realtime} (internal)${usingSimulator ? `\n    WeChat simulator ${simBase} (stands in for api.weixin.qq.com; test helpers under /sim)` : ''}
    stores: ${env.MONGO_URL === undefined ? 'in-memory (set MONGO_URL for MongoDB)' : 'MongoDB'}, ${redisStore()}
${pushLine}
${adminKeyLine}
${consoleAdminLine}
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
