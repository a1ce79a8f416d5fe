import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, IdentityMalformedError, SESSION_TOKEN_HINT, SessionAuthRateLimitedError, SessionAuthRequiredError,
  SessionCredentialInvalidError, decodeIdentity, extractCredential, internalTokenCheck, isMalformed, type Identity, type ResolvedSession
} from '@weapp/common'
import { WsAgentRequiredError, WsAuthRequiredError, WsSessionEndedError, WsTicketInvalidError, WsUpgradeRequiredError } from './errors.js'
import { sessionEndReason } from './hub/session-end.js'

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Who opens this socket: set by the upgrade check before the socket exists. `via`: the gateway's relay
     * (internal token + identity), a ticket, or the client's own session credential resolved here.
     */
    wsGrant: { identity: Identity, via: 'gateway' | 'ticket' | 'session', tunnelId: string | null } | null
  }
}

/** `console`: the agent console's socket, opened only through the gateway with an agent identity (no tickets). */
export type UpgradePurpose = 'ws' | 'tunnel' | 'console'

/**
 * For routes that hand out something to connect with (tickets, tunnel URLs): nothing for a session this
 * instance knows was revoked, or that is past its absolute expiry.
 */
export function assertSessionLive (app: FastifyInstance, identity: Identity): void {
  const ended = sessionEndReason(identity, app.wsHub.revoked, app.clock())
  if (ended === 'malformed') throw new IdentityMalformedError()
  if (ended !== null) throw new WsSessionEndedError(ended)
}

/**
 * The onRequest hook of a WebSocket route (declared `public`, so the shared internal-auth check skips it),
 * in order:
 * 1. a single-use ticket in `?ticket=`;
 * 2. the gateway's internal credential with a forwarded identity (the gateway's relay);
 * 3. `/ws` only, with no internal credential: the client's own session credential, read as the gateway reads
 *    it for `/ws` (Authorization: Bearer, X-WX-Id + X-WX-Skey or X-WX-Skey headers, wafer gen-1's
 *    `X-WX-Id`/`X-WX-Skey` query parameters) and resolved through the session service (plugins/session-auth.ts),
 *    refused as the gateway refuses it: 401 GATEWAY_AUTH_REQUIRED (none), 401 GATEWAY_SESSION_INVALID
 *    (malformed, unknown, logged out, expired), 429 GATEWAY_AUTH_RATE_LIMITED with Retry-After. nginx
 *    sends every `/ws` upgrade here directly, so the frames never cross the gateway.
 * Anything else is refused with 401 and a JSON body before the socket opens. The tunnel socket accepts tunnel
 * tickets only (its id comes from the ticket); the console socket only the gateway's forwarded agent identity
 * (403 for any other identity; a ticket is refused without being consumed). A session that was revoked or
 * reached its absolute expiry opens nothing, whichever way it comes.
 */
export function upgradeAuth (app: FastifyInstance, purpose: UpgradePurpose) {
  const checkToken = internalTokenCheck(app.wsConfig.INTERNAL_TOKEN)
  const refuse = (reason: string, err: Error): never => {
    app.wsMetrics.authRefusals.inc({ reason })
    throw err
  }

  /** Step 3: the client's own credential (what the gateway's `webSocketSession` rule takes). */
  async function clientSession (request: FastifyRequest, reply: FastifyReply): Promise<Identity> {
    const credential = extractCredential('anyUser', request.headers, request.url)
    if (credential === null) return refuse('no_credentials', new SessionAuthRequiredError(SESSION_TOKEN_HINT))
    const resolver = app.wsSessionResolver
    if (isMalformed(credential)) {
      app.wsMetrics.authFailures.inc({ reason: 'malformed' })
      return refuse('session_invalid', new SessionCredentialInvalidError('malformed credential'))
    }
    let session: ResolvedSession | undefined = resolver.cached(credential.hash)
    if (session === undefined) {
      const refused = resolver.refused(credential.hash)
      if (refused !== undefined) return refuse('session_invalid', new SessionCredentialInvalidError(refused))
      const result = await resolver.resolve(credential, request.id, request.ip)
      if (!result.ok) {
        if ('reason' in result) return refuse('session_invalid', new SessionCredentialInvalidError(result.reason))
        const seconds = Math.ceil(result.retryAfterMs / 1000)
        reply.header('retry-after', String(seconds))
        return refuse('rate_limited', new SessionAuthRateLimitedError(seconds))
      }
      session = result.session
    }
    return session.identity
  }

  return async function authenticateUpgrade (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    // A plain GET must not burn a ticket.
    if (!request.ws) throw new WsUpgradeRequiredError()
    const ticket = (request.query as { ticket?: unknown }).ticket
    const hasTicket = typeof ticket === 'string' && ticket !== ''
    if (purpose === 'console' && hasTicket) return refuse('bad_ticket', new WsAuthRequiredError('the console socket takes the console session, not a ticket'))
    if (hasTicket) {
      const grant = await app.wsTickets.consume(ticket)
      if (grant === null || grant.purpose !== purpose) return refuse('bad_ticket', new WsTicketInvalidError())
      const identity: Identity = grant.identity.kind === 'user' ? { ...grant.identity, via: 'ticket' } : grant.identity
      if (sessionEndReason(identity, app.wsHub.revoked, app.clock()) !== null) return refuse('session_ended', new WsTicketInvalidError())
      request.wsGrant = { identity, via: 'ticket', tunnelId: grant.purpose === 'tunnel' ? grant.tunnelId : null }
      app.wsMetrics.upgrades.inc({ via: 'ticket' })
      return
    }
    if (purpose === 'tunnel') return refuse('no_credentials', new WsAuthRequiredError('a tunnel ticket is required'))
    const token = request.headers[INTERNAL_TOKEN_HEADER]
    if (purpose === 'ws' && token === undefined) {
      const identity = await clientSession(request, reply)
      const ended = sessionEndReason(identity, app.wsHub.revoked, app.clock())
      if (ended === 'malformed') return refuse('identity', new SessionCredentialInvalidError('the session service sent a malformed expiry'))
      if (ended !== null) return refuse('session_ended', new WsSessionEndedError(ended))
      request.wsGrant = { identity, via: 'session', tunnelId: null }
      app.wsMetrics.upgrades.inc({ via: 'session' })
      return
    }
    const verdict = checkToken(token)
    if (verdict === 'missing') return refuse('no_credentials', new WsAuthRequiredError('a ticket or a session is required'))
    if (verdict === 'invalid') return refuse('internal_token', new WsAuthRequiredError('internal credential invalid'))
    const forwarded = request.headers[IDENTITY_HEADER]
    if (typeof forwarded !== 'string') return refuse('no_credentials', new WsAuthRequiredError('a ticket or a session is required'))
    let identity: Identity
    try { identity = decodeIdentity(forwarded) } catch { return refuse('identity', new WsAuthRequiredError('forwarded identity is malformed')) }
    const ended = sessionEndReason(identity, app.wsHub.revoked, app.clock())
    if (ended === 'malformed') return refuse('identity', new WsAuthRequiredError('forwarded identity is malformed'))
    if (ended !== null) return refuse('session_ended', new WsSessionEndedError(ended))
    if (purpose === 'console' && identity.kind !== 'agent') return refuse('not_agent', new WsAgentRequiredError())
    request.wsGrant = { identity, via: 'gateway', tunnelId: null }
    app.wsMetrics.upgrades.inc({ via: 'gateway' })
  }
}
