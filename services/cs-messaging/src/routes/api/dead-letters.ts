import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { InboundMessageSchema, errorResponses } from '../../schemas.js'
import { DeadLetterNotFoundError } from '../../errors.js'

const StreamId = Type.String({ pattern: '^\\d{1,20}-\\d{1,20}$' })

const DeadLetterSchema = Type.Object({
  id: Type.String(),
  key: Type.String(),
  openid: Type.String(),
  attempts: Type.Integer(),
  error: Type.String(),
  failedAt: Type.String(),
  receivedAt: Type.String(),
  message: InboundMessageSchema
})

/** Messages the worker gave up on: list them, put one back into the queue. */
const deadLetters: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/dead-letters', {
    schema: {
      querystring: Type.Object({
        limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
        before: Type.Optional(StreamId)
      }),
      response: {
        200: Type.Object({ items: Type.Array(DeadLetterSchema), next: Type.Union([Type.String(), Type.Null()]) }),
        ...errorResponses(400, 401, 403, 500)
      }
    }
  }, async (request) => {
    const { limit, before } = request.query
    const items = await app.inboundQueue.listDeadLetters({ limit, before })
    return {
      items: items.map((d) => ({ id: d.id, key: d.key, openid: d.message.FromUserName, attempts: d.attempt, error: d.error, failedAt: d.failedAt, receivedAt: d.receivedAt, message: d.message })),
      next: items.length === limit ? items[items.length - 1]!.id : null
    }
  })

  app.post('/dead-letters/:id/replay', {
    schema: {
      params: Type.Object({ id: StreamId }),
      response: { 202: Type.Object({ replayed: Type.String(), queuedAs: Type.String() }), ...errorResponses(400, 401, 403, 404, 500) }
    }
  }, async (request, reply) => {
    const queuedAs = await app.inboundQueue.replay(request.params.id)
    if (queuedAs === null) throw new DeadLetterNotFoundError(request.params.id)
    request.log.info({ deadLetter: request.params.id, queuedAs }, 'dead letter replayed')
    return await reply.code(202).send({ replayed: request.params.id, queuedAs })
  })
}

export default deadLetters
