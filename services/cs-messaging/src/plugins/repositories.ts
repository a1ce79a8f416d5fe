import fp from 'fastify-plugin'
import { dateClock, mongoClientOptions, type MongoRepositoryOptions } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import type { Db } from 'mongodb'
import type { MessagesRepository } from '../repositories/types.js'
import { MemoryMessagesRepository } from '../repositories/memory.js'
import { MemoryConversationsRepository, type ConversationsRepository } from '../repositories/conversations.js'
import { MemoryNotesRepository, type NotesRepository } from '../repositories/notes.js'
import { MemoryCannedRepliesRepository, type CannedRepliesRepository } from '../repositories/canned-replies.js'
import { MemoryCardTemplatesRepository, type CardTemplatesRepository } from '../repositories/card-templates.js'
import { MemoryConsoleMediaRepository, type ConsoleMediaRepository } from '../repositories/console-media.js'

declare module 'fastify' {
  interface FastifyInstance {
    messagesRepository: MessagesRepository
    /** One document per user (MongoDB `conversations`): the console's list, claims, unread counts. */
    conversationsRepository: ConversationsRepository
    /** The console's internal notes (MongoDB `notes`). */
    notesRepository: NotesRepository
    /** The console's canned replies (MongoDB `canned_replies`). */
    cannedRepliesRepository: CannedRepliesRepository
    /** The console's card templates (MongoDB `card_templates`). */
    cardTemplatesRepository: CardTemplatesRepository
    /** The console's uploaded images and their media_ids (MongoDB `console_media`), for the media cache. */
    consoleMediaRepository: ConsoleMediaRepository
  }
}

/** The message log: MongoDB when MONGO_URL is set (client created, indexes ensured, closed here), memory otherwise. */
async function repositoriesPlugin (app: FastifyInstance): Promise<void> {
  const { MONGO_URL, MONGO_DB, MESSAGE_RETENTION_DAYS, MONGO_OP_TIMEOUT_MS } = app.csConfig
  const retentionSec = MESSAGE_RETENTION_DAYS * 86_400
  if (MONGO_URL === undefined) {
    app.decorate('messagesRepository', new MemoryMessagesRepository({ retentionMs: retentionSec * 1000, now: dateClock(app.clock) }))
    app.decorate('conversationsRepository', new MemoryConversationsRepository({ retentionMs: retentionSec * 1000, now: dateClock(app.clock) }))
    app.decorate('notesRepository', new MemoryNotesRepository())
    app.decorate('cannedRepliesRepository', new MemoryCannedRepliesRepository())
    app.decorate('cardTemplatesRepository', new MemoryCardTemplatesRepository())
    app.decorate('consoleMediaRepository', new MemoryConsoleMediaRepository())
    return
  }
  // Loaded only when configured: the embedded store needs neither the driver nor its 17 MB BSON buffer.
  const { MongoClient } = await import('mongodb')
  const { MongoMessagesRepository } = await import('../repositories/mongo.js')
  const client = new MongoClient(MONGO_URL, mongoClientOptions('weapp-cs-messaging', MONGO_OP_TIMEOUT_MS))
  app.addHook('onClose', async () => { await client.close() })
  await client.connect()
  const options = { opTimeoutMs: MONGO_OP_TIMEOUT_MS }
  const messages = new MongoMessagesRepository(client.db(MONGO_DB), { retentionSec, ...options })
  await messages.ensureIndexes()
  app.decorate('messagesRepository', messages)
  const { MongoConversationsRepository } = await import('../repositories/conversations-mongo.js')
  const conversations = new MongoConversationsRepository(client.db(MONGO_DB), { retentionSec, ...options })
  await conversations.ensureIndexes()
  app.decorate('conversationsRepository', conversations)
  await decorateConsoleStores(app, client.db(MONGO_DB), options)
  app.log.info({ db: MONGO_DB }, 'using MongoDB for the message log')
}

/** The console's notes, canned replies, card templates and images, with their indexes. */
async function decorateConsoleStores (app: FastifyInstance, db: Db, options: MongoRepositoryOptions): Promise<void> {
  const { MongoNotesRepository } = await import('../repositories/notes-mongo.js')
  const { MongoCannedRepliesRepository } = await import('../repositories/canned-replies-mongo.js')
  const { MongoCardTemplatesRepository } = await import('../repositories/card-templates-mongo.js')
  const { MongoConsoleMediaRepository } = await import('../repositories/console-media-mongo.js')
  const notes = new MongoNotesRepository(db, options)
  const canned = new MongoCannedRepliesRepository(db, options)
  const media = new MongoConsoleMediaRepository(db, dateClock(app.clock), options)
  // One after the other: an index conflict stops boot with its own message (COMMON_MONGO_INDEX_CONFLICT).
  for (const repository of [notes, canned, media]) await repository.ensureIndexes()
  app.decorate('notesRepository', notes)
  app.decorate('cannedRepliesRepository', canned)
  app.decorate('cardTemplatesRepository', new MongoCardTemplatesRepository(db, options))
  app.decorate('consoleMediaRepository', media)
}

export default fp(repositoriesPlugin, { name: 'cs-repositories', fastify: '5.x', dependencies: ['cs-config'] })
