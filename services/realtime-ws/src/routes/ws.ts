import type { ServerResponse } from 'node:http'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { RawData, WebSocket } from 'ws'
import type { Identity } from '@weapp/common'
import { upgradeAuth } from '../auth.js'
import { TicketQuery, errorResponses } from '../schemas.js'
import { CHANNEL_PATTERN, echo, greeting, parseEnvelope, type ClientEnvelope } from '../hub/protocol.js'
import { WsFrameErrors } from '../errors.js'
import type { Connection } from '../hub/connection.js'
import type { Hub } from '../hub/hub.js'

export function rawText (data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8')
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8')
}

/**
 * PERFORMANCE DEVICE: the upgrade's ServerResponse detached through Node's private `_httpMessage`
 * (releaseUpgrade below). Gain: with the listener swap below it took realtime-ws's live JS heap from
 * 7.2–7.9 to 4.6–4.9 KB per idle socket (`pnpm bench:ws`, 2026-11-24). Not measured again on 2026-12-03:
 * switched off, `pnpm bench:ws --targets direct --skip fanout,echo --idle 5000` gave 25.3 and 31.9 KB per
 * socket (live JS heap 8.7 and 15.3 KB, load average 17–22), but both runs with it on failed under that
 * load (1,288 and 2,312 of 5,000 ticket upgrades answered 401), so there is no same-day comparison.
 * Off: WS_DETACH_UPGRADE_RESPONSE=0 (read once at start): the response stays on the TCP socket.
 */
const DETACH_UPGRADE_RESPONSE = process.env.WS_DETACH_UPGRADE_RESPONSE !== '0'

/**
 * Lets go of the HTTP exchange an open socket came from, keeping what the socket needs (its logger).
 * @fastify/websocket leaves the upgrade's ServerResponse on the TCP socket and installs an error
 * listener that closes over the Fastify request and reply: with the IncomingMessage (headers, raw
 * headers, the read chunk) that kept about 5 KB of heap per socket for its whole life (`pnpm bench:ws`).
 * The listener put in its place does what the plugin's default did: log, terminate. A handler calling
 * this must not refer to `request` in any closure either (V8 would keep it in the shared context).
 */
export function releaseUpgrade (socket: WebSocket, request: FastifyRequest): FastifyBaseLogger {
  const tcp = request.raw.socket
  const response = DETACH_UPGRADE_RESPONSE ? (tcp as { _httpMessage?: ServerResponse | null } | null)?._httpMessage : null
  if (response != null) response.detachSocket(tcp)
  const log = request.log
  socket.removeAllListeners('error')
  socket.on('error', (err) => {
    log.error(err)
    socket.terminate()
  })
  return log
}

/** A user may join `user:<own openid>` and `public:*`; an admin (agent console) any channel. */
export function mayJoin (identity: Identity, channel: string): boolean {
  if (identity.kind === 'admin') return true
  if (identity.kind === 'agent') return false
  return channel === `user:${identity.openid}` || channel.startsWith('public:')
}

function handleEnvelope (hub: Hub, conn: Connection, msg: ClientEnvelope, maxChannels: number): void {
  const reply = (body: object): void => { conn.send(JSON.stringify(body)) }
  if (msg.type === 'ping') {
    reply(msg.id === undefined ? { type: 'pong' } : { type: 'pong', id: msg.id })
    return
  }
  const channel = msg.channel
  if (typeof channel !== 'string' || !CHANNEL_PATTERN.test(channel)) {
    reply({ type: 'error', code: WsFrameErrors.badMessage, message: 'channel must be 1-128 characters of [A-Za-z0-9_.:@-]' })
    return
  }
  if (msg.type === 'unsubscribe') {
    hub.leave(conn, channel)
    reply({ type: 'unsubscribed', channel })
    return
  }
  if (!mayJoin(conn.identity, channel)) {
    reply({ type: 'error', code: WsFrameErrors.channelForbidden, channel, message: 'you may join user:<your openid> and public:* channels' })
    return
  }
  if (!conn.channels.has(channel) && conn.channels.size >= maxChannels) {
    reply({ type: 'error', code: WsFrameErrors.tooManyChannels, channel, message: `at most ${maxChannels} channels per socket` })
    return
  }
  hub.join(conn, channel)
  reply({ type: 'subscribed', channel })
}

/**
 * GET /ws: the seed's WebSocket (greeting on connect, every text frame echoed) plus the JSON envelope
 * protocol (subscribe/unsubscribe/ping) and server push from the bus.
 */
const ws: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/ws', {
    websocket: true,
    config: { public: true },
    schema: { querystring: TicketQuery, response: errorResponses(400, 401, 426, 500) },
    onRequest: upgradeAuth(app, 'ws')
  }, (socket, request) => {
    const grant = request.wsGrant!
    const requestId = request.id
    const log = releaseUpgrade(socket, request)
    const { wsHub: hub, wsMetrics: metrics, wsConfig: config } = app
    let conn: Connection | null = null
    // Frames that arrive while the nickname is looked up wait, so the greeting is always the first frame.
    let chain: Promise<unknown> = (async () => {
      const name = await app.wsNickname(grant.identity, requestId)
      if (socket.readyState !== socket.OPEN) return
      socket.send(greeting(name))
      metrics.messagesOut.inc({ kind: 'ws' })
      conn = hub.add(socket, grant.identity, 'ws')
      log.info({ openid: grant.identity.kind === 'user' ? grant.identity.openid : undefined, via: grant.via }, 'websocket connected')
    })()
    // Frames admitted before the limit tripped are still answered, then the socket closes.
    const admit = hub.frameGate(socket, grant.identity, 'ws', () => chain)
    socket.on('message', (data, isBinary) => {
      metrics.messagesIn.inc({ kind: 'ws' })
      // Checked as the frame arrives, not in the chain: frames past the limit never queue.
      if (!admit()) return
      chain = chain.then(() => {
        if (conn === null) return
        conn.alive = true
        const text = rawText(data)
        const envelope = isBinary ? null : parseEnvelope(text)
        if (envelope === null) conn.send(echo(text))
        else handleEnvelope(hub, conn, envelope, config.MAX_CHANNELS_PER_SOCKET)
      }).catch((err: unknown) => { log.error({ err }, 'websocket message handling failed') })
    })
    socket.on('close', (code) => { log.debug({ code }, 'websocket closed') })
  })
}

export default ws
