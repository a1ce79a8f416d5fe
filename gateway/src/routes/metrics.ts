import type { FastifyInstance } from 'fastify'
import { MetricsClosedError, MetricsUnauthorizedError } from '../errors.js'
import { operatorAccess, type OperatorAccessOptions } from './operator-access.js'

export type MetricsRoutesOptions = OperatorAccessOptions

/**
 * `GET /metrics`: this process's Prometheus registry in the text exposition format, for callers with
 * METRICS_TOKEN; closed (403 GATEWAY_METRICS_CLOSED) when none is configured, unless METRICS_PUBLIC.
 */
export default async function metricsRoutes (app: FastifyInstance, opts: MetricsRoutesOptions): Promise<void> {
  const access = operatorAccess(opts)

  app.get('/metrics', { config: { metricsGroup: 'gateway' } }, async (request, reply) => {
    const verdict = access(request)
    if (verdict === 'closed') throw new MetricsClosedError()
    if (verdict === 'unauthorized') throw new MetricsUnauthorizedError()
    const registry = app.metrics.registry
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}
