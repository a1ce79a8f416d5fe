import type { RedisState } from '@weapp/common'
import type { FastifyInstance } from 'fastify'
import type { GatewayConfig } from '../config.js'
import { directLocalCaller, operatorAccess } from './operator-access.js'

/** Longest wait for an upstream's /healthz (bounded by UPSTREAM_TIMEOUT_MS). */
export const READY_TIMEOUT_MS = 2_000

export interface HealthRoutesOptions {
  config: GatewayConfig
  isClosing: () => boolean
  /** The gateway's own Redis (rate limits, revocation bus); null when it runs without. */
  redisHealth: () => RedisState | null
}

/** An upstream's /healthz: 2xx (`degraded` when its body says so: e.g. its Redis is away), or not answering well. */
type UpstreamState = 'up' | 'degraded' | 'down'

const HealthSchema = {
  response: {
    200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] }
  }
} as const

const ReadyBody = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'unavailable', 'closing'] },
    down: { type: 'array', items: { type: 'string' } },
    upstreams: { type: 'object', additionalProperties: { type: 'string', enum: ['up', 'degraded', 'down'] } },
    redis: { type: 'string', enum: ['up', 'down'] }
  },
  required: ['status']
} as const

const ReadySchema = { response: { 200: ReadyBody, 503: ReadyBody } } as const

function degradedBody (text: string): boolean {
  try {
    return (JSON.parse(text) as { status?: unknown } | null)?.status === 'degraded'
  } catch {
    return false
  }
}

/**
 * `/healthz`: the gateway process answers (liveness). `/readyz`: readiness, for a load balancer:
 * 503 `unavailable` when an upstream's `/healthz` does not answer 2xx within READY_TIMEOUT_MS,
 * 503 `closing` while shutting down, 200 `degraded` when everything answers but Redis (the gateway's,
 * or an upstream's by its /healthz) is away: logins and sessions still work, limits count per process
 * and revocations wait. Which upstream is down and the Redis state are operator detail: given with
 * METRICS_TOKEN (or METRICS_PUBLIC), or to a direct local caller; anyone else gets the status only.
 */
export default async function healthRoutes (app: FastifyInstance, opts: HealthRoutesOptions): Promise<void> {
  const timeoutMs = Math.min(READY_TIMEOUT_MS, opts.config.UPSTREAM_TIMEOUT_MS)
  const access = operatorAccess({ token: opts.config.METRICS_TOKEN, public: opts.config.METRICS_PUBLIC })

  app.get('/healthz', { schema: HealthSchema, config: { metricsGroup: 'gateway' } }, async () => ({ status: 'ok' }))

  app.get('/readyz', { schema: ReadySchema, config: { metricsGroup: 'gateway' } }, async (request, reply) => {
    const checks = await Promise.all([...app.upstreams.values()].map(async (upstream): Promise<[string, UpstreamState]> => {
      try {
        const response = await upstream.pool.request({
          path: '/healthz',
          method: 'GET',
          headers: { 'x-request-id': request.id },
          signal: AbortSignal.timeout(timeoutMs),
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs
        })
        if (response.statusCode < 200 || response.statusCode >= 300) {
          await response.body.dump()
          return [upstream.name, 'down']
        }
        return [upstream.name, degradedBody(await response.body.text()) ? 'degraded' : 'up']
      } catch {
        return [upstream.name, 'down']
      }
    }))
    const upstreams = Object.fromEntries(checks) as Record<string, UpstreamState>
    const down = checks.filter(([, state]) => state === 'down').map(([name]) => name)
    const redis = opts.redisHealth()
    let status: 'ok' | 'degraded' | 'unavailable' | 'closing' = 'ok'
    if (opts.isClosing()) status = 'closing'
    else if (down.length > 0) status = 'unavailable'
    else if (redis === 'down' || checks.some(([, state]) => state === 'degraded')) status = 'degraded'
    reply.code(status === 'ok' || status === 'degraded' ? 200 : 503)
    if (access(request) !== 'granted' && !directLocalCaller(request)) return { status }
    return {
      status,
      ...(status === 'unavailable' ? { down } : {}),
      upstreams,
      ...(redis === null ? {} : { redis })
    }
  })
}
