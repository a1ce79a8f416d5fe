import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { SessionMetrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessionMetrics: SessionMetrics
  }
}

async function metricsPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('sessionMetrics', new SessionMetrics())
}

export default fp(metricsPlugin, { name: 'session-metrics', fastify: '5.x' })
