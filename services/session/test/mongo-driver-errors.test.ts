import { createServer } from 'node:net'
import t from 'tap'
import Fastify from 'fastify'
import { MongoClient, MongoNetworkTimeoutError, MongoServerError } from 'mongodb'
import { installErrorHandling, isIndexConflict, isStoreUnavailable, mongoClientOptions, mongoServerErrorCode } from '@weapp/common'
import { MongoUsersRepository } from '../src/repositories/mongo.js'

// The shared detection (packages/common/src/mongo-indexes.ts, mongo-timeouts.ts) reads errors by shape:
// here it meets the driver's own classes, built from the replies MongoDB documents for each case.

t.test('the driver\'s classes: index conflicts, duplicate keys, maxTimeMS and network time-outs', async (t) => {
  const optionsConflict = new MongoServerError({ ok: 0, code: 85, codeName: 'IndexOptionsConflict', errmsg: 'An equivalent index already exists with the same name but different options.' })
  const keySpecs = new MongoServerError({ ok: 0, code: 86, codeName: 'IndexKeySpecsConflict', errmsg: 'An existing index has the same name as the requested index.' })
  const duplicate = new MongoServerError({ ok: 0, code: 11000, codeName: 'DuplicateKey', errmsg: 'E11000 duplicate key error' })
  const maxTime = new MongoServerError({ ok: 0, code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' })
  t.equal(isIndexConflict(optionsConflict), true)
  t.equal(isIndexConflict(keySpecs), true)
  t.equal(isIndexConflict(duplicate), false)
  t.equal(mongoServerErrorCode(duplicate), 11000)
  t.equal(isStoreUnavailable(maxTime), true)
  t.equal(isStoreUnavailable(new MongoNetworkTimeoutError('connection 3 to 10.0.0.5:27017 timed out')), true)
  t.equal(isStoreUnavailable(duplicate), false)
})

/** A port nothing listens on: a MongoDB that is gone. */
async function deadPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => { resolve() }))
  return port
}

t.test('a request whose MongoDB does not answer gets 503 COMMON_STORE_UNAVAILABLE within the operation time', async (t) => {
  // The real driver, real sockets: server selection gives up after MONGO_OP_TIMEOUT_MS (500 ms here).
  const client = new MongoClient(`mongodb://127.0.0.1:${await deadPort()}/weapp`, mongoClientOptions('weapp-test', 500))
  t.teardown(async () => { await client.close() })
  const users = new MongoUsersRepository(client.db('weapp'), { opTimeoutMs: 500 })
  const app = Fastify({ logger: false })
  installErrorHandling(app)
  app.get('/user', async () => await users.findByOpenid('o1'))
  t.teardown(async () => { await app.close() })

  const res = await app.inject({ url: '/user' })
  t.equal(res.statusCode, 503)
  t.same(res.json(), { statusCode: 503, code: 'COMMON_STORE_UNAVAILABLE', error: 'Service Unavailable', message: 'The database did not answer in time, retry later' })
  t.notMatch(res.body, '127.0.0.1', 'nothing the driver said reaches the client')
})
