import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { CannedReplySchema, requireAgent } from '@weapp/common'
import { errorResponses } from '../../schemas.js'
import { strictValidatorCompiler } from '../../validation.js'
import { ConsoleDuplicateError, ConsoleLimitError, ConsoleNotFoundError } from '../../errors.js'
import { CANNED_REPLIES_MAX } from '../../repositories/canned-replies.js'

/** As much as one text message holds (custom/send text: 2048 characters). */
export const CANNED_TEXT_MAX_CHARS = 2048
const BODY_LIMIT = 16 * 1024

/** A repository id (a UUID); anything else is simply not found. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) })

/**
 * Canned replies, shared by every agent: `/shortcut` in the reply box inserts the text. Any agent may add
 * or delete one (a small team keeps its own list; the console admin role guards accounts, not wording).
 */
const canned: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/canned', {
    schema: { response: { 200: Type.Object({ items: Type.Array(CannedReplySchema) }), ...errorResponses(401, 403, 500) } }
  }, async (request) => {
    requireAgent(request)
    return { items: await app.cannedRepliesRepository.list() }
  })

  app.post('/canned', {
    bodyLimit: BODY_LIMIT,
    validatorCompiler: strictValidatorCompiler,
    schema: {
      body: Type.Object({
        shortcut: Type.String({ pattern: '^[a-z0-9_-]{1,32}$' }),
        text: Type.String({ minLength: 1, maxLength: CANNED_TEXT_MAX_CHARS })
      }, { additionalProperties: false }),
      response: { 201: CannedReplySchema, ...errorResponses(400, 401, 403, 409, 413, 415, 500) }
    }
  }, async (request, reply) => {
    requireAgent(request)
    const { shortcut, text } = request.body
    const saved = await app.cannedRepliesRepository.add({ shortcut, text })
    if (saved === 'duplicate') throw new ConsoleDuplicateError(`a canned reply with the shortcut "${shortcut}"`)
    if (saved === 'limit') throw new ConsoleLimitError(`at most ${CANNED_REPLIES_MAX} canned replies; delete one first`)
    return await reply.code(201).send(saved)
  })

  app.delete('/canned/:id', {
    schema: { params: IdParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 500) } }
  }, async (request, reply) => {
    requireAgent(request)
    if (!await app.cannedRepliesRepository.remove(request.params.id)) throw new ConsoleNotFoundError(`canned reply ${request.params.id}`)
    return await reply.code(204).send(null)
  })
}

export default canned
