import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'

/** What operators (scrapers, dashboards) present: the metrics token, or the development opt-in. */
export interface OperatorAccessOptions {
  /** `Authorization: Bearer <token>` opens /metrics and the /readyz detail. */
  token: string | undefined
  /** METRICS_PUBLIC: with no token, open to anyone (development). */
  public: boolean
}

/**
 * `granted`: the request may see operator data; `unauthorized`: a token is configured and the
 * request does not present it; `closed`: no token is configured and the opt-in is off.
 */
export type OperatorVerdict = 'granted' | 'unauthorized' | 'closed'

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/** The check for operator-only data; the token wins over METRICS_PUBLIC. */
export function operatorAccess (opts: OperatorAccessOptions): (request: FastifyRequest) => OperatorVerdict {
  const expected = opts.token === undefined ? null : digest(`Bearer ${opts.token}`)
  return (request) => {
    if (expected === null) return opts.public ? 'granted' : 'closed'
    const presented = request.headers.authorization
    // Compare digests: neither length nor content leaks through timing.
    return presented !== undefined && timingSafeEqual(digest(presented), expected) ? 'granted' : 'unauthorized'
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

/**
 * A caller on this machine talking to the gateway directly: a loopback peer that sent no proxy
 * header. A proxy on the same host (nginx) relays public callers from loopback, but it adds
 * X-Forwarded-For (the project's nginx always does), so what it relays is not direct.
 */
export function directLocalCaller (request: FastifyRequest): boolean {
  const headers = request.headers
  return LOOPBACK.has(request.socket.remoteAddress ?? '') && headers['x-forwarded-for'] === undefined &&
    headers.forwarded === undefined && headers['x-real-ip'] === undefined
}
