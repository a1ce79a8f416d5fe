import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createBus, type Bus } from '../bus.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Redis pub/sub when REDIS_URL is set, in-process otherwise (or the bus handed in). */
    bus: Bus
  }
}

export interface BusPluginOptions {
  /** The service's REDIS_URL; absent: an in-process bus. */
  redisUrl: string | undefined
  /** Use this bus instead (tests share one between instances); closed by its owner. */
  bus?: Bus
}

/** The `bus` decorator every service has: created here and closed with the app, unless handed in. */
async function bus (app: FastifyInstance, opts: BusPluginOptions): Promise<void> {
  if (opts.bus !== undefined) {
    if (typeof opts.bus?.subscribe !== 'function') throw new Error('busPlugin: bus must implement Bus')
    app.decorate('bus', opts.bus)
    return
  }
  const created = createBus(opts.redisUrl, app.log)
  app.decorate('bus', created)
  app.addHook('onClose', async () => { await created.close() })
}

export const busPlugin = fp(bus, { name: '@weapp/bus', fastify: '5.x' })
