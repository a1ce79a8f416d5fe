import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createBus, type Bus } from '@weapp/common'

declare module 'fastify' {
  interface FastifyInstance {
    /** Redis pub/sub when REDIS_URL is set, in-process otherwise. */
    bus: Bus
  }
}

async function busPlugin (app: FastifyInstance): Promise<void> {
  const bus = createBus(app.config.REDIS_URL, app.log)
  app.decorate('bus', bus)
  app.addHook('onClose', async () => { await bus.close() })
}

export default fp(busPlugin, { name: 'session-bus', fastify: '5.x', dependencies: ['session-config'] })
