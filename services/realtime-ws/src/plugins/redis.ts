import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createRedis, redisTopologyOf, type RedisClient } from '@weapp/common'

declare module 'fastify' {
  interface FastifyInstance {
    /** Commands (tickets); null in the embedded mode. The bus has connections of its own. */
    wsRedis: RedisClient | null
  }
}

async function redisPlugin (app: FastifyInstance): Promise<void> {
  const topology = redisTopologyOf(app.wsConfig)
  // A Redis that stops answering fails the command (503 on a ticket) instead of holding the upgrade for ever.
  // Outages are logged by the factory, once each way (not once per reconnect attempt).
  const redis = topology === undefined ? null : createRedis(topology, { commandTimeout: app.wsConfig.REDIS_COMMAND_TIMEOUT_MS }, { name: 'tickets', log: app.log })
  if (redis !== null) {
    app.addHook('onClose', async () => {
      await Promise.race([redis.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
      redis.disconnect()
    })
  }
  app.decorate<RedisClient | null>('wsRedis', redis)
}

export default fp(redisPlugin, { name: 'ws-redis', fastify: '5.x', dependencies: ['ws-config'] })
