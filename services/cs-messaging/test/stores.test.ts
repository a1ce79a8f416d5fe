import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { MemorySendWindows, RedisSendWindows } from '../src/windows/send-windows.js'
import { MemoryMessagesRepository } from '../src/messages/memory.js'
import { CONVERSATION_INDEX, MongoMessagesRepository } from '../src/messages/mongo.js'
import { windowsContract } from './fixtures/windows-contract.js'
import { messagesContract } from './fixtures/messages-contract.js'
import { redisScope } from './fixtures/redis-scope.js'

t.test('memory send windows', async (t) => {
  windowsContract(t, async () => new MemorySendWindows())
})

t.test('memory message log', async (t) => {
  messagesContract(t, async () => new MemoryMessagesRepository())
})

const redisUrl = process.env.REDIS_URL
t.test('Redis send windows', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const { redis, newAppId } = redisScope(t, redisUrl!)
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
})

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
    const repo = new MongoMessagesRepository(client.db(name))
    await repo.ensureIndexes()
    return repo
  })

  t.test('indexes: _id is the dedup key, openid + createdAt + _id for conversations and their pages', async (t) => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    await new MongoMessagesRepository(client.db(name)).ensureIndexes()
    await new MongoMessagesRepository(client.db(name)).ensureIndexes()
    const idx = await client.db(name).collection('messages').indexes()
    const conversation = idx.find((i) => i.name === CONVERSATION_INDEX)
    t.same(conversation?.key, { openid: 1, createdAt: -1, _id: -1 })
  })
})
