import type { IncomingMessage } from 'node:http'
import { ServerResponse } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { STRIP_NOTHING, upstreamRequestHeaders, type StrippedCredentials } from './headers.js'

/**
 * WebSocket upgrades. The server's `upgrade` event hands the request to Fastify's router with a
 * response bound to the raw socket (as @fastify/websocket does), so an upgrade goes through the same
 * hooks, authentication and error answers as any request: a refusal is an ordinary HTTP answer (401
 * JSON...) written before any socket opens, after which the socket is closed. A route that accepts
 * the upgrade hijacks the reply and relays: it writes the request head (with the gateway's headers)
 * to a fresh TCP connection to the upstream and pipes the two sockets both ways. The upstream's
 * answer (101, or its own refusal) and every frame after it go through as bytes: no frame is parsed.
 *
 * Two timeouts: an upstream that has not begun its answer WS_UPGRADE_TIMEOUT_MS after the relay began
 * (connect included) gets the client a 504 and is dropped; once answered, a pair with no byte either
 * way for WS_IDLE_TIMEOUT_MS is closed (frames and pings/pongs are traffic: a socket kept by its
 * heartbeat is never idle).
 */

export interface PendingUpgrade {
  readonly socket: Socket
  readonly head: Buffer
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>()

/** The socket of an upgrade request not yet answered, or undefined for an ordinary request. */
export function pendingUpgrade (raw: IncomingMessage): PendingUpgrade | undefined {
  return pending.get(raw)
}

/** Relayed connections: client socket → upstream socket. */
export type RelayedSockets = Map<Socket, Socket>

/** Routes every upgrade request through `app` (see above). Call once, on the root instance. */
export function routeUpgrades (app: FastifyInstance): void {
  app.server.on('upgrade', (raw: IncomingMessage, duplex: Duplex, head: Buffer) => {
    const socket = duplex as Socket
    // The server stopped watching this socket: errors (a client reset) are ours to swallow.
    socket.on('error', () => { socket.destroy() })
    pending.set(raw, { socket, head })
    const response = new ServerResponse(raw)
    response.shouldKeepAlive = false
    response.assignSocket(socket)
    // An answer written here (a refusal, a plain response) ends the exchange: nothing was upgraded.
    response.on('finish', () => { socket.end() })
    try {
      app.routing(raw, response)
    } catch (err) {
      app.log.warn({ err }, 'websocket upgrade routing failed')
      socket.destroy()
    }
  })
}

/** The request head sent upstream: the client's request line, Host and upgrade headers, and the gateway's headers. */
export function upgradeHeaders (request: FastifyRequest, internalToken: string, identityHeader: string | null, trustProxy: boolean, strip: StrippedCredentials = STRIP_NOTHING): string {
  const raw = request.raw
  let head = `GET ${raw.url ?? '/'} HTTP/1.1\r\nHost: ${raw.headers.host ?? ''}\r\nConnection: Upgrade\r\nUpgrade: ${String(raw.headers.upgrade ?? 'websocket')}\r\n`
  const headers = upstreamRequestHeaders(request, internalToken, identityHeader, trustProxy, strip)
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]!}: ${headers[i + 1]!}\r\n`
  return head + '\r\n'
}

/** How long a relayed socket whose peer is gone may take to flush before it is destroyed. */
export const RELAY_LINGER_MS = 2_000

export interface RelayOptions {
  request: FastifyRequest
  /** The reply's raw response, bound to the client socket until the relay takes it. */
  response: ServerResponse
  pending: PendingUpgrade
  /** Upstream name, for the 502 answer. */
  name: string
  host: string
  port: number
  /** From upgradeHeaders(). */
  head: string
  sockets: RelayedSockets
  /** From the relay's start to the upstream's first byte; then the client gets a 504 JSON answer. */
  upgradeTimeoutMs: number
  /** No byte either way this long after the upstream answered: both sides are closed. */
  idleTimeoutMs: number
  /** The upstream could not be reached (the client gets a 502 JSON answer). */
  onUpstreamError: (err: Error) => void
  /** The upstream did not answer in time (the client gets a 504 JSON answer). */
  onUpstreamTimeout: () => void
}

function linger (socket: Socket): void {
  if (socket.destroyed) return
  socket.end()
  setTimeout(() => { socket.destroy() }, RELAY_LINGER_MS).unref()
}

function answerError (client: Socket, requestId: string, statusCode: 502 | 504, code: string, message: string): void {
  if (client.destroyed) return
  const error = statusCode === 502 ? 'Bad Gateway' : 'Gateway Timeout'
  const body = JSON.stringify({ statusCode, code, error, message })
  client.end(`HTTP/1.1 ${statusCode} ${error}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`)
}

/** A relayed pair went quiet: closing the client closes the upstream (relayUpgrade's close listener). */
function endIdle (this: Socket): void {
  this.destroy()
}

/** Relays an accepted upgrade (the reply must be hijacked): raw bytes both ways until either side ends. */
export function relayUpgrade (options: RelayOptions): void {
  const { request, pending: { socket: client, head }, sockets } = options
  pending.delete(request.raw)
  // The socket is ours now: no response object, no idle timeout (WebSockets have their own heartbeats).
  options.response.detachSocket(client)
  client.setTimeout(0)
  client.setNoDelay(true)

  const upstream = connect({ host: options.host, port: options.port, noDelay: true })
  let connected = false
  // Needed only until the upstream answers the connect; dropped then, so an open relay keeps no reference
  // to the request, its reply or the caller's closures (about 4 KB of heap per relayed socket otherwise:
  // the listeners below share one closure context, so none of them may name `options` or `request`).
  let refused: ((err: Error) => void) | null = badGatewayAnswer(options)
  let deadline: NodeJS.Timeout | null = upgradeDeadline(options, upstream, () => { refused = null })
  const idleTimeoutMs = options.idleTimeoutMs
  sockets.set(client, upstream)
  upstream.write(options.head)
  if (head.length > 0) upstream.write(head)

  // The upstream's first byte begins its answer: the upgrade deadline is over, the idle timeout starts.
  upstream.once('data', () => {
    if (deadline !== null) clearTimeout(deadline)
    deadline = null
    client.setTimeout(idleTimeoutMs)
    client.once('timeout', endIdle)
  })

  upstream.once('connect', () => {
    connected = true
    refused = null
    forward(upstream, client)
    forward(client, upstream)
  })
  upstream.on('error', (err) => {
    if (refused !== null) {
      refused(err)
      refused = null
    } else {
      client.destroy()
    }
  })
  upstream.on('close', (hadError) => {
    if (!connected) return
    if (hadError) client.destroy()
    else linger(client)
  })
  client.on('error', () => { upstream.destroy() })
  client.on('close', (hadError) => {
    if (deadline !== null) clearTimeout(deadline)
    deadline = null
    sockets.delete(client)
    if (hadError) upstream.destroy()
    else linger(upstream)
  })
}

/**
 * Bytes from one socket to the other with back-pressure, and the end passed on: what pipe() does here,
 * with three listeners instead of pipe's nine closures per direction (2-3 KB per relayed socket).
 * Errors and closes are handled by relayUpgrade.
 */
function forward (from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => { if (!to.write(chunk)) from.pause() })
  to.on('drain', () => { from.resume() })
  from.on('end', () => { to.end() })
}

/** What an upstream that cannot be reached gets the client: the caller's hook, then a 502 JSON answer. */
function badGatewayAnswer ({ onUpstreamError, request, name, pending: { socket: client } }: RelayOptions): (err: Error) => void {
  const requestId = request.id
  return (err) => {
    onUpstreamError(err)
    answerError(client, requestId, 502, 'GATEWAY_UPSTREAM_UNAVAILABLE', `Upstream ${name} is unavailable`)
  }
}

/**
 * The upgrade deadline: an upstream that has not begun to answer by then is dropped and the client
 * gets a 504 JSON answer. A closure of its own, so the open relay keeps no reference to the request.
 */
function upgradeDeadline ({ onUpstreamTimeout, request, name, pending: { socket: client }, upgradeTimeoutMs }: RelayOptions, upstream: Socket, expired: () => void): NodeJS.Timeout {
  const requestId = request.id
  return setTimeout(() => {
    expired()
    onUpstreamTimeout()
    answerError(client, requestId, 504, 'GATEWAY_UPSTREAM_TIMEOUT', `Upstream ${name} did not answer in time`)
    upstream.destroy()
  }, upgradeTimeoutMs)
}

/** On shutdown: ends every relayed connection (both sides), destroying what has not closed after `graceMs`. */
export async function endRelayed (sockets: RelayedSockets, graceMs = 1_000): Promise<void> {
  if (sockets.size === 0) return
  const all = [...sockets]
  for (const [client, upstream] of all) {
    client.end()
    upstream.end()
  }
  const closed = Promise.all(all.map(async ([client]) => {
    if (client.destroyed) return
    await new Promise<void>((resolve) => { client.once('close', () => { resolve() }) })
  }))
  let timer: NodeJS.Timeout | undefined
  await Promise.race([closed, new Promise<void>((resolve) => { timer = setTimeout(resolve, graceMs) })])
  clearTimeout(timer)
  for (const [client, upstream] of all) {
    client.destroy()
    upstream.destroy()
  }
}
