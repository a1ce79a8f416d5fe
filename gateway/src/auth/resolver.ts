import { SessionResolver as SharedSessionResolver, type AuthFailureLimiter } from '@weapp/common'
import type { Pool } from 'undici'
import { UpstreamBadResponseError } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import { classifyUpstreamError, upstreamError } from '../proxy/upstream-errors.js'

export type { ResolveResult, ResolvedSession } from '@weapp/common'

export interface SessionResolverOptions {
  pool: Pool
  upstreamName: string
  internalToken: string
  timeoutMs: number
  /** 0 disables the cache (every request is resolved; concurrent ones still share one call). */
  cacheTtlMs: number
  cacheMax: number
  /** How long a refusal is remembered (0: not at all) and how many are. */
  refusalTtlMs: number
  refusalMax: number
  /** Failed lookups per client address. */
  limiter: AuthFailureLimiter
  metrics: GatewayMetrics
}

/**
 * The shared resolver (@weapp/common session-auth/resolver.ts: cache, remembered refusals, one call per
 * credential at a time) over the gateway's connection pool to the session service. A call that gets no
 * answer rejects with GATEWAY_UPSTREAM_* (counted per upstream), an unreadable answer with
 * GATEWAY_UPSTREAM_BAD_RESPONSE.
 */
export class SessionResolver extends SharedSessionResolver {
  constructor (options: SessionResolverOptions) {
    const { pool, upstreamName, timeoutMs, metrics } = options
    super({
      transport: async ({ path, headers, body }) => {
        const response = await pool.request({ path, method: 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs })
        return { statusCode: response.statusCode, text: await response.body.text() }
      },
      unreachable: (err) => {
        const kind = classifyUpstreamError(err)
        metrics.upstreamError(upstreamName, kind)
        return upstreamError(kind, upstreamName)
      },
      badResponse: () => {
        metrics.upstreamError(upstreamName, 'bad_response')
        return new UpstreamBadResponseError(upstreamName)
      },
      internalToken: options.internalToken,
      cacheTtlMs: options.cacheTtlMs,
      cacheMax: options.cacheMax,
      refusalTtlMs: options.refusalTtlMs,
      refusalMax: options.refusalMax,
      limiter: options.limiter,
      metrics
    })
  }
}
