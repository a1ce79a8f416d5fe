import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { ConversationSchema, acceptEmptyJsonBody, requireAgent } from '@weapp/common'
import { OpenidSchema, errorResponses } from '../../schemas.js'
import { strictValidatorCompiler } from '../../validation.js'
import { conversationView } from '../../repositories/conversations.js'

/**
 * `POST /conversations/:openid/handover`: the user's next message is answered `transfer_customer_service`
 * (WeChat's official customer-service tool takes the conversation); `{release: true}` takes it back.
 */
const handover: FastifyPluginAsyncTypebox = async (app) => {
  // A bodiless POST from a browser's fetch may still say application/json.
  acceptEmptyJsonBody(app)
  app.post('/conversations/:openid/handover', {
    bodyLimit: 1024,
    validatorCompiler: strictValidatorCompiler,
    schema: {
      params: Type.Object({ openid: OpenidSchema }),
      // No body (or an empty one) asks for the hand-over.
      body: Type.Union([Type.Null(), Type.Undefined(), Type.Object({ release: Type.Optional(Type.Boolean()) }, { additionalProperties: false })]),
      response: { 200: Type.Object({ conversation: ConversationSchema }), ...errorResponses(400, 401, 403, 404, 413, 415, 500) }
    }
  }, async (request) => {
    const agent = requireAgent(request)
    const { openid } = request.params
    const release = request.body?.release === true
    const conversation = release ? await app.handover.release(openid) : await app.handover.request(openid)
    request.log.info({ openid, agentId: agent.agentId, handover: conversation.handover }, release ? 'hand-over taken back' : 'hand-over requested')
    return { conversation: conversationView(conversation) }
  })
}

export default handover
