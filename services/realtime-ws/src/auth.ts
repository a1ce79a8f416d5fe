import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, decodeIdentity, type Identity } from '@weapp/common'
import { WsAuthRequiredError, WsTicketInvalidError, WsUpgradeRequiredError } from './errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who opens this socket: set by the upgrade check before the socket exists. */
    wsGrant: { identity: Identity, via: 'gateway' | 'ticket', tunnelId: string | null } | null
  }
}

export type UpgradePurpose = 'ws' | 'tunnel'

/**
 * The onRequest hook of a WebSocket route (declared `public`, so the shared internal-auth check skips it):
 * either a single-use ticket in `?ticket=` (nginx may send the upgrade straight here), or the gateway's
 * internal credential with a forwarded identity. Anything else is refused with 401 and a JSON body before
 * the socket opens. The tunnel socket accepts tunnel tickets only (its id comes from the ticket).
 */
export function upgradeAuth (app: FastifyInstance, purpose: UpgradePurpose) {
  const expected = createHash('sha256').update(app.wsConfig.INTERNAL_TOKEN).digest()
  const refuse = (reason: string, err: Error): never => {
    app.wsMetrics.authRefusals.inc({ reason })
    throw err
  }
  return async function authenticateUpgrade (request: FastifyRequest): Promise<void> {
    // A plain GET must not burn a ticket.
    if (!request.ws) throw new WsUpgradeRequiredError()
    const ticket = (request.query as { ticket?: unknown }).ticket
    if (typeof ticket === 'string' && ticket !== '') {
      const grant = await app.wsTickets.consume(ticket)
      if (grant === null || grant.purpose !== purpose) return refuse('bad_ticket', new WsTicketInvalidError())
      const identity: Identity = grant.identity.kind === 'user' ? { ...grant.identity, via: 'ticket' } : grant.identity
      request.wsGrant = { identity, via: 'ticket', tunnelId: grant.purpose === 'tunnel' ? grant.tunnelId : null }
      return
    }
    if (purpose === 'tunnel') return refuse('no_credentials', new WsAuthRequiredError('a tunnel ticket is required'))
    const presented = request.headers[INTERNAL_TOKEN_HEADER]
    if (typeof presented !== 'string') return refuse('no_credentials', new WsAuthRequiredError('a ticket or a session is required'))
    if (!timingSafeEqual(createHash('sha256').update(presented).digest(), expected)) {
      return refuse('internal_token', new WsAuthRequiredError('internal credential invalid'))
    }
    const forwarded = request.headers[IDENTITY_HEADER]
    if (typeof forwarded !== 'string') return refuse('no_credentials', new WsAuthRequiredError('a ticket or a session is required'))
    let identity: Identity
    try { identity = decodeIdentity(forwarded) } catch { return refuse('identity', new WsAuthRequiredError('forwarded identity is malformed')) }
    request.wsGrant = { identity, via: 'gateway', tunnelId: null }
  }
}
