import t from 'tap'
import {
  conflictingIndex, indexConflictMessage, isIndexConflict, isStoreUnavailable, isTtlChange, mongoClientOptions,
  mongoServerErrorCode, type ExistingIndex, type IndexSpec
} from '../src/index.js'

// Driver errors as MongoDB documents them (the server's reply as MongoServerError carries it: name, code,
// codeName, errmsg). The services' tests build the driver's own classes (services/session/test/mongo-driver-errors.test.ts).
const optionsConflict = {
  name: 'MongoServerError',
  code: 85,
  codeName: 'IndexOptionsConflict',
  errmsg: 'An equivalent index already exists with the same name but different options. Requested index: { v: 2, key: { createdAt: 1 }, name: "created_at_ttl", expireAfterSeconds: 86400 }, existing index: { v: 2, key: { createdAt: 1 }, name: "created_at_ttl", expireAfterSeconds: 604800 }'
}
const keySpecsConflict = {
  name: 'MongoServerError',
  code: 86,
  codeName: 'IndexKeySpecsConflict',
  errmsg: 'An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: { v: 2, key: { openid: 1, createdAt: -1, _id: -1 }, name: "openid_created_at_id" }, existing index: { v: 2, key: { openid: 1 }, name: "openid_created_at_id" }'
}
const duplicateKey = { name: 'MongoServerError', code: 11000, codeName: 'DuplicateKey', errmsg: 'E11000 duplicate key error collection: weapp.users index: openid_unique dup key: { openid: "o1" }' }
const maxTimeExpired = { name: 'MongoServerError', code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' }

t.test('index conflicts are told apart by code (85, 86) from other server errors', async (t) => {
  t.equal(isIndexConflict(optionsConflict), true)
  t.equal(isIndexConflict(keySpecsConflict), true)
  t.equal(isIndexConflict(duplicateKey), false)
  t.equal(isIndexConflict({ code: 85 }), false, 'not a MongoDB error: no Mongo* name')
  t.equal(isIndexConflict(new Error('85')), false)
  t.equal(isIndexConflict(null), false)
  t.equal(mongoServerErrorCode(maxTimeExpired), 50)
})

t.test('the index in the way: the one of the wanted name, else the one of the wanted key', async (t) => {
  const wanted: IndexSpec = { key: { openid: 1, createdAt: -1, _id: -1 }, name: 'openid_created_at_id' }
  const existing: ExistingIndex[] = [
    { name: '_id_', key: { _id: 1 } },
    { name: 'openid_1_createdAt_-1__id_-1', key: { openid: 1, createdAt: -1, _id: -1 } },
    { name: 'openid_created_at_id', key: { openid: 1 } }
  ]
  t.equal(conflictingIndex(wanted, existing)?.name, 'openid_created_at_id')
  t.equal(conflictingIndex(wanted, existing.slice(0, 2))?.name, 'openid_1_createdAt_-1__id_-1', 'same key under another name (85)')
  t.equal(conflictingIndex(wanted, existing.slice(0, 1)), undefined)
  t.equal(conflictingIndex({ key: { openid: 1, createdAt: 1 }, name: 'x' }, existing), undefined, 'key order and direction count')
})

t.test('the message names the collection, both definitions and the command that clears the way', async (t) => {
  const wanted: IndexSpec = { key: { openid: 1 }, unique: true, name: 'openid_unique' }
  const message = indexConflictMessage({ db: 'weapp', collection: 'users' }, wanted, { name: 'openid_unique', key: { openid: 1 } }, 85)
  t.match(message, 'weapp.users')
  t.match(message, 'the index "openid_unique" exists as key {"openid":1};')
  t.match(message, 'this version wants "openid_unique" as key {"openid":1}, unique')
  t.match(message, 'IndexOptionsConflict, code 85')
  t.match(message, 'db.getSiblingDB("weapp").getCollection("users").dropIndex("openid_unique")')

  const renamed = indexConflictMessage({ db: 'weapp', collection: 'messages' }, { key: { createdAt: 1 }, name: 'created_at_ttl', expireAfterSeconds: 60 },
    { name: 'createdAt_1', key: { createdAt: 1 }, partialFilterExpression: { direction: 'in' } }, 85)
  t.match(renamed, 'the index "createdAt_1" exists as key {"createdAt":1}, partialFilterExpression {"direction":"in"}')
  t.match(renamed, 'expireAfterSeconds 60')
  t.match(renamed, 'dropIndex("createdAt_1")', 'the existing index is the one to drop')

  const unlisted = indexConflictMessage({ db: 'weapp', collection: 'notes' }, { key: { openid: 1, createdAt: -1 }, name: 'openid_created_at' }, undefined, 86)
  t.match(unlisted, 'IndexKeySpecsConflict, code 86')
  t.match(unlisted, 'getIndexes()')
})

t.test('a TTL index of another expireAfterSeconds is changed in place only when it may be', async (t) => {
  const spec: IndexSpec = { key: { createdAt: 1 }, name: 'created_at_ttl', expireAfterSeconds: 86_400, adjustableTtl: true }
  const existing: ExistingIndex = { name: 'created_at_ttl', key: { createdAt: 1 }, expireAfterSeconds: 604_800 }
  t.equal(isTtlChange(spec, existing), true)
  t.equal(isTtlChange({ ...spec, adjustableTtl: false }, existing), false, 'a fixed TTL is a conflict to explain')
  t.equal(isTtlChange(spec, { ...existing, key: { createdAt: -1 } }), false, 'another key is not a TTL change')
  t.equal(isTtlChange(spec, { name: 'created_at_ttl', key: { createdAt: 1 } }), false, 'a plain index is not a TTL index')
  t.equal(isTtlChange(spec, { ...existing, unique: true }), false)
  t.equal(isTtlChange(spec, undefined), false)
})

t.test('a database that did not answer: timeouts and lost connections, not other errors', async (t) => {
  t.equal(isStoreUnavailable(maxTimeExpired), true, 'maxTimeMS reached on the server (code 50)')
  for (const name of ['MongoServerSelectionError', 'MongoNetworkTimeoutError', 'MongoNetworkError', 'MongoOperationTimeoutError']) {
    t.equal(isStoreUnavailable({ name, message: 'x' }), true, name)
  }
  t.equal(isStoreUnavailable(duplicateKey), false)
  t.equal(isStoreUnavailable(optionsConflict), false)
  t.equal(isStoreUnavailable({ name: 'Error', code: 50 }), false, 'code 50 of something else')
  t.equal(isStoreUnavailable(undefined), false)
})

t.test('client options: every wait bounded, the socket backstop beyond the read limit', async (t) => {
  const o = mongoClientOptions('weapp-test', 5000)
  t.equal(o.appName, 'weapp-test')
  t.equal(o.serverSelectionTimeoutMS, 5000)
  t.ok(o.socketTimeoutMS > 5000 && o.socketTimeoutMS <= 180_000, `socketTimeoutMS ${o.socketTimeoutMS}`)
  t.ok(o.connectTimeoutMS > 0)
  t.equal(o.ignoreUndefined, true)
  t.ok(mongoClientOptions('x', 60_000).socketTimeoutMS > 60_000)
})
