import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireAgent } from '@weapp/common'
import conversations from './conversations.js'
import messages from './messages.js'
import typing from './typing.js'
import notes from './notes.js'
import canned from './canned.js'
import cardTemplates from './card-templates.js'
import media from './media.js'
import handover from './handover.js'

/**
 * The agent console's API, mounted under /api/console: the internal credential (checked for every route)
 * plus an agent identity the gateway resolved from the console cookie (401 without one, 403 for another
 * kind), checked before any body is read. One import and one register per route file.
 */
const consoleApi: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async (request) => { requireAgent(request) })
  await app.register(conversations)
  await app.register(messages)
  await app.register(typing)
  await app.register(notes)
  await app.register(canned)
  await app.register(cardTemplates)
  await app.register(media)
  await app.register(handover)
}

export default consoleApi
