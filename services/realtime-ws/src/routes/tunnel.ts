import { randomUUID } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import Type from 'typebox'
import { BusChannels, requireUser } from '@weapp/common'
import { assertSessionLive, upgradeAuth } from '../auth.js'
import { TicketQuery, errorResponses } from '../schemas.js'
import { parseTunnelFrame, parseTunnelMessage, tunnelMessage } from '../hub/protocol.js'
import { CloseCodes, WsPublicOriginUnsetError } from '../errors.js'
import { rawText, releaseUpgrade } from './ws.js'

export const TUNNEL_SOCKET_PATH = '/weapp/tunnel/socket'
/** A tunnel client pings every `timeout` seconds; it is closed after this many intervals without one. */
export const TUNNEL_DEADLINE_FACTOR = 1.5

/** Names a development client reaches this machine by (any port): the only hosts taken from a request. */
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i

/**
 * Where tunnel clients connect: PUBLIC_WS_ORIGIN. Without it, the Host the client used (the gateway's
 * x-forwarded-host, else Host) only when it is a loopback name, as in development: any other Host is the
 * client's to choose, and a URL built from it would send the ticket wherever the client (or whoever
 * shaped its request) pointed it. Refused with 503 WS_PUBLIC_ORIGIN_UNSET instead, before any ticket.
 */
export function publicOrigin (configured: string | undefined, request: FastifyRequest): string {
  if (configured !== undefined) return configured
  const forwarded = request.headers['x-forwarded-host']
  const host = typeof forwarded === 'string' && forwarded !== '' ? forwarded.split(',')[0]!.trim() : request.host
  if (!LOOPBACK_HOST.test(host)) throw new WsPublicOriginUnsetError()
  return `wss://${host}`
}

/**
 * The wafer tunnel (docs/wafer.md#tunnel): GET /weapp/tunnel hands out a single-use socket URL
 * (gen 1 `{url}` for wafer1 sessions, gen 2 `{code:0,data:{tunnelId,connectUrl}}` otherwise); the socket
 * speaks `ping`/`pong`, `timeout:<s>`, `close`, `message:{"type","content"}`.
 */
const tunnel: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/weapp/tunnel', {
    schema: {
      response: {
        200: Type.Union([
          Type.Object({ code: Type.Literal(0), data: Type.Object({ tunnelId: Type.String(), connectUrl: Type.String() }) }),
          Type.Object({ url: Type.String() })
        ]),
        ...errorResponses(400, 401, 500, 503)
      }
    }
  }, async (request, reply) => {
    const identity = requireUser(request)
    assertSessionLive(app, identity)
    const origin = publicOrigin(app.wsConfig.PUBLIC_WS_ORIGIN, request)
    const tunnelId = randomUUID()
    const ticket = await app.wsTickets.issue({ purpose: 'tunnel', identity, tunnelId }, app.wsConfig.TICKET_TTL_SEC * 1000)
    app.wsMetrics.ticketsIssued.inc({ purpose: 'tunnel' })
    const connectUrl = `${origin}${TUNNEL_SOCKET_PATH}?ticket=${ticket}`
    reply.header('cache-control', 'no-store')
    return identity.via === 'wafer1' ? { url: connectUrl } : { code: 0 as const, data: { tunnelId, connectUrl } }
  })

  app.get(TUNNEL_SOCKET_PATH, {
    websocket: true,
    config: { public: true },
    schema: { querystring: TicketQuery, response: errorResponses(400, 401, 426, 500) },
    onRequest: upgradeAuth(app, 'tunnel')
  }, (socket, request) => {
    const grant = request.wsGrant!
    const log = releaseUpgrade(socket, request)
    if (grant.identity.kind !== 'user') { socket.close(CloseCodes.policy, 'user tunnels only'); return }
    const identity = grant.identity
    const { wsHub: hub, wsMetrics: metrics, wsConfig: config, bus } = app
    const conn = hub.add(socket, identity, 'tunnel')
    const admit = hub.frameGate(socket, identity, 'tunnel')
    const timeoutSec = config.TUNNEL_TIMEOUT_SEC
    const deadlineMs = Math.round(timeoutSec * 1000 * TUNNEL_DEADLINE_FACTOR)
    let deadline: NodeJS.Timeout | null = null
    const arm = (): void => {
      if (deadline !== null) clearTimeout(deadline)
      deadline = setTimeout(() => {
        metrics.heartbeatTimeouts.inc({ kind: 'tunnel' })
        conn.send('close')
        conn.close(CloseCodes.normal, 'no ping within the timeout')
      }, deadlineMs)
      deadline.unref()
    }
    socket.on('close', () => { if (deadline !== null) clearTimeout(deadline) })
    conn.send(`timeout:${timeoutSec}`)
    arm()
    log.info({ openid: identity.openid, tunnelId: grant.tunnelId }, 'tunnel connected')

    socket.on('message', (data) => {
      metrics.messagesIn.inc({ kind: 'tunnel' })
      // Past the rate limit nothing is handled: no echo, no publish on the bus.
      if (!admit()) return
      conn.alive = true
      const frame = parseTunnelFrame(rawText(data))
      switch (frame.type) {
        case 'ping':
          arm()
          conn.send('pong')
          return
        case 'close':
          conn.send('close')
          conn.close(CloseCodes.normal, 'closed by the client')
          return
        case 'message': {
          const message = parseTunnelMessage(frame.payload)
          if (message === null) return
          // Echo to the sender (the wafer demo's chat shows its own message back), and hand it to the
          // backend on the bus as channel.push on tunnel:<openid>.
          conn.send(tunnelMessage(message.type, message.content))
          bus.publish(BusChannels.channels, {
            type: 'channel.push',
            channel: `tunnel:${identity.openid}`,
            event: message.type,
            data: { tunnelId: grant.tunnelId, content: message.content }
          }).catch((err: unknown) => { log.warn({ err }, 'tunnel message not published') })
          break
        }
        default:
          // Unknown frame types are ignored, as the wafer server did.
      }
    })
  })
}

export default tunnel
