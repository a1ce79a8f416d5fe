import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createRedis, redisTopologyOf, type RedisClient } from '@weapp/common'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared command connection when a Redis topology is configured (queue, dedupe, windows, tokens); null embedded. */
    csRedis: RedisClient | null
  }
}

/** How long boot waits for Redis before starting anyway (pushes get 503 until it is reachable). */
export const REDIS_BOOT_WAIT_MS = 5000
const QUIT_TIMEOUT_MS = 1000

/**
 * One Redis connection for commands. Pushes must be answered within 5 s, so commands fail fast instead
 * of waiting in an offline queue while Redis is unreachable (the push is then answered 503 and WeChat
 * retries), and none may take longer than PUSH_ACK_TIMEOUT_MS.
 */
async function redisPlugin (app: FastifyInstance): Promise<void> {
  const { PUSH_ACK_TIMEOUT_MS } = app.csConfig
  const topology = redisTopologyOf(app.csConfig)
  if (topology === undefined) {
    app.decorate('csRedis', null)
    return
  }
  // Outages are logged by the factory, once each way (not once per reconnect attempt).
  const redis = createRedis(topology, { enableOfflineQueue: false, commandTimeout: PUSH_ACK_TIMEOUT_MS }, { name: 'queue', log: app.log })
  app.decorate<RedisClient | null>('csRedis', redis)
  app.addHook('onClose', async () => {
    // QUIT waits for an answer; a Redis that stopped answering must not hold the shutdown.
    await Promise.race([redis.quit().catch(() => {}), sleep(QUIT_TIMEOUT_MS)])
    redis.disconnect()
  })
  if (redis.status !== 'ready') {
    const ac = new AbortController()
    // Refused at once (nothing listening): start now and keep reconnecting; no answer: wait a little.
    const ready = Promise.race([
      once(redis, 'ready', { signal: ac.signal }).then(() => true, () => false),
      once(redis, 'error', { signal: ac.signal }).then(() => false, () => false)
    ])
    const timer = new Promise<boolean>((resolve) => { setTimeout(resolve, REDIS_BOOT_WAIT_MS, false).unref() })
    const ok = await Promise.race([ready, timer])
    ac.abort()
    if (!ok) app.log.error('Redis is not reachable yet: pushes are answered 503 until it is')
  }
}

export default fp(redisPlugin, { name: 'cs-redis', fastify: '5.x', dependencies: ['cs-config'] })
