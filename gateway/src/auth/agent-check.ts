import { readConsoleCookie } from '@weapp/common'
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { AUTH_REQUIRED_HINTS, AuthRequiredError, ConsoleSessionInvalidError, CsrfRejectedError } from '../errors.js'
import { pendingUpgrade } from '../proxy/upgrade.js'
import { consoleCookieCredential, type ConsoleCookieCredential } from './credentials.js'
import { ORIGIN_REFUSAL, TOKEN_REFUSAL, changesState, csrfTokenMatches, originAllowed, type OriginPolicy } from './csrf.js'
import type { ResolveResult, ResolvedSession, SessionResolver } from './resolver.js'
import { refuseRateLimited } from './refusals.js'

/** An `agent` route's request as its check admitted it. */
export interface AgentAdmission {
  /** `x-weapp-identity` of the agent (kind `agent`). */
  readonly identityHeader: string
  /** The cookie it was resolved from (evicted on logout). */
  readonly credential: ConsoleCookieCredential
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by an `agent` route's onRequest check for the requests it lets through. */
    agentAdmission: AgentAdmission | null
  }
}

export interface AgentCheckDeps {
  readonly resolver: SessionResolver
  /** CONSOLE_COOKIE_SECURE: the cookie's name (`__Host-` prefix) and the gateway's own scheme for the Origin check. */
  readonly origins: OriginPolicy
}

/**
 * The `agent` policy (docs/console.md#sessions), run when the request arrives, before its body is read:
 * an unauthenticated or forged upload costs the gateway nothing. The credential is the console cookie
 * alone (`Authorization` plays no part). In order:
 * 1. no cookie → 401 GATEWAY_AUTH_REQUIRED;
 * 2. a state-changing request, or a WebSocket upgrade (cross-site WebSocket hijacking), without an
 *    allowed Origin → 403 GATEWAY_CSRF_REJECTED, with no lookup;
 * 3. the cookie resolved (the auth cache, remembered refusals, the failed-lookup budget, then the session
 *    service): unknown or expired → 401 GATEWAY_CONSOLE_SESSION_INVALID;
 * 4. a state-changing request without the session's `x-csrf-token` → 403 GATEWAY_CSRF_REJECTED.
 * What passes is in `request.agentAdmission`.
 */
export function agentCheck (deps: AgentCheckDeps): onRequestHookHandler {
  const { resolver, origins } = deps

  function admitIfToken (request: FastifyRequest, reply: FastifyReply, session: ResolvedSession, credential: ConsoleCookieCredential, done: () => void): void {
    // The cache is keyed by credential hashes, whose prefixes keep kinds apart; checked anyway: only an agent passes here.
    if (session.identity.kind !== 'agent' || session.csrfToken === undefined) {
      reply.send(new ConsoleSessionInvalidError('not a console session'))
      return
    }
    if (changesState(request.method) && !csrfTokenMatches(request, session.csrfToken)) {
      reply.send(new CsrfRejectedError(TOKEN_REFUSAL))
      return
    }
    request.agentAdmission = { identityHeader: session.identityHeader, credential }
    done()
  }

  return function checkAgent (request, reply, done) {
    const token = readConsoleCookie(request.headers.cookie, origins.secure)
    if (token === undefined) {
      reply.send(new AuthRequiredError(AUTH_REQUIRED_HINTS.console))
      return
    }
    if ((changesState(request.method) || pendingUpgrade(request.raw) !== undefined) && !originAllowed(request, origins)) {
      reply.send(new CsrfRejectedError(ORIGIN_REFUSAL))
      return
    }
    const credential = consoleCookieCredential(token)
    const cached = resolver.cached(credential.hash)
    if (cached !== undefined) {
      admitIfToken(request, reply, cached, credential, done)
      return
    }
    const refused = resolver.refused(credential.hash)
    if (refused !== undefined) {
      reply.send(new ConsoleSessionInvalidError(refused))
      return
    }
    resolver.resolve(credential, request.id, request.ip).then((result: ResolveResult) => {
      if (result.ok) admitIfToken(request, reply, result.session, credential, done)
      else if ('reason' in result) reply.send(new ConsoleSessionInvalidError(result.reason))
      else refuseRateLimited(reply, result.retryAfterMs)
    }, (err: unknown) => {
      reply.send(err)
    })
  }
}
