import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { MemoryConversationsRepository } from '../src/repositories/conversations.js'
import {
  ASSIGNEE_INDEX, CONVERSATIONS_COLLECTION, CONVERSATION_RETENTION_INDEX, LAST_AT_INDEX, MongoConversationsRepository, STATUS_INDEX
} from '../src/repositories/conversations-mongo.js'
import { conversationsContract } from './fixtures/conversations-contract.js'

t.test('memory conversations', async (t) => {
  conversationsContract(t, async () => new MemoryConversationsRepository())
})

t.test('memory conversations: one whose last message is past the retention goes', async (t) => {
  let now = Date.UTC(2025, 0, 10)
  const repo = new MemoryConversationsRepository({ retentionMs: 86_400_000, now: () => new Date(now) })
  const last = { direction: 'in' as const, msgType: 'text', preview: 'x' }
  await repo.recordInbound({ openid: 'old', key: 'msg:1', at: new Date(now), last, interaction: true, window: null })
  now += 2 * 86_400_000
  await repo.recordInbound({ openid: 'new', key: 'msg:2', at: new Date(now), last, interaction: true, window: null })
  t.same((await repo.list({ view: 'all', agentId: 'a', limit: 10 })).map((c) => c.openid), ['new'])
})

const mongoUrl = process.env.MONGO_URL
t.test('MongoDB conversations', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  const client = new MongoClient(mongoUrl!)
  await client.connect()
  const dbs: string[] = []
  t.teardown(async () => {
    for (const name of dbs) await client.db(name).dropDatabase()
    await client.close()
  })
  const fresh = async (): Promise<MongoConversationsRepository> => {
    const name = `cs_conv_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    const repo = new MongoConversationsRepository(client.db(name), { retentionSec: 86_400 })
    await repo.ensureIndexes()
    return repo
  }
  conversationsContract(t, fresh)

  t.test('indexes; the views are answered from them (no collection scan)', async (t) => {
    await fresh()
    const db = client.db(dbs.at(-1)!)
    const names = (await db.collection(CONVERSATIONS_COLLECTION).indexes()).map((i) => i.name)
    for (const name of [STATUS_INDEX, ASSIGNEE_INDEX, LAST_AT_INDEX, CONVERSATION_RETENTION_INDEX]) t.ok(names.includes(name), name)
    const collection = db.collection(CONVERSATIONS_COLLECTION)
    const plans = [
      { status: 'open' },
      { 'assignee.agentId': 'a-ann', status: 'open' },
      { 'assignee.agentId': null, status: 'open' }
    ]
    for (const filter of plans) {
      const plan = JSON.stringify(await collection.find(filter).sort({ lastAt: -1, _id: -1 }).limit(10).explain())
      t.notMatch(plan, /COLLSCAN/, `${JSON.stringify(filter)}: an index scan`)
    }
  })
})
