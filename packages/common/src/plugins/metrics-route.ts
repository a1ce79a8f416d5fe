import type { FastifyInstance } from 'fastify'
import Type from 'typebox'
import { errorResponses } from '../error-schema.js'

/** What a prom-client Registry offers a scrape (common does not depend on prom-client). */
export interface MetricsRegistry {
  metrics (): Promise<string>
  readonly contentType: string
}

/** `GET /metrics` of a service: its registry as Prometheus text; needs the internal credential (the gateway decides who may scrape). */
export function metricsRoute (registry: (app: FastifyInstance) => MetricsRegistry) {
  return async function metrics (app: FastifyInstance): Promise<void> {
    app.get('/metrics', {
      schema: { response: { 200: Type.String(), ...errorResponses(401, 500) } }
    }, async (_request, reply) => {
      const source = registry(app)
      const text = await source.metrics()
      return await reply.type(source.contentType).send(text)
    })
  }
}
