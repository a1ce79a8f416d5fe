import { randomBytes } from 'node:crypto'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { mongoClientOptions } from '@weapp/common'
import { MemoryAgentSessionsRepository, MemoryAgentsRepository } from '../src/repositories/agents-memory.js'
import { MongoAgentSessionsRepository, MongoAgentsRepository } from '../src/repositories/agents-mongo.js'
import { agentsContract } from './fixtures/agents-contract.js'

t.test('memory agent repositories', async (t) => {
  agentsContract(t, async () => ({ agents: new MemoryAgentsRepository(), sessions: new MemoryAgentSessionsRepository() }))
})

t.test('memory sweep drops idle- and absolute-expired console sessions', async (t) => {
  const sessions = new MemoryAgentSessionsRepository()
  const base = { agentId: 'a', csrfToken: 'c', createdAt: new Date(0) }
  await sessions.create({ ...base, id: 'idle', tokenHash: 'h1', idleExpiresAt: new Date(1000), absoluteExpiresAt: new Date(10_000) })
  await sessions.create({ ...base, id: 'live', tokenHash: 'h2', idleExpiresAt: new Date(5000), absoluteExpiresAt: new Date(10_000) })
  t.equal(sessions.sweep(new Date(2000)), 1)
  t.equal(sessions.size, 1)
  t.equal(await sessions.findByTokenHash('h1'), null)
  t.equal(sessions.sweep(new Date(10_000)), 1, 'the absolute expiry too')
})

const mongoUrl = process.env.MONGO_URL
t.test('MongoDB agent repositories', { skip: mongoUrl === undefined ? 'MONGO_URL is not set' : false }, async (t) => {
  const client = new MongoClient(mongoUrl!, mongoClientOptions('weapp-test', 5000))
  await client.connect()
  const dbs: string[] = []
  t.teardown(async () => {
    for (const name of dbs) await client.db(name).dropDatabase()
    await client.close()
  })
  const freshDb = (): ReturnType<MongoClient['db']> => {
    const name = `weapp_test_${randomBytes(6).toString('hex')}`
    dbs.push(name)
    return client.db(name)
  }
  agentsContract(t, async () => {
    const db = freshDb()
    const agents = new MongoAgentsRepository(db)
    const sessions = new MongoAgentSessionsRepository(db)
    await Promise.all([agents.ensureIndexes(), sessions.ensureIndexes()])
    return { agents, sessions }
  })

  t.test('indexes: unique login; unique token hash, agentId, TTL on absoluteExpiresAt', async (t) => {
    const db = freshDb()
    await new MongoAgentsRepository(db).ensureIndexes()
    await new MongoAgentSessionsRepository(db).ensureIndexes()
    const agentIdx = await db.collection('agents').indexes()
    t.ok(agentIdx.some((i) => i.key.login === 1 && i.unique === true))
    const sessionIdx = await db.collection('agent_sessions').indexes()
    t.ok(sessionIdx.some((i) => i.key.tokenHash === 1 && i.unique === true))
    t.ok(sessionIdx.some((i) => i.key.agentId === 1))
    t.ok(sessionIdx.some((i) => i.key.absoluteExpiresAt === 1 && i.expireAfterSeconds === 0))
  })
})
