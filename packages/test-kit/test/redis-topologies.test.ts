// redisTargets against real servers: each topology answers through createRedis, the servers start only
// when asked for and once per file, flush() empties every node, and REDIS_TOPOLOGIES narrows the run.
import t from 'tap'
import { createRedis, type RedisClient } from '@weapp/common'
import { redisTargets, type RedisTarget } from '../src/index.js'

const quiet = { name: 'test', log: { info: () => {}, warn: () => {} } }

/** The masters of a Cluster client (the kit does not depend on ioredis to import its class). */
const mastersOf = (redis: RedisClient): Array<{ dbsize: () => Promise<number> }> | null =>
  'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : null

/** A Teardown whose functions the test runs itself, to see what was registered. */
function ownTeardown (): { teardown: (fn: () => unknown) => void, run: () => Promise<void> } {
  const fns: Array<() => unknown> = []
  return { teardown: (fn) => { fns.push(fn) }, run: async () => { for (const fn of fns) await fn() } }
}

t.test('REDIS_TOPOLOGIES narrows the targets; an unknown name is an error, not a silent full run', async (t) => {
  const names = (env: NodeJS.ProcessEnv): Array<[string, string | false]> => redisTargets(ownTeardown(), { env }).map((x) => [x.name, x.skip])
  const fast = names({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_TOPOLOGIES: 'standalone' })
  t.same(fast.map(([name]) => name), ['standalone', 'sentinel', 'cluster'], 'every target is listed (skipped ones show in the report)')
  t.equal(fast[0]![1], false)
  t.match(fast[1]![1], /REDIS_TOPOLOGIES=standalone leaves out sentinel/)
  t.match(fast[2]![1], /REDIS_TOPOLOGIES=standalone leaves out cluster/)
  t.match(names({})[0]![1], /REDIS_URL is not set/)
  t.match(names({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_TOPOLOGIES: 'cluster' })[0]![1], /leaves out standalone/)
  t.throws(() => redisTargets(ownTeardown(), { env: { REDIS_TOPOLOGIES: 'standalone,sentinal' } }), /unknown topology "sentinal"/)
})

t.test('nothing is started until a test asks for a topology', async (t) => {
  const teardown = ownTeardown()
  redisTargets(teardown, { env: {} })
  await t.resolves(teardown.run(), 'nothing to stop, and no error')
})

t.test('the standalone target is the run\'s REDIS_URL, and refuses to be flushed (other files share it)', async (t) => {
  const [standalone] = redisTargets(ownTeardown(), { env: { REDIS_URL: 'redis://127.0.0.1:6999' } }) as [RedisTarget]
  t.same(await standalone.topology(), { kind: 'standalone', url: 'redis://127.0.0.1:6999' })
  t.same(await standalone.env(), { REDIS_URL: 'redis://127.0.0.1:6999' })
  await t.rejects(standalone.flush(), /shared by every test file/)
})

for (const target of redisTargets(t)) {
  t.test(`${target.name}: createRedis(topology) reads and writes; started once per file; flush() empties every node`, { skip: target.skip }, async (t) => {
    const topology = await target.topology()
    t.same(await target.topology(), topology, 'the second call finds the same servers')
    const env = await target.env()
    t.same(Object.keys(env).sort(), { standalone: ['REDIS_URL'], sentinel: ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME'], cluster: ['REDIS_CLUSTER_NODES'] }[target.name])
    const redis = createRedis(topology, {}, quiet)
    t.teardown(() => { redis.disconnect() })
    t.equal(mastersOf(redis) !== null, target.name === 'cluster', 'a Cluster client for the cluster only')
    const keys = Array.from({ length: 30 }, (_, i) => `test-kit:topology:${process.pid}:${i}`)
    await Promise.all(keys.map(async (k, i) => await redis.set(k, String(i))))
    t.same(await Promise.all(keys.map(async (k) => await redis.get(k))), keys.map((_, i) => String(i)))
    if (target.name === 'standalone') {
      await redis.del(...keys)
      return
    }
    const masters = mastersOf(redis)
    if (masters !== null) {
      const sizes = await Promise.all(masters.map(async (node) => await node.dbsize()))
      t.equal(sizes.filter((n) => n > 0).length, 3, `the keys are on all three masters (${sizes.join(', ')})`)
    }
    await target.flush()
    t.same(await Promise.all(keys.map(async (k) => await redis.exists(k))), keys.map(() => 0), 'every key is gone')
    if (masters !== null) {
      t.same(await Promise.all(masters.map(async (node) => await node.dbsize())), [0, 0, 0], 'every master is empty')
    }
  })
}
