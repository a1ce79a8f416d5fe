import type { FastifyReply, FastifyRequest } from 'fastify'
import { AUTH_REQUIRED_HINTS, AuthRequiredError } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import type { AuthPolicy } from '../routes-table.js'
import type { AdminKeyring } from './admin-keys.js'
import { bearerToken, extractCredential, isMalformed, type CachedCredential, type Credential, type Malformed } from './credentials.js'
import { refuse, refuseRateLimited, type RefusingPolicy } from './refusals.js'
import type { ResolveResult, SessionResolver } from './resolver.js'

/**
 * How a route authenticates: a policy of the route table, or `webSocketSession`, a WebSocket's
 * `session` (credentials as `anyUser`; without any, a `?ticket=` lets the upgrade through for the
 * upstream to check; refusals are always 401 JSON). A WebSocket's `ticket` is `none`.
 */
export type AuthRule = AuthPolicy | 'webSocketSession'

export interface AuthDeps {
  readonly resolver: SessionResolver
  readonly keyring: AdminKeyring
  readonly metrics: GatewayMetrics
}

/** Where an admitted request goes on: one object per route, so nothing is allocated per request for it. */
export interface Admission {
  /**
   * `identityHeader`: the `x-weapp-identity` to forward (null: none); `credential`: the session
   * credential it was resolved from (null when none was, e.g. an admin key or an unauthenticated request).
   */
  admit (request: FastifyRequest, reply: FastifyReply, identityHeader: string | null, credential: CachedCredential | null): void
}

/** Which credentials a rule reads (extractCredential's policy). */
function credentialPolicy (rule: Exclude<AuthRule, 'none' | 'admin' | 'agent'>): 'user' | 'wafer1' | 'wafer2' | 'anyUser' {
  if (rule === 'userOrAdmin') return 'user'
  if (rule === 'webSocketSession') return 'anyUser'
  return rule
}

/** How a refusal looks: per rule, and for `anyUser` per the kind of credential presented (its client's shape). */
function refusingPolicy (rule: AuthRule, credential: Credential | Malformed | null): RefusingPolicy {
  if (rule === 'wafer1' || rule === 'wafer2') return rule
  if (rule === 'anyUser' && credential !== null && credential.kind !== 'bearer') return credential.kind
  return 'user'
}

/** `?ticket=<something>` in a request target (any position, name exact as realtime-ws reads it). */
export function hasTicket (url: string): boolean {
  const q = url.indexOf('?')
  if (q === -1) return false
  for (const pair of url.slice(q + 1).split('&')) {
    if (pair.startsWith('ticket=') && pair.length > 7) return true
  }
  return false
}

/**
 * A route's authentication, shared by the HTTP and the WebSocket handlers: the request either goes on
 * to `admission.admit` with the identity to forward, or is answered with the refusal its client
 * understands (auth/refusals.ts). A well-formed credential is looked up in the auth cache first (the
 * hot path: no allocation beyond the credential), then among remembered refusals, then resolved by
 * the session service, counted against the client address's failed-lookup budget (over it: 429
 * GATEWAY_AUTH_RATE_LIMITED with Retry-After, and no lookup).
 */
export class Authenticator {
  readonly #rule: AuthRule
  readonly #deps: AuthDeps
  readonly #admission: Admission

  constructor (rule: AuthRule, deps: AuthDeps, admission: Admission) {
    this.#rule = rule
    this.#deps = deps
    this.#admission = admission
  }

  authenticate (request: FastifyRequest, reply: FastifyReply): void {
    const rule = this.#rule
    if (rule === 'none') {
      this.#admission.admit(request, reply, null, null)
      return
    }
    if (rule === 'admin') {
      // Checked on arrival (auth/admin-check.ts); only requests with a valid key get here.
      this.#admission.admit(request, reply, request.adminIdentityHeader, null)
      return
    }
    if (rule === 'agent') {
      // Checked on arrival (auth/agent-check.ts: cookie, Origin, session, CSRF token); only admitted requests get here.
      const admitted = request.agentAdmission
      if (admitted === null) reply.send(new AuthRequiredError(AUTH_REQUIRED_HINTS.console))
      else this.#admission.admit(request, reply, admitted.identityHeader, admitted.credential)
      return
    }
    const { resolver, keyring } = this.#deps
    if (rule === 'userOrAdmin' && keyring.enabled) {
      // An admin key is the gateway's to check; anything else is tried as a user session.
      const token = bearerToken(request.headers)
      const key = token === undefined ? undefined : keyring.match(token)
      if (key !== undefined) {
        this.#admission.admit(request, reply, key.identityHeader, null)
        return
      }
    }
    const credential = extractCredential(credentialPolicy(rule), request.headers, request.url)
    if (credential === null) {
      // wafer generation 1: no credentials → unauthenticated, the upstream route decides; a WebSocket
      // ticket goes through untouched for the upstream to check (and consume).
      if (rule === 'wafer1' || (rule === 'webSocketSession' && hasTicket(request.url))) this.#admission.admit(request, reply, null, null)
      else refuse(reply, refusingPolicy(rule, null), null)
      return
    }
    if (isMalformed(credential)) {
      // A credential that cannot be one: counted, refused without a lookup.
      this.#deps.metrics.authFailure('malformed')
      refuse(reply, refusingPolicy(rule, credential), 'malformed credential')
      return
    }
    const cached = resolver.cached(credential.hash)
    if (cached !== undefined) {
      this.#admission.admit(request, reply, cached.identityHeader, credential)
      return
    }
    const refused = resolver.refused(credential.hash)
    if (refused !== undefined) {
      refuse(reply, refusingPolicy(rule, credential), refused)
      return
    }
    this.#lookUp(request, reply, credential)
  }

  /** The session service's verdict on a credential neither cached nor remembered as refused. */
  #lookUp (request: FastifyRequest, reply: FastifyReply, credential: Credential): void {
    this.#deps.resolver.resolve(credential, request.id, request.ip).then((result: ResolveResult) => {
      if (result.ok) this.#admission.admit(request, reply, result.session.identityHeader, credential)
      else if ('reason' in result) refuse(reply, refusingPolicy(this.#rule, credential), result.reason)
      else refuseRateLimited(reply, result.retryAfterMs)
    }, (err: unknown) => {
      reply.send(err)
    })
  }
}
