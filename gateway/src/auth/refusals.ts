import type { FastifyReply } from 'fastify'
import { AUTH_REQUIRED_HINTS, AuthRateLimitedError, AuthRequiredError, SessionInvalidError } from '../errors.js'

/** The magic key of wafer responses (docs/wafer.md). */
export const WAFER_MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A'

export type RefusingPolicy = 'user' | 'wafer1' | 'wafer2'

/**
 * Refuses a request in the shape its client understands:
 * - `/api/*` (`user`): 401 JSON, GATEWAY_AUTH_REQUIRED (nothing presented) or GATEWAY_SESSION_INVALID;
 * - wafer generation 1: HTTP 200 with the magic key and ERR_INVALID_SESSION, which makes the client
 *   clear its session, log in again once and retry (it ignores the status code);
 * - wafer generation 2: HTTP 200 `{"code":-1,"data":{}}`, the quickstart's answer for an expired
 *   session, which makes the client run loginWithCode and retry.
 * `reason` is null when no credential was presented.
 */
export function refuse (reply: FastifyReply, policy: RefusingPolicy, reason: string | null): void {
  switch (policy) {
    case 'user':
      reply.send(reason === null ? new AuthRequiredError(AUTH_REQUIRED_HINTS.token) : new SessionInvalidError(reason))
      return
    case 'wafer1':
      reply.code(200).send({ [WAFER_MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: `会话已失效，请重新登录：${reason ?? 'no session'}` })
      return
    case 'wafer2':
      reply.code(200).send({ code: -1, data: {} })
  }
}

/** 429 GATEWAY_AUTH_RATE_LIMITED with Retry-After: this client's failed lookups used up its budget (AuthFailureLimiter, @weapp/common). */
export function refuseRateLimited (reply: FastifyReply, retryAfterMs: number): void {
  const seconds = Math.ceil(retryAfterMs / 1000)
  reply.header('retry-after', String(seconds))
  reply.send(new AuthRateLimitedError(seconds))
}
