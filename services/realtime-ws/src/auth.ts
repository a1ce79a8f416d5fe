import type { FastifyInstance, FastifyRequest } from 'fastify'
import { IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, IdentityMalformedError, decodeIdentity, internalTokenCheck, type Identity } from '@weapp/common'
import { WsAgentRequiredError, WsAuthRequiredError, WsSessionEndedError, WsTicketInvalidError, WsUpgradeRequiredError } from './errors.js'
import { sessionEndReason } from './hub/session-end.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who opens this socket: set by the upgrade check before the socket exists. */
    wsGrant: { identity: Identity, via: 'gateway' | 'ticket', tunnelId: string | null } | null
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
 * The onRequest hook of a WebSocket route (declared `public`, so the shared internal-auth check skips it):
 * either a single-use ticket in `?ticket=` (nginx may send the upgrade straight here), or the gateway's
 * internal credential with a forwarded identity. Anything else is refused with 401 and a JSON body before
 * the socket opens. The tunnel socket accepts tunnel tickets only (its id comes from the ticket); the
 * console socket only the gateway's forwarded agent identity (403 for any other identity; a ticket is
 * refused without being consumed). A session that was revoked or reached its absolute expiry opens
 * nothing, whichever way it comes.
 */
export function upgradeAuth (app: FastifyInstance, purpose: UpgradePurpose) {
  const checkToken = internalTokenCheck(app.wsConfig.INTERNAL_TOKEN)
  const refuse = (reason: string, err: Error): never => {
    app.wsMetrics.authRefusals.inc({ reason })
    throw err
  }
  return async function authenticateUpgrade (request: FastifyRequest): Promise<void> {
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
      return
    }
    if (purpose === 'tunnel') return refuse('no_credentials', new WsAuthRequiredError('a tunnel ticket is required'))
    const verdict = checkToken(request.headers[INTERNAL_TOKEN_HEADER])
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
  }
}
