import t from 'tap'
import { BusChannels, RedisBus, createRedis, type BusEvent } from '@weapp/common'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'
import { ManualClock, startSimulator } from '@weapp/test-kit'
import { credentialHash } from '../src/sessions/credentials.js'
import { buildSession, callInternal, loginBearer, testConfig } from './fixtures/harness.js'

const redisUrl = process.env.REDIS_URL

t.test('with REDIS_URL: shared access_token in Redis, session.revoked on Redis pub/sub', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const url = redisUrl!
  const redis = createRedis(url)
  t.teardown(async () => { await redis.quit() })
  const tokenKey = `wx:token:{${DEFAULT_SIM_APP.appId}}`
  await redis.del(tokenKey)
  t.teardown(async () => { await redis.del(tokenKey) })

  const sim = await startSimulator(t)
  const config = testConfig(sim, { REDIS_URL: url })
  // Two instances of the service share one token through Redis.
  const a = await buildSession(t, { config, clock: new ManualClock() })
  const b = await buildSession(t, { config, clock: new ManualClock() })

  const bus = new RedisBus(url)
  t.teardown(() => bus.close())
  const events: BusEvent[] = []
  await bus.subscribe(BusChannels.sessions, (e) => { events.push(e) })

  const alice = await loginBearer(a, sim, 'alice')
  const bob = await loginBearer(b, sim, 'bob')
  for (const [app, who] of [[a, alice], [b, bob], [a, alice]] as const) {
    const { code } = await sim.control.phoneCode({ user: app === a ? 'alice' : 'bob' })
    const res = await callInternal(app, { method: 'POST', url: '/api/me/phone', identity: who.identity, payload: { code } })
    t.equal(res.statusCode, 200)
  }
  t.equal((await sim.control.stats()).calls['/cgi-bin/stable_token'], 1, 'one token fetch for both instances')
  t.ok(await redis.exists(tokenKey), `token cached under ${tokenKey}`)

  t.equal((await callInternal(a, { method: 'POST', url: '/api/logout', identity: alice.identity })).statusCode, 204)
  const deadline = performance.now() + 2000
  while (events.length === 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(events, [{ type: 'session.revoked', sessionId: alice.identity.sessionId, credentialHashes: [credentialHash({ kind: 'bearer', token: alice.token })] }])
})
