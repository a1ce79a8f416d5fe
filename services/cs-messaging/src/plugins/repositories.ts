import fp from 'fastify-plugin'
import { dateClock } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import type { MessagesRepository } from '../repositories/types.js'
import { MemoryMessagesRepository } from '../repositories/memory.js'

declare module 'fastify' {
  interface FastifyInstance {
    messagesRepository: MessagesRepository
  }
}

const MONGO_SERVER_SELECTION_TIMEOUT_MS = 10_000

/** The message log: MongoDB when MONGO_URL is set (client created, indexes ensured, closed here), memory otherwise. */
async function repositoriesPlugin (app: FastifyInstance): Promise<void> {
  const { MONGO_URL, MONGO_DB, MESSAGE_RETENTION_DAYS } = app.csConfig
  const retentionSec = MESSAGE_RETENTION_DAYS * 86_400
  if (MONGO_URL === undefined) {
    app.decorate('messagesRepository', new MemoryMessagesRepository({ retentionMs: retentionSec * 1000, now: dateClock(app.clock) }))
    return
  }
  // Loaded only when configured: the embedded store needs neither the driver nor its 17 MB BSON buffer.
  const { MongoClient } = await import('mongodb')
  const { MongoMessagesRepository } = await import('../repositories/mongo.js')
  const client = new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: MONGO_SERVER_SELECTION_TIMEOUT_MS, appName: 'weapp-cs-messaging' })
  app.addHook('onClose', async () => { await client.close() })
  await client.connect()
  const messages = new MongoMessagesRepository(client.db(MONGO_DB), { retentionSec })
  await messages.ensureIndexes()
  app.decorate('messagesRepository', messages)
  app.log.info({ db: MONGO_DB }, 'using MongoDB for the message log')
}

export default fp(repositoriesPlugin, { name: 'cs-repositories', fastify: '5.x', dependencies: ['cs-config'] })
