import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { BusChannels, NoteSchema, requireAgent } from '@weapp/common'
import { OpenidSchema, errorResponses } from '../../schemas.js'
import { strictValidatorCompiler } from '../../validation.js'
import { ConsoleLimitError } from '../../errors.js'
import { NOTES_PER_CONVERSATION_MAX } from '../../repositories/notes.js'

export const NOTE_MAX_CHARS = 2000
export const NOTES_DEFAULT_PAGE = 50
export const NOTES_MAX_PAGE = 100
/** 2000 characters of 3-byte UTF-8, JSON-escaped, with room to spare. */
const BODY_LIMIT = 16 * 1024

const Params = Type.Object({ openid: OpenidSchema })

/**
 * Internal notes on a conversation: for colleagues, never sent to WeChat. A new note is published as a
 * console event, so every open console shows it.
 */
const notes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/conversations/:openid/notes', {
    schema: {
      params: Params,
      querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: NOTES_MAX_PAGE, default: NOTES_DEFAULT_PAGE }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ items: Type.Array(NoteSchema) }), ...errorResponses(400, 401, 403, 500) }
    }
  }, async (request) => {
    requireAgent(request)
    return { items: await app.notesRepository.list(request.params.openid, request.query.limit) }
  })

  app.post('/conversations/:openid/notes', {
    bodyLimit: BODY_LIMIT,
    validatorCompiler: strictValidatorCompiler,
    schema: {
      params: Params,
      body: Type.Object({ text: Type.String({ minLength: 1, maxLength: NOTE_MAX_CHARS }) }, { additionalProperties: false }),
      response: { 201: NoteSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 500) }
    }
  }, async (request, reply) => {
    const agent = requireAgent(request)
    const note = await app.notesRepository.add({
      openid: request.params.openid,
      author: { agentId: agent.agentId, displayName: agent.displayName },
      text: request.body.text,
      createdAt: new Date(app.clock())
    })
    if (note === 'limit') throw new ConsoleLimitError(`a conversation keeps at most ${NOTES_PER_CONVERSATION_MAX} notes`)
    // The note is stored: a bus that is down only delays other consoles until they reload.
    app.bus.publish(BusChannels.console, { type: 'console.event', event: { type: 'note', note } })
      .catch((err: unknown) => { request.log.warn({ err }, 'could not publish the note event') })
    return await reply.code(201).send(note)
  })
}

export default notes
