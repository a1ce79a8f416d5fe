import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient, type Db } from 'mongodb'
import { mongoClientOptions } from '@weapp/common'
import { MESSAGES_COLLECTION, MongoMessagesRepository, RETENTION_INDEX, olderThan } from '../src/repositories/mongo.js'
import { CONVERSATIONS_COLLECTION, MongoConversationsRepository } from '../src/repositories/conversations-mongo.js'
import { MongoNotesRepository } from '../src/repositories/notes-mongo.js'
import { MongoCannedRepliesRepository } from '../src/repositories/canned-replies-mongo.js'
import { MongoConsoleMediaRepository } from '../src/repositories/console-media-mongo.js'

// What the message log's MongoDB side adds to the contract suite (stores.test.ts runs that on both stores).

t.test('a cursor page: the top-level createdAt bound beside the $or, so the index scan starts at the cursor', async (t) => {
  const cursor = { createdAt: new Date(Date.UTC(2025, 0, 1)), key: 'msg:5' }
  t.same(olderThan(cursor), {
    createdAt: { $lte: cursor.createdAt },
    $or: [{ createdAt: { $lt: cursor.createdAt } }, { createdAt: cursor.createdAt, _id: { $lt: 'msg:5' } }]
  })
  t.same(olderThan(cursor.createdAt), { createdAt: { $lt: cursor.createdAt } }, 'a Date: one range')
  t.same(olderThan(undefined), {})
})

const mongoUrl = process.env.MONGO_URL
t.test('MongoDB message log and console stores', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  const client = new MongoClient(mongoUrl!, mongoClientOptions('weapp-test', 5000))
  await client.connect()
  const dbs: Db[] = []
  t.teardown(async () => {
    for (const db of dbs) await db.dropDatabase()
    await client.close()
  })
  const freshDb = (): Db => {
    const db = client.db(`weapp_test_${randomBytes(6).toString('hex')}`)
    dbs.push(db)
    return db
  }
  const ensureAll = async (db: Db): Promise<void> => {
    await new MongoMessagesRepository(db, { retentionSec: 86_400 }).ensureIndexes()
    await new MongoConversationsRepository(db, { retentionSec: 86_400 }).ensureIndexes()
    await new MongoNotesRepository(db).ensureIndexes()
    await new MongoCannedRepliesRepository(db).ensureIndexes()
    await new MongoConsoleMediaRepository(db).ensureIndexes()
  }
  const allIndexes = async (db: Db): Promise<unknown[]> => await Promise.all(
    [MESSAGES_COLLECTION, CONVERSATIONS_COLLECTION, 'notes', 'canned_replies', 'console_media'].map(async (c) => await db.collection(c).indexes()))

  t.test('indexes made twice are made once (a restart changes nothing)', async (t) => {
    const db = freshDb()
    await ensureAll(db)
    const before = await allIndexes(db)
    await ensureAll(db)
    t.same(await allIndexes(db), before)
  })

  t.test('a conflicting index stops boot with what to do; a changed retention is applied in place', async (t) => {
    const db = freshDb()
    await db.collection(MESSAGES_COLLECTION).createIndex({ openid: 1 }, { name: 'openid_created_at_id' })
    await t.rejects(new MongoMessagesRepository(db, { retentionSec: 86_400 }).ensureIndexes(), {
      code: 'COMMON_MONGO_INDEX_CONFLICT',
      message: /\.messages: the index "openid_created_at_id" exists as key \{"openid":1\}; this version wants "openid_created_at_id" as key \{"openid":1,"createdAt":-1,"_id":-1\}.*code 86.*dropIndex\("openid_created_at_id"\)/
    })
    await db.collection(MESSAGES_COLLECTION).dropIndex('openid_created_at_id')
    await new MongoMessagesRepository(db, { retentionSec: 86_400 }).ensureIndexes()
    await new MongoMessagesRepository(db, { retentionSec: 2 * 86_400 }).ensureIndexes()
    const ttl = (await db.collection(MESSAGES_COLLECTION).indexes()).find((i) => i.name === RETENTION_INDEX)
    t.equal(ttl?.expireAfterSeconds, 2 * 86_400, 'collMod, not a conflict')

    // The console images' TTL is fixed: another value there is a conflict to explain, not to change silently.
    await db.collection('console_media').createIndex({ usedAt: 1 }, { name: 'used_at_ttl', expireAfterSeconds: 60 })
    await t.rejects(new MongoConsoleMediaRepository(db).ensureIndexes(), { code: 'COMMON_MONGO_INDEX_CONFLICT', message: /expireAfterSeconds 60.*code 85/ })
  })

  t.test('the payload is stored as JSON text; a document of the earlier layout (message as a document) is still read', async (t) => {
    const db = freshDb()
    const repo = new MongoMessagesRepository(db, { retentionSec: 86_400 })
    await repo.ensureIndexes()
    const createdAt = new Date(Date.UTC(2025, 0, 1))
    const message = { ToUserName: 'gh', FromUserName: 'o1', CreateTime: 1735689600, MsgType: 'text', Content: 'new', MsgId: '1' }
    await repo.insertInbound({ key: 'msg:new', openid: 'o1', msgType: 'text', message, createdAt, receivedAt: createdAt, storedAt: createdAt })
    const raw = await db.collection(MESSAGES_COLLECTION).findOne({ _id: 'msg:new' as never })
    t.equal(raw?.messageJson, JSON.stringify(message))
    t.equal(raw?.message, undefined)
    const legacy = { ...message, Content: 'old', MsgId: '2' }
    await db.collection(MESSAGES_COLLECTION).insertOne({ _id: 'msg:old' as never, direction: 'in', openid: 'o1', msgType: 'text', message: legacy, createdAt: new Date(createdAt.getTime() - 1000), receivedAt: createdAt, storedAt: createdAt, steps: {} })
    t.same((await repo.findByKey('msg:old'))?.message, legacy)
    t.same((await repo.listConversation('o1', { limit: 5 })).map((r) => (r.message as { Content: string }).Content), ['new', 'old'])
  })
})
