// Redis refusing connections at boot: the gateway and realtime-ws start anyway (nothing they serve
// needs Redis), say `degraded`, and pick Redis up when it comes back, without a restart. First in one
// process (the gateway and the real realtime-ws), then the whole system as real processes
// (scripts/system.ts) with a real redis-server started on the refused port (scripts/redis-server.ts).
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { request } from 'undici'
import { BusChannels, RedisBus, createRedis, encodeIdentity } from '@weapp/common'
import { SimControl } from '@weapp/wechat-sim'
import { freePort, startLocalRedis, type LocalRedis } from '../../scripts/redis-server.js'
import { startSystem } from '../../scripts/system.js'
import { Client } from '../../services/realtime-ws/test/fixtures/ws-client.js'
import { LOGIN_RATE_LIMIT_KEY_PREFIX } from '../src/plugins/login-rate-limit.js'
import { bearer, startHarness } from './fixtures/gateway.js'

// redis-server is what `pnpm test:all` starts for REDIS_URL: without it there is nothing to bring back.
const skip = process.env.REDIS_URL === undefined ? 'REDIS_URL is not set (no redis-server)' : false

async function eventually<T> (probe: () => Promise<T>, ok: (value: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms
  let value = await probe()
  while (!ok(value) && Date.now() < end) {
    await sleep(100)
    value = await probe()
  }
  return value
}

/** Redis started on `port` for the rest of the test (stopped at its end). */
async function bringRedisBack (t: { teardown (fn: () => unknown): void }, port: number): Promise<LocalRedis> {
  const redis = await startLocalRedis(port)
  if (redis === null) throw new Error('redis-server could not be started')
  t.teardown(async () => { await redis.stop() })
  return redis
}

t.test('in process: the gateway and realtime-ws start while Redis refuses, report degraded, reconnect', { skip }, async (t) => {
  const port = await freePort()
  const REDIS_URL = `redis://127.0.0.1:${port}`
  const started = Date.now()
  const h = await startHarness({ env: { REDIS_URL, METRICS_PUBLIC: 'false' }, realtimeEnv: { REDIS_URL } })
  t.teardown(h.close)
  t.ok(Date.now() - started < 2000, `both started in ${Date.now() - started} ms (no wait for a Redis that refuses)`)

  t.equal((await h.call('/api/me', { headers: bearer() })).status, 200, 'sessions are served')
  const degraded = await h.call('/readyz')
  t.equal(degraded.status, 200, 'ready: traffic may come')
  t.same(degraded.json(), { status: 'degraded', upstreams: { session: 'up', 'cs-messaging': 'up', realtime: 'degraded' }, redis: 'down' })
  t.same((await h.call('/readyz', { headers: { 'x-forwarded-for': '203.0.113.9' } })).json(), { status: 'degraded' }, 'the public see the status only')
  const realtimeHealth = await h.realtime.inject('/healthz')
  t.equal(realtimeHealth.statusCode, 200)
  t.match(realtimeHealth.json(), { status: 'degraded', service: 'realtime-ws', redis: 'down' })
  t.equal((await h.call('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":"x"}' })).status, 200, 'logins go on (their limit fails open)')

  await bringRedisBack(t, port)
  const ready = await eventually(async () => await h.call('/readyz'), (r) => r.json().status === 'ok')
  t.same(ready.json(), { status: 'ok', upstreams: { session: 'up', 'cs-messaging': 'up', realtime: 'up' }, redis: 'up' }, 'reconnected, no restart')
  t.match((await h.realtime.inject('/healthz')).json(), { status: 'ok', redis: 'up' })

  const counters = createRedis(REDIS_URL)
  t.teardown(() => { counters.disconnect() })
  await h.call('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":"x"}' })
  t.ok(Number(await counters.get(`${LOGIN_RATE_LIMIT_KEY_PREFIX}127.0.0.1`)) >= 1, 'the login rate limit counts in Redis again')
})

t.test('the whole system: boots while Redis refuses, serves login and /api/me, survives a restart, reconnects', { skip, timeout: 240_000 }, async (t) => {
  const port = await freePort()
  const REDIS_URL = `redis://127.0.0.1:${port}`
  const exits: string[] = []
  const system = await startSystem({
    env: { REDIS_URL, LOG_LEVEL: 'warn' },
    // A long auth cache: a revocation that arrives is seen at once, one that does not is not.
    processEnv: { gateway: { AUTH_CACHE_TTL_MS: '600000' } },
    output: 'ignore',
    onUnexpectedExit: (name, code) => { exits.push(`${name} (${code ?? 'signal'})`) }
  })
  t.teardown(system.stop)
  const gw = system.urls.gateway
  const sim = new SimControl(system.urls.sim)
  const call = async (path: string, init: { method?: string, headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, json: any }> => {
    const res = await request(gw + path, { method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, body: init.body })
    const text = await res.body.text()
    return { status: res.statusCode, json: text === '' ? null : JSON.parse(text) }
  }
  const login = async (user: string): Promise<string> => {
    const { code } = await sim.loginCode({ user })
    const res = await call('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) })
    t.equal(res.status, 200, `login of ${user} through the gateway`)
    return res.json.token as string
  }

  const token = await login('alice')
  const me = await call('/api/me', { headers: { authorization: `Bearer ${token}` } })
  t.equal(me.status, 200)
  t.match(me.json, { openid: /./ })
  const degraded = await call('/readyz')
  t.equal(degraded.status, 200)
  t.same(degraded.json, { status: 'degraded', upstreams: { session: 'degraded', 'cs-messaging': 'degraded', realtime: 'degraded' }, redis: 'down' })

  // A restart during the outage comes back (no crash loop), and serves again.
  await system.restart('gateway')
  await system.restart('realtime')
  t.equal((await call('/api/me', { headers: { authorization: `Bearer ${token}` } })).status, 200, 'after restarting the gateway and realtime-ws')
  t.same(exits, [], 'no process exited on its own')

  await bringRedisBack(t, port)
  const ready = await eventually(async () => await call('/readyz'), (r) => r.json.status === 'ok')
  t.same(ready.json, { status: 'ok', upstreams: { session: 'up', 'cs-messaging': 'up', realtime: 'up' }, redis: 'up' }, 'every process reconnected')

  // The login rate limit counts in Redis again.
  const counters = createRedis(REDIS_URL)
  t.teardown(() => { counters.disconnect() })
  const bob = await login('bob')
  t.ok(Number(await counters.get(`${LOGIN_RATE_LIMIT_KEY_PREFIX}127.0.0.1`)) >= 1, 'login attempts counted in Redis')

  // The revocation bus works again: a logout made at the session service itself (not through this
  // gateway) reaches the gateway, which drops the token from its 10-minute cache at once.
  t.equal((await call('/api/me', { headers: { authorization: `Bearer ${bob}` } })).status, 200, 'cached')
  const resolved = await request(`${system.urls.session}/internal/resolve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-internal-token': system.secrets.internalToken },
    body: JSON.stringify({ bearer: bob })
  })
  const { identity } = await resolved.body.json() as { identity: Parameters<typeof encodeIdentity>[0] }
  const logout = await request(`${system.urls.session}/api/logout`, {
    method: 'POST',
    headers: { 'x-internal-token': system.secrets.internalToken, 'x-weapp-identity': encodeIdentity(identity) }
  })
  await logout.body.dump()
  t.equal(logout.statusCode, 204)
  const refused = await eventually(async () => await call('/api/me', { headers: { authorization: `Bearer ${bob}` } }), (r) => r.status === 401, 3000)
  t.equal(refused.status, 401, 'the revocation reached the gateway over the bus')

  // realtime-ws's subscriptions are live again: an event published on Redis reaches a socket opened through the gateway.
  const c = await Client.open(t, `${system.wsUrl}/ws`, { authorization: `Bearer ${token}` })
  await c.next()
  const publisher = new RedisBus(REDIS_URL)
  t.teardown(async () => { await publisher.close() })
  await publisher.publish(BusChannels.users, { type: 'user.push', openid: me.json.openid, event: 'after-outage', data: { n: 1 } })
  t.match(await c.nextJson(), { type: 'event', event: 'after-outage', data: { n: 1 } })
  t.same(exits, [], 'no process exited on its own')
})
