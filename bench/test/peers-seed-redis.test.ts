// bench:peers' seed peer with its sessions in Redis: the tutorial's server with connect-redis in place of
// connect-mongo (SESSION_STORE=redis) logs a wafer gen-1 user in, keeps the session in Redis under its
// prefix, and answers /me from it, also after a restart of the process (the session is not in its heap).
import { randomBytes } from 'node:crypto'
import { DEFAULT_SIM_APP } from '@weapp/wechat-sim'
import { startSimulator } from '@weapp/test-kit'
import t from 'tap'
import { stopAll } from '../lib/processes.js'
import { startSeed, waferLogin, waferMe } from '../lib/seed-peer.js'
import { askRedis, freePort } from '../../scripts/redis-server.js'

const redisUrl = process.env.REDIS_URL
if (redisUrl === undefined || redisUrl === '') {
  t.plan(0, 'REDIS_URL not set (pnpm test:all starts a redis-server)')
} else {
  const { url: simUrl, control } = await startSimulator(t)
  const prefix = `bench-peers-test:${randomBytes(4).toString('hex')}:`
  const redisPort = Number(new URL(redisUrl).port || 6379)
  const options = {
    wechatApiBase: simUrl,
    appId: DEFAULT_SIM_APP.appId,
    appSecret: DEFAULT_SIM_APP.appSecret,
    env: { SESSION_STORE: 'redis', REDIS_URL: redisUrl, SESSION_PREFIX: prefix }
  }
  const port = await freePort()
  let seed = await startSeed('seed', port, options)
  t.teardown(async () => { await stopAll([seed]) })

  t.test('a wafer login is kept in Redis (connect-redis) and /me answers from it, across a restart', async (t) => {
    const session = await waferLogin(seed.url, control, 'carol')
    const stored = await askRedis(redisPort, `GET ${prefix}${session.id}`)
    t.match(stored, /"openId"/, 'the session (with its userInfo) is under the prefix in Redis')
    t.equal((await waferMe(seed.url, session)).nickName, 'carol')

    await stopAll([seed])
    seed = await startSeed('seed', port, options)
    t.equal((await waferMe(seed.url, session)).nickName, 'carol', 'the restarted process finds the session in Redis')
    await askRedis(redisPort, `DEL ${prefix}${session.id}`)
  })

  t.test('a session Redis does not have is refused as the tutorial refuses it', async (t) => {
    const res = await fetch(`${seed.url}/me`, { headers: { 'x-wx-id': 'f'.repeat(64), 'x-wx-skey': 'a'.repeat(40) } })
    const body = await res.json() as { error?: string, message?: string }
    t.equal(body.error, 'ERR_INVALID_SESSION')
  })
}
