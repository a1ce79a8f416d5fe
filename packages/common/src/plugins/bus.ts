import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createBus, type Bus, type BusHubTarget } from '../bus.js'
import type { RedisTopology } from '../redis-topology.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Redis pub/sub when a Redis topology is configured, else the bus hub when BUS_HUB_URL is, else in-process (or the bus handed in). */
    bus: Bus
  }
}

export interface BusPluginOptions {
  /** The service's Redis (redisTopologyOf(config)); absent: the bus hub, or an in-process bus. */
  redis: RedisTopology | undefined
  /** The bus hub to join without Redis (busHubOf(config): BUS_HUB_URL); absent too: an in-process bus. */
  busHub?: BusHubTarget | undefined
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
  const created = createBus(opts.redis, app.log, opts.busHub)
  app.decorate('bus', created)
  app.addHook('onClose', async () => { await created.close() })
}

export const busPlugin = fp(bus, { name: '@weapp/bus', fastify: '5.x' })
