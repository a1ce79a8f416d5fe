import fp from 'fastify-plugin'
import { mongoClientOptions } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import type { SessionsRepository, UsersRepository } from '../repositories/types.js'
import { MemorySessionsRepository, MemoryUsersRepository } from '../repositories/memory.js'
import type { AgentSessionsRepository, AgentsRepository } from '../repositories/agents.js'
import { MemoryAgentSessionsRepository, MemoryAgentsRepository } from '../repositories/agents-memory.js'
import { EncryptedSessionKeys, SessionKeyCipher, decodeEncryptionKey } from '../repositories/session-key-encryption.js'

declare module 'fastify' {
  interface FastifyInstance {
    usersRepository: UsersRepository
    sessionsRepository: SessionsRepository
    /** The agent console's accounts and sessions (docs/console.md#sessions). */
    agentsRepository: AgentsRepository
    agentSessionsRepository: AgentSessionsRepository
  }
}

/** How often the embedded store drops expired sessions (MongoDB's TTL monitor does it every minute). */
export const MEMORY_SWEEP_INTERVAL_MS = 60_000

/** SESSION_KEY_ENCRYPTION_KEY (and the previous one): session_keys are encrypted before either store sees them. */
function sessionKeyCipher (config: FastifyInstance['sessionConfig']): SessionKeyCipher | undefined {
  const { SESSION_KEY_ENCRYPTION_KEY: current, SESSION_KEY_ENCRYPTION_KEY_PREVIOUS: previous } = config
  if (current === undefined) return undefined
  return new SessionKeyCipher(
    decodeEncryptionKey('SESSION_KEY_ENCRYPTION_KEY', current),
    previous === undefined ? undefined : decodeEncryptionKey('SESSION_KEY_ENCRYPTION_KEY_PREVIOUS', previous)
  )
}

/**
 * The users, sessions, agents and agent sessions stores: MongoDB when MONGO_URL is set (client created, indexes ensured and the
 * client closed here), process memory otherwise.
 */
async function repositoriesPlugin (app: FastifyInstance): Promise<void> {
  const { MONGO_URL, MONGO_DB, MONGO_OP_TIMEOUT_MS } = app.sessionConfig
  const cipher = sessionKeyCipher(app.sessionConfig)
  const withCipher = (users: UsersRepository): UsersRepository => cipher === undefined ? users : new EncryptedSessionKeys(users, cipher)
  if (MONGO_URL === undefined) {
    const sessions = new MemorySessionsRepository()
    const agentSessions = new MemoryAgentSessionsRepository()
    app.decorate('usersRepository', withCipher(new MemoryUsersRepository()))
    app.decorate('sessionsRepository', sessions)
    app.decorate('agentsRepository', new MemoryAgentsRepository())
    app.decorate('agentSessionsRepository', agentSessions)
    const sweeper = setInterval(() => {
      const now = new Date(app.clock())
      sessions.sweep(now)
      agentSessions.sweep(now)
    }, MEMORY_SWEEP_INTERVAL_MS)
    sweeper.unref()
    app.addHook('onClose', async () => { clearInterval(sweeper) })
    return
  }
  // Loaded only when configured: the embedded store needs neither the driver nor its 17 MB BSON buffer.
  const { MongoClient } = await import('mongodb')
  const { MongoSessionsRepository, MongoUsersRepository } = await import('../repositories/mongo.js')
  const { MongoAgentSessionsRepository, MongoAgentsRepository } = await import('../repositories/agents-mongo.js')
  const client = new MongoClient(MONGO_URL, mongoClientOptions('weapp-session', MONGO_OP_TIMEOUT_MS))
  app.addHook('onClose', async () => { await client.close() })
  await client.connect()
  const db = client.db(MONGO_DB)
  const options = { opTimeoutMs: MONGO_OP_TIMEOUT_MS }
  const users = new MongoUsersRepository(db, options)
  const sessions = new MongoSessionsRepository(db, options)
  const agents = new MongoAgentsRepository(db, options)
  const agentSessions = new MongoAgentSessionsRepository(db, options)
  // One after the other: an index conflict stops boot with its own message (COMMON_MONGO_INDEX_CONFLICT), not another's.
  for (const repository of [users, sessions, agents, agentSessions]) await repository.ensureIndexes()
  app.decorate('usersRepository', withCipher(users))
  app.decorate('sessionsRepository', sessions)
  app.decorate('agentsRepository', agents)
  app.decorate('agentSessionsRepository', agentSessions)
  app.log.info({ db: MONGO_DB }, 'using MongoDB for users, sessions, agents and agent sessions')
}

export default fp(repositoriesPlugin, { name: 'session-repositories', fastify: '5.x', dependencies: ['session-config'] })
