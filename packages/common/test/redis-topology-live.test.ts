// createRedis against real topologies from Debian's redis-server/redis-sentinel (@weapp/test-kit): a
// Sentinel-watched primary killed with SIGKILL, a client that quits, and a three-master Cluster.
import { spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Cluster, Redis } from 'ioredis'
import { RedisAccessTokenProvider } from '@weapp/wechat'
import { redisTargets, startRedisCluster, startRedisSentinel, waitFor } from '@weapp/test-kit'
import { createRedis, redisState, type RedisStateLog } from '../src/redis.js'
import { redisTopologyFromEnv } from '../src/redis-topology.js'

const installed = (binary: string): boolean => spawnSync(binary, ['--version']).status === 0
const skip = installed('redis-sentinel') && installed('redis-cli') ? false : 'redis-server, redis-sentinel and redis-cli are not installed'

function quietLog (): RedisStateLog & { warnings: number } {
  const log = { warnings: 0, info: () => {}, warn: () => { log.warnings++ } }
  return log
}

t.test('Sentinel: the client follows a failover after SIGKILL of the primary, without a restart', { skip }, async (t) => {
  const topology = await startRedisSentinel('weapp')
  t.teardown(topology.stop)
  const redis = createRedis(redisTopologyFromEnv({ REDIS_SENTINELS: topology.sentinelList, REDIS_SENTINEL_NAME: 'weapp' })!, {}, { name: 'test', log: quietLog() })
  t.teardown(() => { redis.disconnect() })
  t.ok(redis instanceof Redis)
  await redis.set('before', '1')
  t.equal(redisState(redis), 'up')
  const port = async (): Promise<number> => Number((await redis.config('GET', 'port') as string[])[1])
  t.equal(await port(), topology.primary.port, 'connected to the primary the sentinels name')

  await topology.primary.kill('SIGKILL')
  // Sentinel needs ~2 s here when the machine is quiet; a loaded machine can take several election rounds.
  const deadline = performance.now() + 60_000
  let written = false
  while (!written && performance.now() < deadline) {
    written = await redis.set('after', '2').then(() => true, async () => { await sleep(100); return false })
  }
  t.ok(written, 'writes resume on the promoted replica')
  t.equal(await redis.get('before'), '1', 'what was replicated before the failover is there')
  const role = await redis.call('ROLE') as [string]
  t.equal(role[0], 'master')
  t.equal(await port(), topology.replica.port, 'now on the promoted replica')
  t.equal(redisState(redis), 'up')
})

const sentinel = redisTargets(t).find((target) => target.name === 'sentinel')!
t.test('Sentinel: a client ended with QUIT leaves no connection open to the sentinels', { skip: sentinel.skip }, async (t) => {
  const topology = await sentinel.topology()
  if (topology.kind !== 'sentinel') throw new Error('a sentinel target must give a sentinel topology')
  const admins = topology.sentinels.map(({ host, port }) => new Redis({ host, port }))
  t.teardown(() => { for (const admin of admins) admin.disconnect() })
  // The client's own connections to the sentinels are the subscribed ones (the failover detector's
  // +switch-master); counting every client would also count the sentinels' links to each other, which
  // come and go on their own.
  const connections = async (): Promise<number> => {
    const lists = await Promise.all(admins.map(async (admin) => String(await admin.call('CLIENT', 'LIST'))))
    return lists.flatMap((list) => list.split('\n')).filter((line) => /\b(?:p?sub)=[1-9]/.test(line)).length
  }
  const before = await connections()
  const redis = createRedis(topology, {}, { name: 'test', log: quietLog() })
  await redis.set('quit-test', '1')
  // The failover detector subscribes to +switch-master on every sentinel once the client is ready.
  await waitFor(async () => await connections() >= before + topology.sentinels.length, { timeoutMs: 10_000, what: 'the failover detector\'s connections' })
  await redis.quit()
  await waitFor(async () => await connections() === before, { timeoutMs: 10_000, what: 'the sentinels to see every connection of the client closed' })
  t.equal(redis.status, 'end')
})

t.test('Cluster: one client over three masters, keys spread over the slots, hash-tagged keys together', { skip }, async (t) => {
  const topology = await startRedisCluster()
  t.teardown(topology.stop)
  const cluster = createRedis(redisTopologyFromEnv({ REDIS_CLUSTER_NODES: topology.masters[0]!.host + ':' + String(topology.masters[0]!.port) })!, {}, { name: 'test', log: quietLog() })
  t.teardown(() => { cluster.disconnect() })
  if (!(cluster instanceof Cluster)) throw new Error('a cluster topology must give an ioredis Cluster')
  const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`)
  await Promise.all(keys.map(async (k, i) => await cluster.set(k, String(i))))
  t.same(await Promise.all(keys.map(async (k) => await cluster.get(k))), keys.map((_, i) => String(i)))
  const owners = new Set(await Promise.all(keys.map(async (k) => {
    const slot = await cluster.cluster('KEYSLOT', k)
    return cluster.slots[slot]?.[0]
  })))
  t.equal(owners.size, 3, 'the keys live on all three masters')
  // A multi-key command works when its keys share a hash tag, and is refused across slots.
  await cluster.mset('{user:1}:a', 'x', '{user:1}:b', 'y')
  t.same(await cluster.mget('{user:1}:a', '{user:1}:b'), ['x', 'y'])
  await t.rejects(cluster.mset('user:1:a', 'x', 'user:2:b', 'y'), /CROSSSLOT|keys in a pipeline command should belong to the same slot/)
  t.equal(redisState(cluster), 'up')

  // The access-token cache's scripts touch the token and its lock together: one slot (the app id is the hash tag).
  let fetches = 0
  const tokens = (): RedisAccessTokenProvider => new RedisAccessTokenProvider({
    redis: cluster as unknown as Redis,
    appId: 'wxcluster0000001',
    fetch: async () => { fetches++; return { accessToken: `token-${fetches}`, expiresIn: 7200 } }
  })
  const [a, b] = [tokens(), tokens()]
  t.same(await Promise.all([a.getToken(), b.getToken(), a.getToken()]), ['token-1', 'token-1', 'token-1'], 'two providers on the cluster share one fetched token')
  t.equal(fetches, 1)
  t.equal(await cluster.cluster('KEYSLOT', a.key), await cluster.cluster('KEYSLOT', a.lockKey), 'the token and its lock share a slot')
  t.equal(await tokens().getToken(), 'token-1', 'a new provider reads it from the cluster')
})
