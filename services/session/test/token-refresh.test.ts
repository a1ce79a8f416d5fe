import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createRedis } from '@weapp/common'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'
import { startSimulator } from '@weapp/test-kit'
import { buildSession, callInternal, identityOf, testConfig } from './fixtures/harness.js'

const redisUrl = process.env.REDIS_URL

t.test('Redis token cache: a failed refresh ahead of expiry is logged once, without the AppSecret', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  // An app of its own, so no other test shares its token key.
  const appId = `wx${randomBytes(8).toString('hex')}`
  const key = `wx:token:{${appId}}`
  const redis = createRedis(redisUrl!)
  t.teardown(async () => {
    await redis.del(key, `${key}:lock`)
    await redis.quit()
  })
  const sim = await startSimulator(t, { apps: [{ appId, appSecret: DEFAULT_SIM_APP.appSecret }] })
  const logLines: string[] = []
  const app = await buildSession(t, { config: testConfig(sim, { APP_ID: appId, REDIS_URL: redisUrl! }), logLines })

  const { code } = await sim.control.loginCode({ user: 'alice', appId })
  const login = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code } })
  t.equal(login.statusCode, 200, login.body)
  const identity = await identityOf(app, { bearer: login.json().token })
  const addPhone = async (): Promise<number> => {
    const phone = await sim.control.phoneCode({ user: 'alice', appId })
    return (await callInternal(app, { method: 'POST', url: '/api/me/phone', identity, payload: { code: phone.code } })).statusCode
  }
  t.equal(await addPhone(), 200, 'the first call fetches the token into Redis')

  // The token is due for its refresh ahead of expiry, and WeChat stays busy (echoing the secret back).
  const stored = JSON.parse(await redis.get(key) ?? 'null') as { refreshAt: number }
  await redis.set(key, JSON.stringify({ ...stored, refreshAt: Date.now() - 1 }), 'KEEPTTL')
  await sim.control.fault({ path: '/cgi-bin/stable_token', errcode: -1, errmsg: `system error secret=${DEFAULT_SIM_APP.appSecret}`, count: 10 })
  t.equal(await addPhone(), 200, 'callers keep the current token while the refresh fails')

  const failures = (): Array<Record<string, any>> => logLines.map((l) => JSON.parse(l) as Record<string, any>).filter((l) => l.msg === 'access_token refresh failed')
  for (let i = 0; i < 100 && failures().length === 0; i++) await sleep(20)
  await sleep(200)
  t.equal(failures().length, 1, 'one line for the failed refresh (its four attempts included)')
  t.equal(failures()[0]?.level, 40, 'a warning')
  t.match(failures()[0]?.err, { code: 'WECHAT_BUSY', errcode: -1, outcome: 'answered' })
  t.equal((await sim.control.stats()).calls['/cgi-bin/stable_token'], 5, 'one fetch, then one refresh of four attempts')
  t.notOk(logLines.some((l) => l.includes(DEFAULT_SIM_APP.appSecret)), 'the AppSecret is in no log line')
})
