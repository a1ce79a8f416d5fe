import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { CardTemplateSchema, requireAgent } from '@weapp/common'
import { MediaIdSchema, errorResponses } from '../../schemas.js'
import { strictValidatorCompiler } from '../../validation.js'
import { ConsoleCardInvalidError, ConsoleLimitError, ConsoleNotFoundError } from '../../errors.js'
import { CARD_TEMPLATES_MAX, type CardTemplate, type NewCardTemplate } from '../../repositories/card-templates.js'
import { IdParams } from './canned.js'

const BODY_LIMIT = 8 * 1024

// Every field is optional in the schema so that a missing one is CS_CONSOLE_CARD_INVALID (as for a card
// sent from the console), not a generic validation failure; lengths and shapes are still the schema's.
const CardTemplateBody = Type.Object({
  name: Type.Optional(Type.String({ maxLength: 64 })),
  title: Type.Optional(Type.String({ maxLength: 64 })),
  pagepath: Type.Optional(Type.String({ maxLength: 512, pattern: '^[^\\s]*$' })),
  thumbMediaId: Type.Optional(Type.Union([Type.Literal(''), MediaIdSchema]))
}, { additionalProperties: false })

const REQUIRED = ['name', 'title', 'pagepath', 'thumbMediaId'] as const

/**
 * Saved mini-program cards. The thumbnail must be an image uploaded through `POST /api/console/media`:
 * its bytes are kept there, so a template outlives the three days of its media_id.
 */
const cardTemplates: FastifyPluginAsyncTypebox = async (app) => {
  /** The template with its thumbnail's latest media_id. */
  const current = async (template: CardTemplate): Promise<CardTemplate> => {
    const kept = await app.consoleMedia.kept(template.thumbMediaId)
    return kept === null ? template : { ...template, thumbMediaId: kept.mediaId }
  }

  app.get('/card-templates', {
    schema: { response: { 200: Type.Object({ items: Type.Array(CardTemplateSchema) }), ...errorResponses(401, 403, 500) } }
  }, async (request) => {
    requireAgent(request)
    return { items: await Promise.all((await app.cardTemplatesRepository.list()).map(current)) }
  })

  app.post('/card-templates', {
    bodyLimit: BODY_LIMIT,
    validatorCompiler: strictValidatorCompiler,
    schema: { body: CardTemplateBody, response: { 201: CardTemplateSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 500) } }
  }, async (request, reply) => {
    requireAgent(request)
    const body = request.body
    const missing = REQUIRED.filter((field) => (body[field] ?? '').trim() === '')
    if (missing.length > 0) throw new ConsoleCardInvalidError(`${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing or empty`)
    const template = body as NewCardTemplate
    if (await app.consoleMedia.kept(template.thumbMediaId) === null) {
      throw new ConsoleCardInvalidError('thumbMediaId must be an image uploaded with POST /api/console/media')
    }
    const saved = await app.cardTemplatesRepository.add(template)
    if (saved === 'limit') throw new ConsoleLimitError(`at most ${CARD_TEMPLATES_MAX} card templates; delete one first`)
    return await reply.code(201).send(saved)
  })

  app.delete('/card-templates/:id', {
    schema: { params: IdParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 500) } }
  }, async (request, reply) => {
    requireAgent(request)
    if (!await app.cardTemplatesRepository.remove(request.params.id)) throw new ConsoleNotFoundError(`card template ${request.params.id}`)
    return await reply.code(204).send(null)
  })
}

export default cardTemplates
