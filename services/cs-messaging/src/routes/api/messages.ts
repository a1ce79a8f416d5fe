import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type, { type Static } from 'typebox'
import { requireAdmin, type OutboundMessage } from '@weapp/common'
import { SEND_BODIES, SendBody, errorResponses } from '../../schemas.js'
import { attemptIdOf } from '../../outbound/service.js'
import { discriminatedBodyCompiler } from '../../validation.js'

/** The message log id of a send attempt, on every answer of POST /messages (201 and errors alike). */
export const MESSAGE_ID_HEADER = 'x-cs-message-id'

/** The send body without our own fields: what WeChat gets besides touser. */
function outboundOf (body: Static<typeof SendBody>): OutboundMessage {
  switch (body.msgtype) {
    case 'text': return { msgtype: 'text', text: { content: body.text.content } }
    case 'image': return { msgtype: 'image', image: { media_id: body.image.media_id } }
    case 'link': return { msgtype: 'link', link: { ...body.link } }
    case 'miniprogrampage': return { msgtype: 'miniprogrampage', miniprogrampage: { ...body.miniprogrampage } }
  }
}

/**
 * POST /api/cs/messages: one customer-service message (text, image, link, miniprogrampage) to a user,
 * within their send window unless forced. 201 `{ id, outcome: 'sent' }`.
 */
const messages: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/messages', {
    validatorCompiler: discriminatedBodyCompiler('msgtype', SEND_BODIES),
    schema: {
      body: SendBody,
      response: {
        201: Type.Object({ id: Type.String(), outcome: Type.Literal('sent') }),
        ...errorResponses(400, 401, 403, 409, 413, 415, 429, 500, 501, 502, 503, 504)
      }
    }
  }, async (request, reply) => {
    const admin = requireAdmin(request)
    const body = request.body
    try {
      const result = await app.outboundService.send({ openid: body.touser, message: outboundOf(body), force: body.force === true, sentBy: admin.keyId })
      return await reply.code(201).header(MESSAGE_ID_HEADER, result.id).send(result)
    } catch (err) {
      const id = attemptIdOf(err)
      if (id !== undefined) void reply.header(MESSAGE_ID_HEADER, id)
      throw err
    }
  })
}

export default messages
