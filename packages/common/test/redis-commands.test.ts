// Lua scripts as ioredis script commands (defineRedisScripts) against a real redis-server: what goes over
// the wire (MONITOR), SCRIPT FLUSH between calls with the client options the services use, and the
// guards of the helper itself.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { Cluster, Redis } from 'ioredis'
import { createRedis, defineRedisScripts, redisScript, type RedisScriptClient } from '@weapp/common'
import { startRedisCluster } from '../../../scripts/redis-topologies.js'

const url = process.env.REDIS_URL
const skip = url === undefined || url === '' ? 'REDIS_URL is not set' : false

/** KEYS[1] a counter, ARGV[1] a step: the counter after adding the step. */
const ADD = redisScript<number>({ name: 'testRedisCommandsAdd', numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" })
/** KEYS[1], KEYS[2]: the key names as the script sees them. */
const KEY_NAMES = redisScript<[string, string]>({ name: 'testRedisCommandsKeyNames', numberOfKeys: 2, lua: 'return { KEYS[1], KEYS[2] }' })
const SCRIPTS = { add: ADD, keyNames: KEY_NAMES }

function client (t: Test, make: () => Redis): Redis {
  const redis = make()
  t.teardown(() => { redis.disconnect() })
  return redis
}

/** A key of this test, deleted when it ends. */
function testKey (t: Test, admin: Redis): string {
  const key = `test:redis-commands:${randomBytes(6).toString('hex')}`
  t.teardown(async () => { await admin.del(key) })
  return key
}

async function until (condition: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not reached')
    await sleep(10)
  }
}

t.test('a script is sent once per connection, then by its SHA; after SCRIPT FLUSH it is sent again by itself', { skip }, async (t) => {
  const admin = client(t, () => new Redis(url!))
  const redis = client(t, () => createRedis(url!))
  const key = testKey(t, admin)
  const monitor = await admin.monitor()
  t.teardown(() => { monitor.disconnect() })
  const sent: string[] = []
  monitor.on('monitor', (_time: string, args: string[]) => {
    const command = String(args[0]).toLowerCase()
    // MONITOR also shows the commands a script runs: only how the script itself was sent counts here.
    if (args.includes(key) && (command === 'eval' || command === 'evalsha')) sent.push(command)
  })

  const { add } = defineRedisScripts(redis, SCRIPTS)
  t.equal(await add([key], [1]), 1)
  t.equal(await add([key], [2]), 3)
  t.equal(await add([key], [3]), 6)
  await admin.script('FLUSH')
  t.equal(await add([key], [4]), 10, 'the call after SCRIPT FLUSH still works')
  t.equal(await add([key], [5]), 15)
  await until(() => sent.length >= 6)
  t.same(sent, ['eval', 'evalsha', 'evalsha', 'evalsha', 'eval', 'evalsha'], 'NOSCRIPT answered by sending the script again, once')
})

t.test('SCRIPT FLUSH between calls, with the client options the services use', { skip }, async (t) => {
  const admin = client(t, () => new Redis(url!))
  const clients: Record<string, () => Redis> = {
    'auto-pipelined (createRedis)': () => createRedis(url!),
    'no offline queue (the gateway, cs-messaging)': () => createRedis(url!, { enableOfflineQueue: false, maxRetriesPerRequest: 1 }),
    'no auto-pipelining': () => new Redis(url!, { enableAutoPipelining: false })
  }
  for (const [name, make] of Object.entries(clients)) {
    t.test(name, async (t) => {
      const redis = client(t, make)
      const key = testKey(t, admin)
      // Without an offline queue a command before `ready` fails at once (as in the services at boot).
      if (redis.status !== 'ready') await once(redis, 'ready')
      const { add } = defineRedisScripts(redis, SCRIPTS)
      t.equal(await add([key], [1]), 1)
      await admin.script('FLUSH')
      // Concurrent calls share one pipeline: every one of them meets NOSCRIPT and is sent again.
      const results = await Promise.all(Array.from({ length: 20 }, async () => await add([key], [1])))
      t.same([...results].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 2))
      t.equal(await add([key], [0]), 21)
    })
  }
})

t.test('keys go in KEYS, with the client\'s keyPrefix', { skip }, async (t) => {
  const prefixed = client(t, () => createRedis(url!, { keyPrefix: 'test:prefix:' }))
  t.same(await defineRedisScripts(prefixed, SCRIPTS).keyNames(['a', '{b}c'], []), ['test:prefix:a', 'test:prefix:{b}c'])
  const plain = client(t, () => createRedis(url!))
  t.same(await defineRedisScripts(plain, SCRIPTS).keyNames(['a', 'b']), ['a', 'b'])
})

t.test('a duplicate() of a client has none of its scripts, and gets them defined on its own', { skip }, async (t) => {
  const admin = client(t, () => new Redis(url!))
  const redis = client(t, () => createRedis(url!))
  const key = testKey(t, admin)
  await defineRedisScripts(redis, SCRIPTS).add([key], [1])
  const copy = client(t, () => redis.duplicate({ enableAutoPipelining: false }))
  t.notOk(ADD.name in copy, 'scripts are not copied')
  t.equal(await defineRedisScripts(copy, SCRIPTS).add([key], [1]), 2)
})

t.test('defining scripts again on a client reuses them; a clashing name is refused', async (t) => {
  const redis = client(t, () => new Redis({ lazyConnect: true }))
  const first = defineRedisScripts(redis, SCRIPTS)
  const command = (redis as unknown as Record<string, unknown>)[ADD.name]
  t.type(command, 'function')
  const second = defineRedisScripts(redis, { add: ADD })
  t.equal((redis as unknown as Record<string, unknown>)[ADD.name], command, 'the command is not redefined')
  t.type(first.add, 'function')
  t.type(second.add, 'function')

  const other = redisScript<number>({ name: ADD.name, numberOfKeys: 1, lua: 'return 0' })
  t.throws(() => defineRedisScripts(redis, { other }), /another script of that name/)
  // ioredis's own commands and methods: defining one would replace it for every user of the client.
  for (const name of ['get', 'eval', 'quit', 'duplicate']) {
    t.throws(() => defineRedisScripts(redis, { s: redisScript({ name, numberOfKeys: 0, lua: 'return 0' }) }), /already has a command of that name/, name)
  }
  t.type(redis.get, 'function')
})

t.test('a call with the wrong number of keys is refused before anything is sent', async (t) => {
  const redis: RedisScriptClient = client(t, () => new Redis({ lazyConnect: true }))
  const { add, keyNames } = defineRedisScripts(redis, SCRIPTS)
  await t.rejects(add([], [1]), { name: 'TypeError', message: /takes 1 keys, got 0/ })
  await t.rejects(keyNames(['a']), /takes 2 keys, got 1/)
  t.equal((redis as Redis).status, 'wait', 'never connected')
})

const clusterSkip = spawnSync('redis-cli', ['--version']).status === 0 && spawnSync('redis-server', ['--version']).status === 0 ? false : 'redis-server and redis-cli are not installed'
t.test('Redis Cluster: each call runs on the master owning its keys, also after SCRIPT FLUSH on every master', { skip: clusterSkip }, async (t) => {
  const topology = await startRedisCluster()
  t.teardown(topology.stop)
  const cluster = new Cluster(topology.masters.map(({ host, port }) => ({ host, port })), { enableAutoPipelining: true })
  t.teardown(() => { cluster.disconnect() })
  const { add, keyNames } = defineRedisScripts(cluster, SCRIPTS)
  // Thirty counters land on all three masters; concurrent calls are auto-pipelined per node.
  const keys = Array.from({ length: 30 }, (_, i) => `counter:${i}`)
  t.same(await Promise.all(keys.map(async (key) => await add([key], [1]))), keys.map(() => 1))
  await Promise.all(cluster.nodes('master').map(async (node) => await node.script('FLUSH')))
  t.same(await Promise.all(keys.map(async (key) => await add([key], [2]))), keys.map(() => 3))
  t.same(await keyNames(['{user:1}:a', '{user:1}:b']), ['{user:1}:a', '{user:1}:b'], 'keys of one hash tag go together')
  await t.rejects(keyNames(['user:1:a', 'user:2:b']), /same slot|CROSSSLOT/, 'keys of two slots are refused (by ioredis or by Redis)')
})
