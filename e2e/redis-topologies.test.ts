// The whole built stack on Redis Sentinel and on a Redis Cluster (no REDIS_URL): every process reads the
// topology from REDIS_SENTINELS + REDIS_SENTINEL_NAME or REDIS_CLUSTER_NODES. For each: a wafer login and
// /me, a push through the gateway answered `success`, processed by the worker and relayed to the user's
// /ws as cs.inbound over the Redis bus (sharded pub/sub on the Cluster), a ticket minted and used once, and
// the gateway's login rate limit counted in Redis. The servers are Debian's redis-server/redis-sentinel on
// free ports (scripts/redis-topologies.ts).
import { spawnSync } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { createRedis, redisTopologyFromEnv, type RedisTopology } from '@weapp/common'
import { waitFor } from '@weapp/test-kit'
import { SimControl } from '@weapp/wechat-sim'
import t from 'tap'
import { startRedisCluster, startRedisSentinel } from '../scripts/redis-topologies.js'
import { startSystem } from '../scripts/system.js'
import { Client, refusal } from '../services/realtime-ws/test/fixtures/ws-client.js'

/** Frames through the gateway's relay on a 2-core machine running other test files. */
const FRAME_MS = 10_000
const WAFER_MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A'
/** gateway/src/plugins/login-rate-limit.ts: one counter per client address. */
const LOGIN_COUNTER_PREFIX = 'weapp:gateway:login:'

function missing (): string | false {
  const absent = ['redis-server', 'redis-sentinel', 'redis-cli'].filter((b) => spawnSync(b, ['--version'], { stdio: 'ignore' }).status !== 0)
  return absent.length === 0 ? false : `${absent.join(', ')} not installed (apt-get install redis-server redis-sentinel)`
}
const skip = missing()
// Two stacks and two sets of Redis servers, one after the other, on a loaded 2-core machine.
t.setTimeout(360_000)

interface Started {
  env: Record<string, string>
  stop: () => Promise<void>
}

const topologies: Record<'sentinel' | 'cluster', { describe: RegExp, start: () => Promise<Started> }> = {
  sentinel: {
    describe: /^sentinel weapp via 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/,
    start: async () => {
      const s = await startRedisSentinel('weapp')
      return { env: { REDIS_SENTINELS: s.sentinelList, REDIS_SENTINEL_NAME: s.name }, stop: s.stop }
    }
  },
  cluster: {
    describe: /^cluster via 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/,
    start: async () => {
      const c = await startRedisCluster()
      // Three masters without replicas: PUSH_DURABILITY's default on a Cluster is local (nothing could confirm a replicated push).
      return { env: { REDIS_CLUSTER_NODES: c.nodeList }, stop: c.stop }
    }
  }
}

for (const [name, spec] of Object.entries(topologies)) {
  t.test(`${name}: the whole stack`, { skip }, async (t) => {
    const redis = await spec.start()
    let stopSystem = async (): Promise<void> => {}
    t.teardown(async () => {
      await stopSystem()
      await redis.stop()
    })
    const system = await startSystem({
      output: 'stderr',
      onUnexpectedExit: (process, code, signal) => { console.error(`# ${process} exited unexpectedly (${signal ?? code ?? '?'})`) },
      env: { LOG_LEVEL: 'warn', APP_ID: `wx${randomBytes(8).toString('hex')}`, APP_SECRET: randomBytes(16).toString('hex'), ...redis.env }
    })
    stopSystem = system.stop
    const topology = redisTopologyFromEnv(redis.env) as RedisTopology
    const counters = createRedis(topology, {}, { log: { info: () => {}, warn: () => {} } })
    t.teardown(() => { counters.disconnect() })
    const sim = new SimControl(system.urls.sim)
    const gateway = system.urls.gateway
    let loginCalls = 0

    t.test('every service is on the topology and says so (no password in /healthz)', async (t) => {
      for (const process of ['session', 'cs', 'realtime'] as const) {
        const health = await waitFor(async () => {
          const body = await (await fetch(`${system.urls[process]}/healthz`)).json() as Record<string, unknown>
          return body.redis === 'up' ? body : false
        }, { timeoutMs: 20_000, intervalMs: 100, what: `${process}'s Redis up` })
        t.match(health, { status: 'ok', redis: 'up', redisTopology: spec.describe }, process)
      }
      const ready = await (await fetch(`${gateway}/readyz`)).json() as Record<string, unknown>
      t.match(ready, { status: 'ok', redis: 'up' }, 'the gateway\'s rate limits and bus')
    })

    t.test('a wafer login and /me', async (t) => {
      const { code, openid, userInfo } = await sim.loginCode({ user: `wafer-${randomUUID()}` })
      loginCalls++
      const login = await fetch(`${gateway}/login`, { headers: { 'x-wx-code': code, 'x-wx-encrypted-data': userInfo.encryptedData, 'x-wx-iv': userInfo.iv } })
      const body = await login.json() as Record<string, any>
      t.equal(body[WAFER_MAGIC], 1, 'logged in')
      const me = await fetch(`${gateway}/me`, { headers: { 'x-wx-id': body.session.id, 'x-wx-skey': body.session.skey } })
      t.equal(me.status, 200)
      t.match(await me.json(), { openId: openid })
    })

    async function login (user: string): Promise<{ token: string, openid: string }> {
      const { code, openid } = await sim.loginCode({ user })
      loginCalls++
      const res = await fetch(`${gateway}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
      if (res.status !== 200) throw new Error(`login: ${res.status} ${await res.text()}`)
      return { token: ((await res.json()) as { token: string }).token, openid }
    }

    t.test('a push answered success reaches the worker and the user\'s /ws over the bus', async (t) => {
      const label = `cs-${randomUUID()}`
      const user = await login(label)
      const c = await Client.open(t, `${system.wsUrl}/ws`, { authorization: `Bearer ${user.token}` }, { timeoutMs: FRAME_MS })
      t.match(await c.next(), /^Server: /, 'greeted')
      const pushed = await sim.push({ user: label, message: { MsgType: 'text', Content: `hello over ${name}` } })
      t.equal(pushed.acceptable, true, 'cs-messaging acknowledged the push')
      t.equal(pushed.reply?.kind, 'success')
      let frame: Record<string, any> = {}
      while (frame.event !== 'cs.inbound') frame = await c.nextJson(FRAME_MS)
      t.match(frame, { type: 'event', event: 'cs.inbound', data: { openid: user.openid, message: { MsgType: 'text', Content: `hello over ${name}` } } })
      const admin = { authorization: `Bearer ${system.secrets.adminKey!}` }
      const listed = await waitFor(async () => {
        const res = await fetch(`${gateway}/api/cs/conversations`, { headers: admin })
        const page = await res.json() as { items?: Array<{ openid: string }> }
        return page.items?.some((i) => i.openid === user.openid) ?? false
      }, { timeoutMs: 20_000, intervalMs: 100, what: 'the conversation in the admin API' })
      t.ok(listed, 'the worker recorded the conversation')
    })

    t.test('a ticket is minted and used once', async (t) => {
      const user = await login(`ticket-${randomUUID()}`)
      const issued = await fetch(`${gateway}/api/ws/tickets`, { method: 'POST', headers: { authorization: `Bearer ${user.token}` } })
      t.equal(issued.status, 200, 'ticket issued')
      const { url } = await issued.json() as { url: string }
      const c = await Client.open(t, `${system.wsUrl}${url}`, {}, { timeoutMs: FRAME_MS })
      t.equal(await c.next(), `Server: 恭喜，${user.openid}`)
      const again = await refusal(`${system.wsUrl}${url}`)
      t.equal(again.status, 401, 'a used ticket is refused')
      t.equal(again.body.code, 'WS_TICKET_INVALID')
    })

    t.test('the gateway\'s login rate limit counts in Redis', async (t) => {
      const res = await fetch(`${gateway}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 'not-a-code' }) })
      loginCalls++
      t.equal(res.status >= 400 && res.status < 500, true, 'refused, and counted')
      const counted = await counters.get(`${LOGIN_COUNTER_PREFIX}127.0.0.1`) ?? await counters.get(`${LOGIN_COUNTER_PREFIX}::ffff:127.0.0.1`)
      t.equal(Number(counted), loginCalls, 'every login call of this stack, one shared counter')
      t.equal(Number(res.headers.get('x-ratelimit-remaining')), 30 - loginCalls, 'as the gateway answered it')
    })
  })
}
