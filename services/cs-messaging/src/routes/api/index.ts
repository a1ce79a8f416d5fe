import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { requireAdmin } from '@weapp/common'
import deadLetters from './dead-letters.js'
import messages from './messages.js'
import typing from './typing.js'
import media from './media.js'
import conversations from './conversations.js'

/**
 * The admin API, mounted under /api/cs: the internal credential (checked for every route) plus an admin
 * identity forwarded by the gateway (401 without one, 403 for a user's). Checked before any body is
 * read; the handlers ask requireAdmin again for the key id they record.
 */
const api: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', async (request) => { requireAdmin(request) })
  await app.register(deadLetters)
  await app.register(messages)
  await app.register(typing)
  await app.register(media)
  await app.register(conversations)
}

export default api
