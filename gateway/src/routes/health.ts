import type { FastifyInstance } from 'fastify'
import type { GatewayConfig } from '../config.js'

/** Longest wait for an upstream's /healthz (bounded by UPSTREAM_TIMEOUT_MS). */
export const READY_TIMEOUT_MS = 2_000

export interface HealthRoutesOptions {
  config: GatewayConfig
  isClosing: () => boolean
}

type UpstreamState = 'up' | 'down'

const HealthSchema = {
  response: {
    200: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } }, required: ['status'] }
  }
} as const

const ReadyBody = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable', 'closing'] },
    down: { type: 'array', items: { type: 'string' } },
    upstreams: { type: 'object', additionalProperties: { type: 'string', enum: ['up', 'down'] } }
  },
  required: ['status', 'upstreams']
} as const

const ReadySchema = { response: { 200: ReadyBody, 503: ReadyBody } } as const

/**
 * `/healthz`: the gateway process answers (liveness). `/readyz`: every upstream's `/healthz`
 * answers 2xx within READY_TIMEOUT_MS, and the gateway is not shutting down (readiness: a load
 * balancer should send traffic here).
 */
export default async function healthRoutes (app: FastifyInstance, opts: HealthRoutesOptions): Promise<void> {
  const timeoutMs = Math.min(READY_TIMEOUT_MS, opts.config.UPSTREAM_TIMEOUT_MS)

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
        await response.body.dump()
        return [upstream.name, response.statusCode >= 200 && response.statusCode < 300 ? 'up' : 'down']
      } catch {
        return [upstream.name, 'down']
      }
    }))
    const upstreams = Object.fromEntries(checks) as Record<string, UpstreamState>
    if (opts.isClosing()) return reply.code(503).send({ status: 'closing', upstreams })
    const down = checks.filter(([, state]) => state === 'down').map(([name]) => name)
    if (down.length > 0) return reply.code(503).send({ status: 'unavailable', down, upstreams })
    return { status: 'ok', upstreams }
  })
}
