// PUSH_DURABILITY=replicated against real servers (scripts/redis-topologies.ts): a push is answered success
// only once its record is on a replica; with the replica stopped (SIGSTOP) it is answered 503
// CS_PUSH_NOT_REPLICATED, the retry too, and the retry after the replica is back is recorded once.
import { spawnSync } from 'node:child_process'
import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { createRedis, redisTopologyFromEnv, type RedisStateLog } from '@weapp/common'
import { pauseRedis } from './fixtures/redis-pause.js'
import { RealTimeClock, callPublic, startRedisCluster, startRedisSentinel, type RedisSentinelTopology } from '@weapp/test-kit'
import { APP_ID, buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { buildPush, textMessage } from './fixtures/push.js'
import { RedisInboundQueue } from '../src/queue/redis.js'
import { ReplicatedWrite } from '../src/queue/replicated-write.js'
import { ENQUEUE_ONCE } from '../src/queue/scripts.js'
import type { InboundMessage } from '@weapp/common'

const installed = (binary: string): boolean => spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0
const skip = installed('redis-sentinel') && installed('redis-cli') ? false : 'redis-server, redis-sentinel and redis-cli are not installed'
const quiet: RedisStateLog = { info: () => {}, warn: () => {} }
const REPLICA_WAIT_MS = 300

function message (id: string): InboundMessage {
  return { ToUserName: 'gh_0123456789ab', FromUserName: 'oDurable', CreateTime: 1_700_000_000, MsgType: 'text', Content: 'hi', MsgId: id }
}

async function sentinelSet (t: Test): Promise<{ topology: RedisSentinelTopology, client: () => Redis }> {
  const topology = await startRedisSentinel('weapp')
  t.teardown(topology.stop)
  const client = (): Redis => {
    const redis = createRedis(redisTopologyFromEnv({ REDIS_SENTINELS: topology.sentinelList, REDIS_SENTINEL_NAME: topology.name })!, {}, { name: 'test', log: quiet }) as Redis
    t.teardown(() => { redis.disconnect() })
    return redis
  }
  return { topology, client }
}

t.test('replicated: success once on the replica; replica stopped: refused, the retry too; back: recorded once', { skip }, async (t) => {
  const { topology, client } = await sentinelSet(t)
  const replica = new Redis({ host: topology.replica.host, port: topology.replica.port, lazyConnect: true })
  t.teardown(() => { replica.disconnect() })
  const appId = 'wxd0000000000000a1'
  const first = new RedisInboundQueue({ redis: client(), appId, dedupTtlSec: 3600, replicaWaitMs: REPLICA_WAIT_MS })
  // A second instance: its own connections, which never wrote the first copy.
  const second = new RedisInboundQueue({ redis: client(), appId, dedupTtlSec: 3600, replicaWaitMs: REPLICA_WAIT_MS })
  t.teardown(async () => { await first.close(); await second.close() })
  t.equal(first.durability, 'replicated')

  t.equal(await first.enqueueOnce('msg:1', message('1'), new Date()), 'queued', 'answered with the replica up')
  t.ok(await replica.exists(first.keys.dedup('msg:1')), 'the de-dup key is on the replica when the push is answered')
  t.equal(await second.enqueueOnce('msg:1', message('1'), new Date()), 'duplicate')

  const resume = await pauseRedis(t, topology.replica)
  await t.rejects(first.enqueueOnce('msg:2', message('2'), new Date()), { code: 'CS_PUSH_NOT_REPLICATED', statusCode: 503 }, 'not confirmed: refused (WeChat retries)')
  await t.rejects(first.enqueueOnce('msg:2', message('2'), new Date()), { code: 'CS_PUSH_NOT_REPLICATED' }, 'the retry on the same instance is not answered either')
  await t.rejects(second.enqueueOnce('msg:2', message('2'), new Date()), { code: 'CS_PUSH_NOT_REPLICATED' }, 'nor on another instance, whose connection never wrote the first copy')
  await t.rejects(second.enqueueOnce('msg:1', message('1'), new Date()), { code: 'CS_PUSH_NOT_REPLICATED' }, 'a duplicate is answered only once a replica confirms too')
  const local = new RedisInboundQueue({ redis: client(), appId, dedupTtlSec: 3600 })
  t.equal(local.durability, 'local')
  t.equal(await local.enqueueOnce('msg:3', message('3'), new Date()), 'queued', 'local: answered once the primary has it, replica or not')

  resume()
  t.equal(await second.enqueueOnce('msg:2', message('2'), new Date()), 'duplicate', 'the retry after the replica is back: success, as a duplicate')
  const entries = await client().xrange(first.keys.stream, '-', '+')
  const keys = entries.map(([, f]) => f[f.indexOf('key') + 1])
  t.same(keys, ['msg:1', 'msg:2', 'msg:3'], 'each push recorded once')
  t.ok(await replica.exists(first.keys.dedup('msg:2')), 'and on the replica')

  // The worker's ack is replicated too: a failover would otherwise undo it, and the other instance would
  // process the message again. Not confirmed: it throws (the worker acks again); confirmed: on the replica.
  // A read is WAITed for too: on the replica, the delivery is already pending under its consumer, so a
  // promoted replica would not hand it to another instance as new.
  const primary = new Redis({ host: topology.primary.host, port: topology.primary.port })
  t.teardown(() => { primary.disconnect() })
  const waits = async (): Promise<number> => Number(/cmdstat_wait:calls=(\d+)/.exec(await primary.info('commandstats'))?.[1] ?? 0)
  const waitsBefore = await waits()
  const [delivery] = await first.read('worker-a', 1, 0)
  t.equal(delivery?.key, 'msg:1')
  t.equal(await waits(), waitsBefore + 1, 'the read was followed by one WAIT')
  const pendingOnReplica = await replica.xpending(first.keys.stream, 'workers', '-', '+', 10) as Array<[string, string]>
  t.same(pendingOnReplica.map(([id, consumer]) => [id, consumer]), [[delivery!.id, 'worker-a']], 'pending on the replica under its consumer when read returns')
  const resumeAgain = await pauseRedis(t, topology.replica)
  await t.rejects(first.ack(delivery!), { code: 'CS_ACK_NOT_REPLICATED' }, 'an ack no replica confirmed throws')
  const [unconfirmed] = await first.read('worker-b', 1, 0)
  t.equal(unconfirmed?.key, 'msg:2', 'a read no replica confirmed is processed all the same (the primary is up)')
  resumeAgain()
  await first.ack(delivery!)
  t.equal(await replica.xlen(first.keys.stream), 2, 'the acked entry is gone on the replica when ack returns')
})

t.test('the push route: 503 CS_PUSH_NOT_REPLICATED while the replica is stopped, counted; the retry is answered success', { skip }, async (t) => {
  const { topology, client } = await sentinelSet(t)
  const clock = new RealTimeClock()
  const queue = new RedisInboundQueue({ redis: client(), appId: APP_ID, dedupTtlSec: 3600, replicaWaitMs: REPLICA_WAIT_MS })
  t.teardown(async () => { await queue.close() })
  const app = await buildCs(t, { config: testConfig({ WORKER_ENABLED: 'false' }), clock, queue })
  const push = buildPush(textMessage('oRoute', 'hello', clock.seconds), { mode: 'safe', format: 'xml', timestamp: clock.seconds })

  const resume = await pauseRedis(t, topology.replica)
  const refused = await callPublic(app, { method: 'POST', url: push.url, payload: push.payload })
  t.equal(refused.statusCode, 503)
  t.equal(refused.json().code, 'CS_PUSH_NOT_REPLICATED')
  const metrics = (await callInternal(app, { url: '/metrics' })).body
  t.match(metrics, /cs_push_not_replicated_total 1\b/, 'counted')

  resume()
  const retried = await callPublic(app, { method: 'POST', url: push.url, payload: push.payload })
  t.equal(retried.statusCode, 200)
  t.equal(retried.body, 'success')
  t.equal((await queue.stats()).length, 1, 'recorded once')
})

t.test('Cluster: the WAIT goes to the node that owns the queue\'s slot (no replicas there: refused, not misrouted)', { skip }, async (t) => {
  const cluster = await startRedisCluster()
  t.teardown(cluster.stop)
  const redis = createRedis(redisTopologyFromEnv({ REDIS_CLUSTER_NODES: cluster.nodeList })!, {}, { name: 'test', log: quiet })
  t.teardown(() => { redis.disconnect() })
  const write = new ReplicatedWrite({ redis, script: ENQUEUE_ONCE, timeoutMs: 100 })
  t.teardown(() => { write.close() })
  // Keys of several slots, so some are owned by a node other than the one a keyless command would reach.
  for (const appId of ['wxc0000000000000a1', 'wxc0000000000000b2', 'wxc0000000000000c3']) {
    const keys = [`cs:{${appId}}:dedup:msg:1`, `cs:{${appId}}:inbound`]
    await t.rejects(write.run(keys, [60, 'msg:1', JSON.stringify(message('1')), new Date().toISOString(), 1]), { code: 'CS_PUSH_NOT_REPLICATED' }, `${appId}: written on its node, 0 replicas confirmed`)
    t.ok(await redis.exists(keys[0]!), 'the script ran on the owning node')
  }
})

t.test('PUSH_DURABILITY: replicated by default with Sentinel, local with a Cluster (asked for explicitly), one server or none', async (t) => {
  t.equal(testConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' }).PUSH_DURABILITY, 'local', 'Cluster: its masters may have no replica')
  t.equal(testConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', PUSH_DURABILITY: 'replicated' }).PUSH_DURABILITY, 'replicated', 'Cluster, asked for')
  t.equal(testConfig().PUSH_DURABILITY, 'local', 'embedded')
  t.equal(testConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).PUSH_DURABILITY, 'local', 'one server')
  t.equal(testConfig({ REDIS_URL: 'redis://127.0.0.1:6379', PUSH_DURABILITY: 'replicated' }).PUSH_DURABILITY, 'replicated', 'asked for')
  t.equal(testConfig({ REDIS_URL: 'redis+sentinel://127.0.0.1:26379/weapp' }).PUSH_DURABILITY, 'replicated', 'Sentinel')
  t.equal(testConfig({ REDIS_URL: 'redis+sentinel://127.0.0.1:26379/weapp', PUSH_DURABILITY: 'local' }).PUSH_DURABILITY, 'local', 'local asked for')
  t.throws(() => testConfig({ PUSH_DURABILITY: 'replicated' }), { code: 'COMMON_CONFIG_INVALID', message: /PUSH_DURABILITY=replicated needs Redis/ }, 'replicated without Redis')
  t.throws(() => testConfig({ REDIS_URL: 'redis+sentinel://127.0.0.1:26379/weapp', PUSH_REPLICA_WAIT_MS: '3000' }), { message: /PUSH_REPLICA_WAIT_MS must be smaller than PUSH_ACK_TIMEOUT_MS/ })
  t.throws(() => testConfig({ PUSH_DURABILITY: 'always' }), { code: 'COMMON_CONFIG_INVALID' })
})
