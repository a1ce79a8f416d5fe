import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import Type from 'typebox'
import { errorResponses } from '../schemas.js'

/** Prometheus metrics; needs the internal credential (the gateway decides who may scrape). */
const metrics: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/metrics', {
    schema: { response: { 200: Type.String(), ...errorResponses(401, 500) } }
  }, async (_request, reply) => {
    const text = await app.wsMetrics.registry.metrics()
    return await reply.type(app.wsMetrics.registry.contentType).send(text)
  })
}

export default metrics
