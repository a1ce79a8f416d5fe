import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { GatewayMetrics } from '../metrics.js'
import { UPSTREAM_NAMES } from '../routes-table.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics
  }
  interface FastifyRequest {
    /** Index of the route group for the request metrics; set by the proxy handlers, -1 otherwise. */
    metricsGroup: number
  }
  interface FastifyContextConfig {
    /** Route group the request metrics count this route under (default `gateway`). */
    metricsGroup?: string
  }
}

/**
 * Counts every response by route group and status class. One callback-style onResponse hook: the
 * proxy handlers set `request.metricsGroup`, so the common case reads a field; other routes (and
 * requests refused before their handler, e.g. 429) look their group up in the route config, and
 * requests that matched no route count as `unmatched`.
 */
async function metricsPlugin (app: FastifyInstance): Promise<void> {
  const metrics = new GatewayMetrics(UPSTREAM_NAMES)
  const gatewayGroup = metrics.groupIndex('gateway')
  app.decorate('metrics', metrics)
  app.decorateRequest('metricsGroup', -1)
  app.addHook('onResponse', (request, reply, done) => {
    let group = request.metricsGroup
    if (group < 0) {
      if (request.is404) group = 0
      else {
        const name = request.routeOptions.config.metricsGroup
        group = name === undefined ? gatewayGroup : metrics.groupIndex(name)
      }
    }
    metrics.observeRequest(group, reply.statusCode, reply.elapsedTime / 1000)
    done()
  })
}

export default fp(metricsPlugin, { name: 'gateway-metrics', fastify: '5.x' })
