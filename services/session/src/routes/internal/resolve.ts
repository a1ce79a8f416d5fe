import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ResolveRequestSchema, ResolveResponseSchema, credentialOfResolveRequest } from '@weapp/common'
import { errorResponses } from '../../schemas.js'
import { outcomeOf } from '../../metrics.js'

/** POST /internal/resolve: the gateway turns a client credential into a trusted identity (contract: @weapp/common contracts/resolve.ts). */
const resolve: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/resolve', {
    schema: {
      body: ResolveRequestSchema,
      response: {
        200: ResolveResponseSchema,
        ...errorResponses(400, 401, 413, 415, 500)
      }
    }
  }, async (request) => {
    try {
      const { identity, expiresAt } = await app.sessionService.resolve(credentialOfResolveRequest(request.body))
      app.sessionMetrics.resolves.inc({ outcome: 'ok' })
      return { identity, expiresAt: expiresAt.toISOString() }
    } catch (err) {
      app.sessionMetrics.resolves.inc({ outcome: outcomeOf(err) })
      throw err
    }
  })
}

export default resolve
