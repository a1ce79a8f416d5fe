import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createBus, type Bus } from '@weapp/common'
import { WsOptionsInvalidError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Redis pub/sub when REDIS_URL is set, in-process otherwise (or the bus handed in). */
    wsBus: Bus
  }
}

export interface BusPluginOptions {
  /** Use this bus (tests share an in-process bus between instances); closed by its owner. */
  bus?: Bus
}

async function busPlugin (app: FastifyInstance, opts: BusPluginOptions): Promise<void> {
  if (opts.bus !== undefined) {
    if (typeof opts.bus.subscribe !== 'function') throw new WsOptionsInvalidError('bus must implement Bus')
    app.decorate('wsBus', opts.bus)
    return
  }
  const bus = createBus(app.wsConfig.REDIS_URL, app.log)
  app.decorate('wsBus', bus)
  app.addHook('onClose', async () => { await bus.close() })
}

export default fp(busPlugin, { name: 'ws-bus', fastify: '5.x', dependencies: ['ws-config'] })
