import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { MetricsUnauthorizedError } from '../errors.js'

export interface MetricsRoutesOptions {
  /** When set, scrapers must send `Authorization: Bearer <token>`. */
  token: string | undefined
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/** `GET /metrics`: this process's Prometheus registry in the text exposition format. */
export default async function metricsRoutes (app: FastifyInstance, opts: MetricsRoutesOptions): Promise<void> {
  const expected = opts.token === undefined ? null : digest(`Bearer ${opts.token}`)

  app.get('/metrics', { config: { metricsGroup: 'gateway' } }, async (request, reply) => {
    if (expected !== null) {
      const presented = request.headers.authorization
      // Compare digests: neither length nor content leaks through timing.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) throw new MetricsUnauthorizedError()
    }
    const registry = app.metrics.registry
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}
