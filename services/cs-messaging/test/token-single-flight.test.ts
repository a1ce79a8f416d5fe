import t from 'tap'
import { createRedis } from '@weapp/common'
import { RealTimeClock } from '@weapp/test-kit'
import { buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { redisEnv } from './fixtures/backends.js'
import { SEND_PATH, TOKEN_PATH, calls, send, sendingEnv, startSim } from './fixtures/sim.js'

const redisUrl = process.env.REDIS_URL

t.test('50 concurrent sends on a cold cache, two instances on one Redis: exactly one token fetch', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const env = redisEnv(t)
  const sim = await startSim(t, env.APP_ID)
  const clock = new RealTimeClock()
  const config = testConfig({ ...env, ...sendingEnv(sim) })
  const apps = [await buildCs(t, { config, clock }), await buildCs(t, { config, clock })]
  const redis = createRedis(redisUrl!)
  t.teardown(() => redis.quit())
  t.equal(await redis.exists(`wx:token:{${env.APP_ID}}`), 0, 'the cache is cold')

  // Ten users who just wrote: five messages each, in WeChat's windows and in ours (shared in Redis).
  const users: string[] = []
  for (let i = 0; i < 10; i++) {
    const { openid } = await sim.control.userAction({ user: `crowd-${i}`, kind: 'message' })
    await apps[0]!.sendWindows.open(openid, 'message', clock.now())
    users.push(openid)
  }
  const results = await Promise.all(Array.from({ length: 50 }, async (_, i) =>
    await send(apps[i % 2]!, { touser: users[i % 10]!, msgtype: 'text', text: { content: `message ${i}` } })))
  t.same(results.map((r) => r.statusCode), Array(50).fill(201), 'all 50 sent')
  t.equal(await calls(sim, TOKEN_PATH), 1, 'one stable_token call for both instances')
  t.equal(await calls(sim, '/cgi-bin/token'), 0, 'stable_token is the default source')
  t.equal(await calls(sim, SEND_PATH), 50)
  for (const openid of users) t.equal((await sim.control.sent({ openid })).messages.length, 5, `${openid}: five received`)
  t.equal(await redis.exists(`wx:token:{${env.APP_ID}}`), 1, 'the token is cached in Redis')

  const fetched = await Promise.all(apps.map(async (a) => Number(/cs_wechat_token_fetches_total\{result="ok"\} (\d+)/.exec((await callInternal(a, { url: '/metrics' })).body)?.[1] ?? 0)))
  t.equal(fetched[0]! + fetched[1]!, 1, 'and the metrics agree')

  // Both instances' windows are one: a sixth message to anyone is refused, whichever instance is asked.
  const sixth = await send(apps[1]!, { touser: users[0]!, msgtype: 'text', text: { content: 'sixth' } })
  t.equal(sixth.json().code, 'CS_SEND_QUOTA_EXCEEDED')
})
