import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import type { SessionsRepository, UsersRepository } from '../repositories/types.js'
import { MemorySessionsRepository, MemoryUsersRepository } from '../repositories/memory.js'
import type { AgentSessionsRepository, AgentsRepository } from '../repositories/agents.js'
import { MemoryAgentSessionsRepository, MemoryAgentsRepository } from '../repositories/agents-memory.js'

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
const MONGO_SERVER_SELECTION_TIMEOUT_MS = 10_000

/**
 * The users, sessions, agents and agent sessions stores: MongoDB when MONGO_URL is set (client created, indexes ensured and the
 * client closed here), process memory otherwise.
 */
async function repositoriesPlugin (app: FastifyInstance): Promise<void> {
  const { MONGO_URL, MONGO_DB } = app.sessionConfig
  if (MONGO_URL === undefined) {
    const sessions = new MemorySessionsRepository()
    const agentSessions = new MemoryAgentSessionsRepository()
    app.decorate('usersRepository', new MemoryUsersRepository())
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
  const client = new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: MONGO_SERVER_SELECTION_TIMEOUT_MS, appName: 'weapp-session' })
  app.addHook('onClose', async () => { await client.close() })
  await client.connect()
  const db = client.db(MONGO_DB)
  const users = new MongoUsersRepository(db)
  const sessions = new MongoSessionsRepository(db)
  const agents = new MongoAgentsRepository(db)
  const agentSessions = new MongoAgentSessionsRepository(db)
  await Promise.all([users.ensureIndexes(), sessions.ensureIndexes(), agents.ensureIndexes(), agentSessions.ensureIndexes()])
  app.decorate('usersRepository', users)
  app.decorate('sessionsRepository', sessions)
  app.decorate('agentsRepository', agents)
  app.decorate('agentSessionsRepository', agentSessions)
  app.log.info({ db: MONGO_DB }, 'using MongoDB for users, sessions, agents and agent sessions')
}

export default fp(repositoriesPlugin, { name: 'session-repositories', fastify: '5.x', dependencies: ['session-config'] })
