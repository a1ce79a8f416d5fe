import { AuthFailureLimiter, BusChannels, busHubOf, createBus, redisTopologyOf, type Bus, type BusEvent, type RedisClient } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { SessionResolver } from '../auth/resolver.js'
import type { GatewayConfig } from '../config.js'
import { SESSION_UPSTREAM } from '../routes-table.js'

declare module 'fastify' {
  interface FastifyInstance {
    sessionResolver: SessionResolver
    /** Where `session.revoked` and `agent.sessions.ended` events come from (its Redis state joins /readyz). */
    revocationBus: Bus
  }
}

export interface AuthPluginOptions {
  config: GatewayConfig
  /** Shared failed-lookup counters; null: this process only. */
  redis: RedisClient | null
  /** A bus handed in (tests, or shared with other plugins) is not closed by the gateway. */
  bus?: Bus
}

/** How long boot waits for the revocation subscription before going on without it (it completes later). */
export const BUS_SUBSCRIBE_WAIT_MS = 5_000

async function authPlugin (app: FastifyInstance, opts: AuthPluginOptions): Promise<void> {
  const { config } = opts
  const session = app.upstreams.get(SESSION_UPSTREAM)
  if (session === undefined) throw new Error(`gateway-auth: the route table has no "${SESSION_UPSTREAM}" upstream`)
  const resolver = new SessionResolver({
    pool: session.pool,
    upstreamName: session.name,
    internalToken: config.INTERNAL_TOKEN,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    cacheTtlMs: config.AUTH_CACHE_TTL_MS,
    cacheMax: config.AUTH_CACHE_MAX,
    refusalTtlMs: config.AUTH_REFUSAL_CACHE_TTL_MS,
    refusalMax: config.AUTH_REFUSAL_CACHE_MAX,
    limiter: new AuthFailureLimiter({ max: config.AUTH_FAILURE_LIMIT_MAX, windowMs: config.AUTH_FAILURE_LIMIT_WINDOW_MS, redis: opts.redis, log: app.log }),
    metrics: app.metrics
  })
  app.decorate('sessionResolver', resolver)
  app.metrics.authCacheSize = () => resolver.cacheSize

  // Logouts on any gateway (or expiry sweeps in the session service) evict here too.
  const ownBus = opts.bus === undefined
  const bus = opts.bus ?? createBus(redisTopologyOf(config), app.log, busHubOf(config))
  app.decorate('revocationBus', bus)
  // Console sessions end the same way: logout elsewhere, an agent disabled, a password reset.
  const onEvent = (event: BusEvent): void => {
    if ((event.type !== 'session.revoked' && event.type !== 'agent.sessions.ended') || !Array.isArray(event.credentialHashes)) return
    for (const hash of event.credentialHashes) {
      if (typeof hash === 'string') resolver.evict(hash)
    }
  }
  // The gateway starts whatever the bus does: without revocations, cached credentials live AUTH_CACHE_TTL_MS.
  // (The Redis bus itself subscribes when Redis comes back.)
  let unsubscribe: (() => Promise<void>) | undefined
  const subscribed = bus.subscribe(BusChannels.sessions, onEvent).then((fn) => {
    unsubscribe = fn
    return 'ok' as const
  }, (err: unknown) => {
    app.log.error({ err }, 'subscribing to session revocations failed; cached credentials expire after AUTH_CACHE_TTL_MS')
    return 'failed' as const
  })
  let timer: NodeJS.Timeout | undefined
  const waited = new Promise<'late'>((resolve) => { timer = setTimeout(() => { resolve('late') }, BUS_SUBSCRIBE_WAIT_MS) })
  const outcome = await Promise.race([subscribed, waited])
  clearTimeout(timer)
  if (outcome === 'late') app.log.warn('session revocations not subscribed yet (bus unreachable); cached credentials expire after AUTH_CACHE_TTL_MS meanwhile')

  app.addHook('onClose', async () => {
    if (unsubscribe !== undefined) await unsubscribe().catch(() => {})
    if (ownBus) await bus.close()
    resolver.clear()
  })
}

export default fp(authPlugin, { name: 'gateway-auth', fastify: '5.x', dependencies: ['gateway-upstreams', 'gateway-metrics'] })
