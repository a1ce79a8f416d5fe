import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { requireUser } from '@weapp/common'
import { UserSchema, WxCode, errorResponses } from '../../schemas.js'
import { outcomeOf } from '../../metrics.js'

/** POST /api/login (public through the gateway) and POST /api/logout (needs a session). */
const login: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/login', {
    schema: {
      // Other fields are ignored: clients often forward wx.login's whole result.
      body: Type.Object({ code: WxCode }),
      response: {
        200: Type.Object({ token: Type.String(), expiresAt: Type.String({ format: 'date-time' }), user: UserSchema }),
        ...errorResponses(400, 401, 403, 413, 415, 429, 500, 502, 503, 504)
      }
    }
  }, async (request) => {
    try {
      const { credential, session, user } = await app.loginService.login('bearer', request.body.code)
      app.sessionMetrics.login('bearer', 'ok')
      return { token: credential.token, expiresAt: session.expiresAt.toISOString(), user }
    } catch (err) {
      app.sessionMetrics.login('bearer', outcomeOf(err))
      throw err
    }
  })

  app.post('/logout', {
    schema: { response: { 204: Type.Null(), ...errorResponses(400, 401, 500) } }
  }, async (request, reply) => {
    const identity = requireUser(request)
    await app.sessionService.revoke(identity.sessionId)
    return await reply.code(204).send(null)
  })
}

export default login
