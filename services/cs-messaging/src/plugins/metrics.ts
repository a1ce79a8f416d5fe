import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { CsMetrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    csMetrics: CsMetrics
  }
}

async function metricsPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('csMetrics', new CsMetrics(async () => await app.inboundQueue.stats()))
}

export default fp(metricsPlugin, { name: 'cs-metrics', fastify: '5.x', dependencies: ['cs-queue'] })
