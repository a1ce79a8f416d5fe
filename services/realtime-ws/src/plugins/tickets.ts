import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { MemoryTicketStore, RedisTicketStore, type TicketStore } from '../hub/tickets.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Single-use connection tickets: Redis when REDIS_URL is set (any instance may consume), memory otherwise. */
    wsTickets: TicketStore
  }
}

async function ticketsPlugin (app: FastifyInstance): Promise<void> {
  const store: TicketStore = app.wsRedis === null ? new MemoryTicketStore(app.clock) : new RedisTicketStore(app.wsRedis)
  app.decorate('wsTickets', store)
  app.addHook('onClose', async () => { await store.close() })
}

export default fp(ticketsPlugin, { name: 'ws-tickets', fastify: '5.x', dependencies: ['ws-config', 'ws-redis'] })
