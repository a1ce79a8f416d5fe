import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { mongoClientOptions } from '@weapp/common'
import { MemorySessionsRepository, MemoryUsersRepository } from '../src/repositories/memory.js'
import { MongoUsersRepository, USERS_COLLECTION } from '../src/repositories/mongo.js'
import { EncryptedSessionKeys, SessionKeyCipher, decodeEncryptionKey, isEncrypted, keyId } from '../src/repositories/session-key-encryption.js'
import type { UsersRepository } from '../src/repositories/types.js'
import { loadSessionConfig } from '../src/config.js'
import { repositoryContract } from './fixtures/repository-contract.js'

const SESSION_KEY = 'HyVFkGl5F5OQWJZZaNzBBg=='
const now = new Date(Date.UTC(2025, 0, 1))
const newKey = (): Buffer => randomBytes(32)

t.test('the users contract holds with encrypted session_keys', async (t) => {
  repositoryContract(t, async () => ({ users: new EncryptedSessionKeys(new MemoryUsersRepository(), new SessionKeyCipher(newKey())), sessions: new MemorySessionsRepository() }))
})

t.test('the store holds only ciphertext; the service reads the session_key back with the key', async (t) => {
  const store = new MemoryUsersRepository()
  const key = newKey()
  const users = new EncryptedSessionKeys(store, new SessionKeyCipher(key))
  await users.upsertOnLogin({ openid: 'o1', sessionKey: SESSION_KEY, now })
  const stored = (await store.getSessionKey('o1'))!
  t.ok(isEncrypted(stored), stored.slice(0, 14))
  t.notMatch(stored, SESSION_KEY)
  t.match(stored, `enc1:${keyId(key)}:`, 'the key id is in the value')
  t.equal(await users.getSessionKey('o1'), SESSION_KEY)
  t.equal(await new EncryptedSessionKeys(store, new SessionKeyCipher(newKey())).getSessionKey('o1'), null, 'another key reads nothing')
  await users.upsertOnLogin({ openid: 'o1', sessionKey: SESSION_KEY, now })
  t.not(await store.getSessionKey('o1'), stored, 'a fresh IV each write')
})

t.test('a value copied onto another user does not decrypt (the openid is authenticated)', async (t) => {
  const cipher = new SessionKeyCipher(newKey())
  const value = cipher.encrypt(SESSION_KEY, 'alice')
  t.equal(cipher.decrypt(value, 'alice'), SESSION_KEY)
  t.equal(cipher.decrypt(value, 'bob'), null)
  const tampered = value.slice(0, -2) + (value.endsWith('A') ? 'BB' : 'AA')
  t.equal(cipher.decrypt(tampered, 'alice'), null, 'a changed byte fails authentication')
  t.equal(cipher.decrypt('enc1:00000000:short', 'alice'), null)
  t.equal(cipher.decrypt('enc1:', 'alice'), null)
})

t.test('a plaintext value from before encryption is read, and the next login writes it encrypted', async (t) => {
  const store = new MemoryUsersRepository()
  await store.upsertOnLogin({ openid: 'o1', sessionKey: SESSION_KEY, now })
  const users = new EncryptedSessionKeys(store, new SessionKeyCipher(newKey()))
  t.equal(await users.getSessionKey('o1'), SESSION_KEY)
  await users.upsertOnLogin({ openid: 'o1', sessionKey: 'bmV3IHNlc3Npb24ga2V5IQ==', now })
  t.ok(isEncrypted((await store.getSessionKey('o1'))!))
  t.equal(await users.getSessionKey('o1'), 'bmV3IHNlc3Npb24ga2V5IQ==')
})

t.test('rotation: values of the previous key are read; new writes use the current one', async (t) => {
  const store = new MemoryUsersRepository()
  const oldKey = newKey()
  const currentKey = newKey()
  await new EncryptedSessionKeys(store, new SessionKeyCipher(oldKey)).upsertOnLogin({ openid: 'o1', sessionKey: SESSION_KEY, now })
  const rotated = new EncryptedSessionKeys(store, new SessionKeyCipher(currentKey, oldKey))
  t.equal(await rotated.getSessionKey('o1'), SESSION_KEY)
  t.equal(await new EncryptedSessionKeys(store, new SessionKeyCipher(currentKey)).getSessionKey('o1'), null, 'without the previous key: unreadable')
  await rotated.upsertOnLogin({ openid: 'o1', sessionKey: SESSION_KEY, now })
  t.match((await store.getSessionKey('o1'))!, `enc1:${keyId(currentKey)}:`)
  t.not(keyId(currentKey), keyId(oldKey))
})

t.test('the key: 32 bytes of base64, required with MONGO_URL, never in an error message', async (t) => {
  const key = randomBytes(32).toString('base64')
  t.equal(decodeEncryptionKey('SESSION_KEY_ENCRYPTION_KEY', key).length, 32)
  t.throws(() => decodeEncryptionKey('SESSION_KEY_ENCRYPTION_KEY', randomBytes(16).toString('base64')), /SESSION_KEY_ENCRYPTION_KEY must be 32 bytes/)
  t.throws(() => new SessionKeyCipher(randomBytes(16)), RangeError)

  const base = { INTERNAL_TOKEN: 'internal-token-for-session-config-tests-0123456789', APP_ID: 'wx0123456789abcdef', APP_SECRET: '0123456789abcdef0123456789abcdef' }
  const mongo = { ...base, MONGO_URL: 'mongodb://127.0.0.1:27017' }
  t.throws(() => loadSessionConfig(mongo), /SESSION_KEY_ENCRYPTION_KEY is required with MONGO_URL/)
  t.equal(loadSessionConfig({ ...mongo, SESSION_KEY_ENCRYPTION_KEY: key }).SESSION_KEY_ENCRYPTION_KEY, key)
  t.equal(loadSessionConfig(base).SESSION_KEY_ENCRYPTION_KEY, undefined, 'optional in memory (nothing is at rest)')
  t.throws(() => loadSessionConfig({ ...base, SESSION_KEY_ENCRYPTION_KEY_PREVIOUS: key }), /SESSION_KEY_ENCRYPTION_KEY_PREVIOUS needs SESSION_KEY_ENCRYPTION_KEY/)
  const short = randomBytes(24).toString('base64')
  try {
    loadSessionConfig({ ...base, SESSION_KEY_ENCRYPTION_KEY: short })
    t.fail('a 24-byte key is refused')
  } catch (err) {
    t.match((err as Error).message, /SESSION_KEY_ENCRYPTION_KEY must match pattern/)
    t.notMatch((err as Error).message, short, 'the value is never in the message')
  }
  t.throws(() => loadSessionConfig({ ...base, SESSION_KEY_ENCRYPTION_KEY: 'A'.repeat(43) + '=' }), /SESSION_KEY_ENCRYPTION_KEY has too little entropy/, 'a secret: weak values are refused')
})

const mongoUrl = process.env.MONGO_URL
t.test('MongoDB: the users collection holds the session_key encrypted', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  const client = new MongoClient(mongoUrl!, mongoClientOptions('weapp-test', 5000))
  await client.connect()
  const db = client.db(`weapp_test_${randomBytes(6).toString('hex')}`)
  t.teardown(async () => {
    await db.dropDatabase()
    await client.close()
  })
  const store = new MongoUsersRepository(db)
  await store.ensureIndexes()
  const users: UsersRepository = new EncryptedSessionKeys(store, new SessionKeyCipher(newKey()))
  await users.upsertOnLogin({ openid: 'o1', sessionKey: SESSION_KEY, now })
  const doc = await db.collection(USERS_COLLECTION).findOne({ openid: 'o1' })
  t.ok(isEncrypted(String(doc?.sessionKey)))
  t.notMatch(JSON.stringify(doc), SESSION_KEY)
  t.equal(await users.getSessionKey('o1'), SESSION_KEY)
})
