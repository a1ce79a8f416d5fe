import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { upgradeAuth } from '../auth.js'
import { TicketQuery, errorResponses } from '../schemas.js'
import { CloseCodes } from '../errors.js'
import { rawText, releaseUpgrade } from './ws.js'

export const CONSOLE_SOCKET_PATH = '/console/ws'

/**
 * GET /console/ws: the agent console's live updates
 * (docs/console.md#live-updates). Opened through the
 * gateway only (the console cookie becomes an agent identity there; the gateway checked the Origin), never
 * with a ticket; any other identity is refused with 403 before the socket opens. The hub owns the socket's
 * life (heartbeat, frame limits, session end and expiry, shutdown); the console hub what is said on it.
 */
const consoleWs: FastifyPluginAsyncTypebox = async (app) => {
  app.get(CONSOLE_SOCKET_PATH, {
    websocket: true,
    config: { public: true },
    schema: { querystring: TicketQuery, response: errorResponses(400, 401, 403, 426, 500) },
    onRequest: upgradeAuth(app, 'console')
  }, (socket, request) => {
    const identity = request.wsGrant!.identity
    const log = releaseUpgrade(socket, request)
    if (identity.kind !== 'agent') { socket.close(CloseCodes.policy, 'console agents only'); return }
    const { wsHub: hub, wsConsole: consoleHub, wsMetrics: metrics } = app
    const conn = hub.add(socket, identity, 'console')
    // Closed as it registered: the session ended meanwhile, or the server is shutting down.
    if (!conn.open) return
    const admit = hub.frameGate(socket, identity, 'console')
    consoleHub.open(conn, identity)
    log.info({ agentId: identity.agentId }, 'console socket connected')
    socket.on('message', (data) => {
      metrics.messagesIn.inc({ kind: 'console' })
      if (!admit()) return
      conn.alive = true
      consoleHub.receive(conn, rawText(data))
    })
    socket.on('close', (code) => { log.debug({ code }, 'console socket closed') })
  })
}

export default consoleWs
