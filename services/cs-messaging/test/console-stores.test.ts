import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { MemoryNotesRepository } from '../src/repositories/notes.js'
import { MemoryCannedRepliesRepository } from '../src/repositories/canned-replies.js'
import { MemoryCardTemplatesRepository } from '../src/repositories/card-templates.js'
import { MemoryConsoleMediaRepository } from '../src/repositories/console-media.js'
import { MongoNotesRepository, NOTES_COLLECTION, NOTES_INDEX } from '../src/repositories/notes-mongo.js'
import { CANNED_REPLIES_COLLECTION, MongoCannedRepliesRepository, SHORTCUT_INDEX } from '../src/repositories/canned-replies-mongo.js'
import { MongoCardTemplatesRepository } from '../src/repositories/card-templates-mongo.js'
import { CONSOLE_MEDIA_COLLECTION, MEDIA_IDS_INDEX, MongoConsoleMediaRepository, UNUSED_INDEX } from '../src/repositories/console-media-mongo.js'
import { consoleStoresContract, media } from './fixtures/console-stores-contract.js'

t.test('memory console stores', async (t) => {
  consoleStoresContract(t, async () => ({
    notes: new MemoryNotesRepository(),
    canned: new MemoryCannedRepliesRepository(),
    templates: new MemoryCardTemplatesRepository(),
    media: new MemoryConsoleMediaRepository()
  }))
})

t.test('memory console media: bounded by count and bytes, least recently used out first', async (t) => {
  const store = new MemoryConsoleMediaRepository({ maxItems: 3, maxBytes: 100 })
  for (const h of ['a', 'b', 'c']) await store.save(media(h, `id-${h}`, Buffer.alloc(10)))
  await store.byMediaId('id-a')
  await store.save(media('d', 'id-d', Buffer.alloc(10)))
  t.equal(store.size, 3)
  t.equal(await store.byHash('b'), null, 'b was the least recently used')
  t.equal(await store.byMediaId('id-b'), null, 'its media_ids are forgotten with it')
  t.not(await store.byHash('a'), null, 'a was read: kept')
  await store.save(media('big', 'id-big', Buffer.alloc(85)))
  t.ok(store.bytes <= 100, `bytes ${store.bytes}`)
  t.not(await store.byHash('big'), null)
  t.equal(store.size, 2, 'older images made room')
  await store.save(media('huge', 'id-huge', Buffer.alloc(101)))
  t.equal(await store.byHash('huge'), null, 'larger than the whole budget: not kept')
  t.not(await store.byHash('big'), null, 'and nothing else dropped for it')
})

const mongoUrl = process.env.MONGO_URL
t.test('MongoDB console stores', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  const client = new MongoClient(mongoUrl!, { serverSelectionTimeoutMS: 5000 })
  await client.connect()
  const dbs: string[] = []
  t.teardown(async () => {
    for (const name of dbs) await client.db(name).dropDatabase()
    await client.close()
  })
  const fresh = async (): Promise<ReturnType<typeof client.db>> => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    return client.db(name)
  }
  consoleStoresContract(t, async () => {
    const db = await fresh()
    const notes = new MongoNotesRepository(db)
    const canned = new MongoCannedRepliesRepository(db)
    const mediaStore = new MongoConsoleMediaRepository(db)
    await Promise.all([notes.ensureIndexes(), canned.ensureIndexes(), mediaStore.ensureIndexes()])
    return { notes, canned, templates: new MongoCardTemplatesRepository(db), media: mediaStore }
  })

  t.test('indexes', async (t) => {
    const db = await fresh()
    await new MongoNotesRepository(db).ensureIndexes()
    await new MongoCannedRepliesRepository(db).ensureIndexes()
    await new MongoConsoleMediaRepository(db).ensureIndexes()
    t.same((await db.collection(NOTES_COLLECTION).indexes()).find((i) => i.name === NOTES_INDEX)?.key, { openid: 1, createdAt: -1 })
    t.match((await db.collection(CANNED_REPLIES_COLLECTION).indexes()).find((i) => i.name === SHORTCUT_INDEX), { key: { shortcut: 1 }, unique: true })
    const mediaIdx = await db.collection(CONSOLE_MEDIA_COLLECTION).indexes()
    t.same(mediaIdx.find((i) => i.name === MEDIA_IDS_INDEX)?.key, { mediaIds: 1 })
    t.match(mediaIdx.find((i) => i.name === UNUSED_INDEX), { key: { usedAt: 1 }, expireAfterSeconds: 30 * 86_400 })
  })
})
