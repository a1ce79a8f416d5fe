import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireAdmin } from '@weapp/common'
import { TypingBody, errorResponses } from '../../schemas.js'
import { strictValidatorCompiler } from '../../validation.js'

/**
 * POST /api/cs/typing: shows (Typing, 15 s) or hides (CancelTyping) "typing…" in the user's chat. 204.
 * WeChat's rules come back as its typed errors: 409 WECHAT_TYPING_NO_INTERACTION (45080: no open window,
 * or no message exchanged within 30 s), 409 WECHAT_TYPING_ALREADY_ACTIVE (45081).
 */
const typing: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/typing', {
    validatorCompiler: strictValidatorCompiler,
    schema: {
      body: TypingBody,
      response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 409, 413, 415, 500, 501, 502, 503, 504) }
    }
  }, async (request, reply) => {
    requireAdmin(request)
    await app.outboundService.typing(request.body.touser, request.body.command)
    return await reply.code(204).send(null)
  })
}

export default typing
