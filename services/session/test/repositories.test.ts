import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { mongoClientOptions } from '@weapp/common'
import { MemorySessionsRepository, MemoryUsersRepository } from '../src/repositories/memory.js'
import { MongoSessionsRepository, MongoUsersRepository } from '../src/repositories/mongo.js'
import { repositoryContract } from './fixtures/repository-contract.js'

t.test('memory repositories', async (t) => {
  repositoryContract(t, async () => ({ users: new MemoryUsersRepository(), sessions: new MemorySessionsRepository() }))
})

t.test('memory sweep drops expired sessions', async (t) => {
  const sessions = new MemorySessionsRepository()
  const base = { openid: 'o', kind: 'bearer' as const, createdAt: new Date(0), lastSeenAt: new Date(0), absoluteExpiresAt: new Date(10_000) }
  await sessions.create({ ...base, id: 'old', credentialHashes: ['h1'], expiresAt: new Date(1000) })
  await sessions.create({ ...base, id: 'new', credentialHashes: ['h2'], expiresAt: new Date(5000) })
  t.equal(sessions.sweep(new Date(2000)), 1)
  t.equal(sessions.size, 1)
  t.equal(await sessions.findByCredentialHash('h1'), null)
  t.equal((await sessions.findByCredentialHash('h2'))?.id, 'new')
})

const mongoUrl = process.env.MONGO_URL
t.test('MongoDB repositories', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  // The options the service connects with (ignoreUndefined among them: the contract's undefined-field test).
  const client = new MongoClient(mongoUrl!, mongoClientOptions('weapp-test', 5000))
  await client.connect()
  const dbs: string[] = []
  t.teardown(async () => {
    for (const name of dbs) await client.db(name).dropDatabase()
    await client.close()
  })
  repositoryContract(t, async () => {
    // A database of its own per subtest: tests stay independent, and everything is dropped at the end.
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    const db = client.db(name)
    const users = new MongoUsersRepository(db)
    const sessions = new MongoSessionsRepository(db)
    await Promise.all([users.ensureIndexes(), sessions.ensureIndexes()])
    return { users, sessions }
  })

  t.test('indexes: unique openid, unique credential hashes, TTL on expiresAt', async (t) => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    const db = client.db(name)
    await new MongoUsersRepository(db).ensureIndexes()
    await new MongoSessionsRepository(db).ensureIndexes()
    const userIdx = await db.collection('users').indexes()
    t.ok(userIdx.some((i) => i.key.openid === 1 && i.unique === true))
    const sessionIdx = await db.collection('sessions').indexes()
    t.ok(sessionIdx.some((i) => i.key.credentialHashes === 1 && i.unique === true))
    t.ok(sessionIdx.some((i) => i.key.expiresAt === 1 && i.expireAfterSeconds === 0))
    t.ok(sessionIdx.some((i) => i.key.openid === 1))
  })

  t.test('indexes made twice are made once (a restart changes nothing)', async (t) => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    const db = client.db(name)
    await new MongoUsersRepository(db).ensureIndexes()
    await new MongoSessionsRepository(db).ensureIndexes()
    const before = [await db.collection('users').indexes(), await db.collection('sessions').indexes()]
    await new MongoUsersRepository(db).ensureIndexes()
    await new MongoSessionsRepository(db).ensureIndexes()
    t.same([await db.collection('users').indexes(), await db.collection('sessions').indexes()], before)
  })

  t.test('an index of the same name and another definition stops boot with what to do (85, 86)', async (t) => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    const db = client.db(name)
    // Another version made openid_unique without unique (85), and expires_at_ttl on another key (86).
    await db.collection('users').createIndex({ openid: 1 }, { name: 'openid_unique' })
    await db.collection('sessions').createIndex({ lastSeenAt: 1 }, { name: 'expires_at_ttl' })
    await t.rejects(new MongoUsersRepository(db).ensureIndexes(), {
      code: 'COMMON_MONGO_INDEX_CONFLICT',
      message: new RegExp(`${name}\\.users: the index "openid_unique" exists as key \\{"openid":1\\}; this version wants "openid_unique" as key \\{"openid":1\\}, unique.*dropIndex\\("openid_unique"\\)`)
    })
    await t.rejects(new MongoSessionsRepository(db).ensureIndexes(), { code: 'COMMON_MONGO_INDEX_CONFLICT', message: /IndexKeySpecsConflict, code 86.*dropIndex\("expires_at_ttl"\)/ })
    // After the command the message gives, the service makes it as wanted.
    await db.collection('users').dropIndex('openid_unique')
    await new MongoUsersRepository(db).ensureIndexes()
    t.ok((await db.collection('users').indexes()).some((i) => i.name === 'openid_unique' && i.unique === true))
  })
})
