// The fixed-window counter of the login rate limit and the failed-authentication limit, against real
// Redis topologies with the gateway's client options (no offline queue).
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { createRedis, incrWindow } from '@weapp/common'
import { flushRedisScripts, redisTargets } from '@weapp/test-kit'

// On one server, behind Sentinel and on a three-master Cluster.
for (const target of redisTargets(t)) {
  t.test(`${target.name}: counts hits in a window started by the first, and keeps counting after SCRIPT FLUSH`, { skip: target.skip }, async (t) => {
    const redis = createRedis(await target.topology(), { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 })
    t.teardown(() => { redis.disconnect() })
    if (redis.status !== 'ready') await once(redis, 'ready')
    const key = `test:window:${randomBytes(6).toString('hex')}`
    t.teardown(async () => { await redis.del(key) })

    const [first, ttl] = await incrWindow(redis, key, 60_000)
    t.equal(first, 1)
    t.ok(ttl > 59_000 && ttl <= 60_000, `the window starts with the first hit (${ttl} ms left)`)
    t.equal((await incrWindow(redis, key, 60_000))[0], 2)
    await flushRedisScripts(redis)
    const [third, left] = await incrWindow(redis, key, 60_000)
    t.equal(third, 3, 'the server forgot the script: ioredis sent it again (NOSCRIPT) and the count went on')
    t.ok(left > 0 && left <= ttl, 'in the same window')
    t.equal(await redis.get(key), '3')
  })
}
