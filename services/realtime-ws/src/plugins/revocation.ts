import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { BusChannels, type BusEvent } from '@weapp/common'

/** Session ids come from the session service (UUIDs); anything else on the channel is not ours to act on. */
const SESSION_ID = /^[\w.:-]{1,128}$/
/** Sessions one `agent.sessions.ended` may end (an agent's sessions are capped far below this). */
export const MAX_ENDED_SESSIONS = 1000

/** The session ids an event on `weapp:sessions` ends: a user's logout, or an agent's console sessions. */
function endedSessions (event: BusEvent): string[] {
  if (event.type === 'session.revoked') return typeof event.sessionId === 'string' && SESSION_ID.test(event.sessionId) ? [event.sessionId] : []
  if (event.type !== 'agent.sessions.ended' || !Array.isArray(event.sessionIds)) return []
  return event.sessionIds.slice(0, MAX_ENDED_SESSIONS).filter((id): id is string => typeof id === 'string' && SESSION_ID.test(id))
}

/**
 * Sockets end when their login ends: on `session.revoked` (the session service publishes it at logout and
 * revocation) and on `agent.sessions.ended` (an agent's logout, disabling or password reset: its console
 * sockets), on every instance through the bus, the session's sockets here close with 4001 and its unused
 * tickets stop opening anything, on this instance and, through the ticket store, on every other.
 */
async function revocationPlugin (app: FastifyInstance): Promise<void> {
  const { wsHub: hub, wsTickets: tickets, bus } = app
  const log = app.log.child({ component: 'revocation' })
  const handle = (event: BusEvent): void => {
    for (const sessionId of endedSessions(event)) {
      const closed = hub.endSession(sessionId)
      if (closed > 0) log.info({ sessionId, sockets: closed }, 'session ended: its sockets were closed')
      tickets.revokeSession(sessionId, hub.revoked.retainMs).catch((err: unknown) => {
        // This instance still refuses them (it remembers the revocation); others rely on their own copy of the event.
        log.warn({ err, sessionId }, 'could not mark the session revoked in the ticket store')
      })
    }
  }
  const unsubscribe = await bus.subscribe(BusChannels.sessions, handle)
  app.addHook('preClose', async () => { await unsubscribe().catch(() => {}) })
}

export default fp(revocationPlugin, { name: 'ws-revocation', fastify: '5.x', dependencies: ['@weapp/bus', 'ws-tickets', 'ws-hub'] })
