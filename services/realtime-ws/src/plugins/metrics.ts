import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { WsMetrics } from '../metrics.js'

declare module 'fastify' {
  interface FastifyInstance {
    wsMetrics: WsMetrics
  }
}

async function metricsPlugin (app: FastifyInstance): Promise<void> {
  app.decorate('wsMetrics', new WsMetrics())
}

export default fp(metricsPlugin, { name: 'ws-metrics', fastify: '5.x' })
