import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { flushRedisScripts, redisTargets } from '@weapp/test-kit'
import { MemorySendWindows, RedisSendWindows } from '../src/windows/send-windows.js'
import { MemoryMessagesRepository } from '../src/repositories/memory.js'
import { CONVERSATION_INDEX, MESSAGES_COLLECTION, MongoMessagesRepository, RETENTION_INDEX } from '../src/repositories/mongo.js'
import type { NewInboundRecord, NewOutboundRecord } from '../src/repositories/types.js'
import { windowsContract } from './fixtures/windows-contract.js'
import { messagesContract } from './fixtures/messages-contract.js'
import { redisScope } from './fixtures/redis-scope.js'

t.test('memory send windows', async (t) => {
  windowsContract(t, async () => new MemorySendWindows())
})

t.test('memory message log', async (t) => {
  messagesContract(t, async () => new MemoryMessagesRepository())
})

const DAY = 86_400_000
function inbound (key: string, createdAt: Date): NewInboundRecord {
  const message = { ToUserName: 'gh', FromUserName: 'o1', CreateTime: Math.floor(createdAt.getTime() / 1000), MsgType: 'text', Content: key }
  return { key, openid: 'o1', msgType: 'text', message, createdAt, receivedAt: createdAt, storedAt: createdAt }
}
function outbound (key: string, createdAt: Date): NewOutboundRecord {
  return { key, openid: 'o1', msgType: 'text', message: { msgtype: 'text', text: { content: key } }, createdAt, sentBy: 'ops', forced: false, outcome: 'sent' }
}

t.test('memory message log: records older than the retention are deleted (MESSAGE_RETENTION_DAYS)', async (t) => {
  let now = Date.UTC(2025, 0, 10)
  const at = (ms: number): Date => new Date(now + ms)
  const repo = new MemoryMessagesRepository({ retentionMs: DAY, now: () => new Date(now) })
  await repo.insertInbound(inbound('msg:old', at(-2 * DAY)))
  await repo.insertOutbound(outbound('out:old', at(-DAY - 1)))
  await repo.insertInbound(inbound('msg:fresh', at(-3600_000)))
  await repo.insertOutbound(outbound('out:fresh', at(0)))
  t.equal(repo.expire(), 2, 'both directions, by createdAt')
  t.same((await repo.listConversation('o1', { limit: 10 })).map((r) => r.key), ['out:fresh', 'msg:fresh'])
  t.equal(await repo.findByKey('msg:old'), null)
  t.equal(await repo.findOutbound('out:old'), null)

  // Writes sweep on their own (at most once a minute): two days later the log holds only the new message.
  now += 2 * DAY
  await repo.insertInbound(inbound('msg:new', at(0)))
  t.same((await repo.listConversation('o1', { limit: 10 })).map((r) => r.key), ['msg:new'])
  t.equal(repo.size, 1)
  t.equal(new MemoryMessagesRepository().expire(), 0, 'no retention given: nothing ever expires')
})

// The same contract on one server, behind Sentinel and on a three-master Cluster.
for (const target of redisTargets(t)) {
  t.test(`Redis send windows (${target.name})`, { skip: target.skip }, async (t) => {
    const { redis, newAppId } = redisScope(t, await target.topology())
    windowsContract(t, async () => {
      const appId = newAppId()
      return new RedisSendWindows({ redis, appId })
    })

    t.test('the Redis key expires with the window', async (t) => {
      const appId = newAppId()
      const w = new RedisSendWindows({ redis, appId })
      const now = new Date()
      await w.open('o1', 'session', now)
      const ttl = await redis.pttl(`cs:{${appId}}:window:o1`)
      t.ok(ttl > 55_000 && ttl <= 60_000, `pttl ${ttl}`)
    })

    t.test('the window scripts still run after SCRIPT FLUSH (ioredis sends them again on NOSCRIPT)', async (t) => {
    // The second pass runs on the same connection after the server forgot the scripts.
      const pass = async (): Promise<unknown[]> => {
        const w = new RedisSendWindows({ redis, appId: newAppId() })
        const at = new Date()
        await w.open('o1', 'session', at)
        const seen: unknown[] = [await w.consume('o1', at), await w.consume('o1', at), await w.consume('o1', at)]
        await w.release('o1', at)
        seen.push((await w.peek('o1', at))?.remaining)
        return seen
      }
      const before = await pass()
      t.same(before, ['ok', 'ok', 'exhausted', 1])
      await flushRedisScripts(redis)
      t.same(await pass(), before)
    })
  })
}

const mongoUrl = process.env.MONGO_URL
t.test('MongoDB message log', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  const client = new MongoClient(mongoUrl!, { serverSelectionTimeoutMS: 5000 })
  await client.connect()
  const dbs: string[] = []
  t.teardown(async () => {
    for (const name of dbs) await client.db(name).dropDatabase()
    await client.close()
  })
  messagesContract(t, async () => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    const repo = new MongoMessagesRepository(client.db(name), { retentionSec: 180 * 86_400 })
    await repo.ensureIndexes()
    return repo
  })

  t.test('indexes: _id is the dedup key, openid + createdAt + _id for conversations and their pages', async (t) => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    await new MongoMessagesRepository(client.db(name), { retentionSec: 86_400 }).ensureIndexes()
    await new MongoMessagesRepository(client.db(name), { retentionSec: 86_400 }).ensureIndexes()
    const idx = await client.db(name).collection(MESSAGES_COLLECTION).indexes()
    const conversation = idx.find((i) => i.name === CONVERSATION_INDEX)
    t.same(conversation?.key, { openid: 1, createdAt: -1, _id: -1 })
    const ttl = idx.find((i) => i.name === RETENTION_INDEX)
    t.same(ttl?.key, { createdAt: 1 }, 'the retention is a TTL index on createdAt')
    t.equal(ttl?.expireAfterSeconds, 86_400)
  })

  t.test('a changed MESSAGE_RETENTION_DAYS is applied to the existing TTL index', async (t) => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    await new MongoMessagesRepository(client.db(name), { retentionSec: 86_400 }).ensureIndexes()
    await new MongoMessagesRepository(client.db(name), { retentionSec: 7 * 86_400 }).ensureIndexes()
    const ttl = (await client.db(name).collection(MESSAGES_COLLECTION).indexes()).find((i) => i.name === RETENTION_INDEX)
    t.equal(ttl?.expireAfterSeconds, 7 * 86_400)
  })
})
