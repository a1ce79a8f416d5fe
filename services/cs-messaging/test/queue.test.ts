import t from 'tap'
import { createRedis, defineRedisScripts } from '@weapp/common'
import { flushRedisScripts, redisKeys, redisTargets } from '@weapp/test-kit'
import { MemoryInboundQueue } from '../src/queue/memory.js'
import { queueKeys, RedisInboundQueue } from '../src/queue/redis.js'
import { QUEUE_SCRIPTS } from '../src/queue/scripts.js'
import { queueContract } from './fixtures/queue-contract.js'
import { redisScope } from './fixtures/redis-scope.js'

t.test('memory queue', async (t) => {
  queueContract(t, async (deadLetters) => {
    let offset = 0
    const queue = new MemoryInboundQueue({ dedupTtlMs: 60_000, ...(deadLetters !== undefined ? { deadLetters } : {}), now: () => Date.now() + offset })
    t.teardown(() => queue.close())
    return { queue, advance: (ms) => { offset += ms } }
  })
})

// The same contract on one server, behind Sentinel and on a three-master Cluster (started once for the file).
const targets = redisTargets(t)
for (const target of targets) {
  t.test(`Redis queue (${target.name})`, { skip: target.skip }, async (t) => {
    const { redis, newAppId } = redisScope(t, await target.topology())
    queueContract(t, async (deadLetters) => {
    // Keys of their own per subtest; Redis' TTLs run on its own clock, so the dedup TTL is checked
    // by letting a 1-second key expire for real in the test below, not by moving our clock.
      const appId = newAppId()
      let offset = 0
      const queue = new RedisInboundQueue({ redis, appId, dedupTtlSec: 60, ...(deadLetters !== undefined ? { deadLetters } : {}), now: () => Date.now() + offset })
      t.teardown(() => queue.close())
      return {
        queue,
        advance: async (ms) => {
          offset += ms
          // Expire the dedup keys as if the TTL had passed (Redis keeps its own time).
          if (ms >= 60_000) {
            const keys = await redisKeys(redis, `cs:{${appId}}:dedup:*`)
            if (keys.length > 0) await redis.del(...keys)
          }
        }
      }
    })

    t.test('the dedup key really expires (Redis TTL)', async (t) => {
      const appId = newAppId()
      const queue = new RedisInboundQueue({ redis, appId, dedupTtlSec: 1 })
      t.teardown(() => queue.close())
      const m = { ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'text', MsgId: '1' }
      t.equal(await queue.enqueueOnce('msg:1', m, new Date()), 'queued')
      const ttl = await redis.ttl(`cs:{${appId}}:dedup:msg:1`)
      t.ok(ttl > 0 && ttl <= 1)
      await new Promise((resolve) => setTimeout(resolve, 1100))
      t.equal(await queue.enqueueOnce('msg:1', m, new Date()), 'queued')
    })

    t.test('a failed dedup SET leaves no stream entry behind (all or nothing)', async (t) => {
      const appId = newAppId()
      const queue = new RedisInboundQueue({ redis, appId, dedupTtlSec: 60 })
      t.teardown(() => queue.close())
      const m = { ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'text', MsgId: '1' }
      // SET fails for real with an invalid TTL: the script must then delete the entry it had added.
      await t.rejects(defineRedisScripts(redis, QUEUE_SCRIPTS).enqueueOnce([`cs:{${appId}}:dedup:msg:x`, `cs:{${appId}}:inbound`], [-5, 'msg:x', JSON.stringify(m), new Date().toISOString()]), /invalid expire/)
      t.equal(await redis.xlen(`cs:{${appId}}:inbound`), 0, 'the XADD was undone')
      t.equal(await redis.exists(`cs:{${appId}}:dedup:msg:x`), 0)
      t.equal(await queue.enqueueOnce('msg:x', m, new Date()), 'queued', 'and the message can still be recorded')
    })

    t.test('parked malformed entries count against DEAD_LETTER_MAX too', async (t) => {
      const appId = newAppId()
      const queue = new RedisInboundQueue({ redis, appId, dedupTtlSec: 60, deadLetters: { max: 2, retentionMs: 86_400_000 } })
      t.teardown(() => queue.close())
      await queue.read('w', 1, 0) // creates the group
      for (let i = 0; i < 3; i++) await redis.xadd(`cs:{${appId}}:inbound`, '*', 'key', `msg:bad${i}`, 'msg', '{not json', 'at', '', 'n', '0')
      for (let i = 0; i < 3; i++) await redis.zadd(`cs:{${appId}}:retry`, 0, `not a json member ${i}`)
      t.same(await queue.read('w', 10, 0), [])
      t.equal(await queue.promoteDue(), 3)
      t.equal(await redis.xlen(`cs:{${appId}}:dead`), 2, 'six parked, two kept')
    })

    t.test('entries no worker can read are parked as dead letters, never blocking the queue', async (t) => {
      const appId = newAppId()
      const queue = new RedisInboundQueue({ redis, appId, dedupTtlSec: 60 })
      t.teardown(() => queue.close())
      const m = { ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'text', MsgId: '7' }
      await queue.read('w', 1, 0) // creates the group
      await redis.xadd(`cs:{${appId}}:inbound`, '*', 'key', 'msg:bad', 'msg', '{not json', 'at', '', 'n', '0')
      await redis.zadd(`cs:{${appId}}:retry`, 0, 'not a json member')
      t.equal(await queue.enqueueOnce('msg:7', m, new Date()), 'queued')
      t.equal(await queue.promoteDue(), 1)
      const got = await queue.read('w', 10, 0)
      t.same(got.map((d) => d.key), ['msg:7'], 'the good entry is delivered')
      const dead = await queue.listDeadLetters({ limit: 10 })
      t.same(dead.map((d) => d.error).sort(), ['malformed queue entry', 'malformed retry entry'])
      t.ok(dead.every((d) => d.message.MsgType === 'malformed'))
      t.equal((await queue.stats()).length, 1, 'only the good entry is left in the stream')
    })

    t.test('every queue script still runs after SCRIPT FLUSH (ioredis sends it again on NOSCRIPT)', async (t) => {
    // One pass through all nine scripts; the second pass runs on the same connection after the server
    // forgot them, so each EVALSHA is answered NOSCRIPT first.
      const pass = async (): Promise<unknown[]> => {
        const appId = newAppId()
        let offset = 0
        const queue = new RedisInboundQueue({ redis, appId, dedupTtlSec: 60, now: () => Date.now() + offset })
        t.teardown(() => queue.close())
        const m = { ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'text', MsgId: '1' }
        const seen: unknown[] = []
        seen.push(await queue.enqueueOnce('msg:1', m, new Date()), await queue.enqueueOnce('msg:1', m, new Date()))
        const [first] = await queue.read('w', 10, 0)
        await queue.touch('w', [first!])
        await queue.retry(first!, 'try again', 0)
        seen.push(await queue.promoteDue())
        const [second] = await queue.read('w', 10, 0)
        await queue.deadLetter(second!, 'failed for good')
        const [dead] = await queue.listDeadLetters({ limit: 10 })
        seen.push(typeof await queue.replay(dead!.id))
        const [third] = await queue.read('w', 10, 0)
        await queue.ack(third!)
        await redis.xadd(`cs:{${appId}}:inbound`, '*', 'key', 'msg:bad', 'msg', '{not json', 'at', '', 'n', '0')
        seen.push(await queue.read('w', 10, 0))
        offset += 31 * 86_400_000
        seen.push(await queue.trimDeadLetters())
        const { oldestAgeMs, ...stats } = await queue.stats()
        seen.push(stats)
        return seen
      }
      const before = await pass()
      t.same(before, ['queued', 'duplicate', 1, 'string', [], 1, { length: 0, pending: 0, delayed: 0, deadLetters: 0 }])
      await flushRedisScripts(redis)
      t.same(await pass(), before)
    })
  })
}

// Every queue script is called with keys from queueKeys: the app id is their hash tag, so each call's
// keys hash to one Cluster slot (a script's keys must, or Redis refuses it with CROSSSLOT). The
// one-key scripts (ack, touch, trimDeadLetters) cannot span slots.
const cluster = targets.find((x) => x.name === 'cluster')!
t.test('every key layout of the queue scripts hashes to one Cluster slot', { skip: cluster.skip }, async (t) => {
  const redis = createRedis(await cluster.topology())
  t.teardown(() => { redis.disconnect() })
  const keys = queueKeys('wx0123456789abcdef')
  const layouts: Record<string, string[]> = {
    enqueueOnce: [keys.dedup('msg:1'), keys.stream],
    retry: [keys.stream, keys.retry],
    promoteDue: [keys.retry, keys.stream, keys.dead],
    'deadLetter, parkMalformed': [keys.stream, keys.dead],
    replay: [keys.dead, keys.stream]
  }
  for (const [scripts, layout] of Object.entries(layouts)) {
    const slots = new Set(await Promise.all(layout.map(async (key) => await redis.cluster('KEYSLOT', key))))
    t.equal(slots.size, 1, `${scripts}: ${layout.join(', ')}`)
  }
  const other = queueKeys('wx0123456789abcdee')
  t.not(await redis.cluster('KEYSLOT', other.stream), await redis.cluster('KEYSLOT', keys.stream), 'apps spread over the slots')
})
