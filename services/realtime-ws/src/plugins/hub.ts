import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import { Hub, SHUTDOWN_GRACE_MS } from '../hub/hub.js'
import { REVOCATION_MARGIN_MS } from '../hub/session-end.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** This instance's open sockets, fed by the bus. */
    wsHub: Hub
  }
}

/**
 * @fastify/websocket (one ws server for /ws and the tunnel socket; frames over MAX_MESSAGE_BYTES close
 * with 1009) and the hub. On close every socket gets 1001 before the HTTP server stops.
 */
async function hubPlugin (app: FastifyInstance): Promise<void> {
  const config = app.wsConfig
  const hub = new Hub({
    bus: app.bus,
    metrics: app.wsMetrics,
    log: app.log.child({ component: 'hub' }),
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    maxBufferedBytes: config.MAX_BUFFERED_BYTES,
    maxConnectionsPerUser: config.MAX_CONNECTIONS_PER_USER,
    frameLimits: { perSocket: config.MAX_FRAMES_PER_SEC, perUser: config.MAX_FRAMES_PER_SEC_PER_USER },
    revokedRetainMs: config.TICKET_TTL_SEC * 1000 + REVOCATION_MARGIN_MS,
    now: app.clock
  })
  app.decorate('wsHub', hub)
  app.decorateRequest('wsGrant', null)
  await hub.start()
  const graceMs = Math.min(SHUTDOWN_GRACE_MS, Math.floor(config.SHUTDOWN_TIMEOUT_MS / 2))
  await app.register(websocket, {
    options: { maxPayload: config.MAX_MESSAGE_BYTES, perMessageDeflate: false, clientTracking: true },
    preClose: async function (this: FastifyInstance) {
      await hub.close(graceMs)
      // Sockets still opening (their greeting not sent yet) are closed by the hub when they register.
      await new Promise<void>((resolve) => { this.websocketServer.close(() => { resolve() }) })
    }
  })
  // Safety net for a close without preClose having run (ready() failed half-way).
  app.addHook('onClose', async () => { await hub.close(0) })
}

export default fp(hubPlugin, { name: 'ws-hub', fastify: '5.x', dependencies: ['ws-config', '@weapp/bus', 'ws-metrics'] })
