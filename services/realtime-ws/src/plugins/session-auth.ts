import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { AuthFailureLimiter, BusChannels, SessionResolver, type BusEvent, type ResolveTransport } from '@weapp/common'
import { WsSessionLookupUnavailableError } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Resolves the session credential of an upgrade that came straight from a client (nginx), not through the gateway. */
    wsSessionResolver: SessionResolver
  }
}

/** Most credential hashes one bus event may evict (a logout names one or two; an agent's sessions far fewer than this). */
export const MAX_EVICTED_PER_EVENT = 1000

/** POST to the session service with fetch (keep-alive by default); no answer within `timeoutMs` rejects. */
export function fetchTransport (sessionUrl: string, timeoutMs: number): ResolveTransport {
  return async ({ path, headers, body }) => {
    const res = await fetch(new URL(path, sessionUrl), { method: 'POST', headers, body, signal: AbortSignal.timeout(timeoutMs) })
    return { statusCode: res.status, text: await res.text() }
  }
}

/**
 * The gateway's resolver (@weapp/common session-auth/), for `/ws` upgrades that carry the client's own
 * credential (bearer, wafer headers, wafer gen-1 query): cached as the gateway caches (AUTH_CACHE_*),
 * refusals remembered (AUTH_REFUSAL_CACHE_*), failed lookups limited per client address
 * (AUTH_FAILURE_LIMIT_*, counted in Redis together with the gateway's). A logout anywhere evicts at once:
 * `session.revoked` and `agent.sessions.ended` name the credential hashes (the revocation plugin closes the
 * session's sockets on the same events).
 */
async function sessionAuthPlugin (app: FastifyInstance): Promise<void> {
  const config = app.wsConfig
  const metrics = app.wsMetrics
  const log = app.log.child({ component: 'session-auth' })
  const resolver = new SessionResolver({
    transport: fetchTransport(config.SESSION_URL, config.SESSION_TIMEOUT_MS),
    unreachable: (err) => {
      log.warn({ err }, 'session lookup failed')
      return new WsSessionLookupUnavailableError()
    },
    badResponse: () => {
      log.warn('session lookup: the session service answered outside the contract')
      return new WsSessionLookupUnavailableError()
    },
    internalToken: config.INTERNAL_TOKEN,
    cacheTtlMs: config.AUTH_CACHE_TTL_MS,
    cacheMax: config.AUTH_CACHE_MAX,
    refusalTtlMs: config.AUTH_REFUSAL_CACHE_TTL_MS,
    refusalMax: config.AUTH_REFUSAL_CACHE_MAX,
    limiter: new AuthFailureLimiter({ max: config.AUTH_FAILURE_LIMIT_MAX, windowMs: config.AUTH_FAILURE_LIMIT_WINDOW_MS, redis: app.wsRedis, log }),
    metrics: {
      authCacheHit: () => { metrics.authCacheHits.inc() },
      authCacheMiss: () => { metrics.authCacheMisses.inc() },
      authFailure: (reason) => { metrics.authFailures.inc({ reason }) },
      resolveObserved: (seconds, outcome) => { metrics.resolveSeconds.observe({ outcome }, seconds) }
    }
  })
  app.decorate('wsSessionResolver', resolver)
  const evict = (event: BusEvent): void => {
    if ((event.type !== 'session.revoked' && event.type !== 'agent.sessions.ended') || !Array.isArray(event.credentialHashes)) return
    for (const hash of event.credentialHashes.slice(0, MAX_EVICTED_PER_EVENT)) {
      if (typeof hash === 'string') resolver.evict(hash)
    }
  }
  const unsubscribe = await app.bus.subscribe(BusChannels.sessions, evict)
  app.addHook('preClose', async () => { await unsubscribe().catch(() => {}) })
  app.addHook('onClose', async () => { resolver.clear() })
}

export default fp(sessionAuthPlugin, { name: 'ws-session-auth', fastify: '5.x', dependencies: ['ws-config', 'ws-redis', 'ws-metrics', '@weapp/bus'] })
