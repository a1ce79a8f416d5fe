import type { FastifyReply, FastifyRequest } from 'fastify'
import { IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER } from '@weapp/common'
import type { AuthPolicy } from '../routes-table.js'

/**
 * Request headers never copied from the client: hop-by-hop headers (RFC 9110 7.6.1), what undici
 * sets itself (host, content-length), and everything the gateway asserts on the internal hop
 * (internal token, identity, request id, forwarding chain): a client can never supply those.
 */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'host', 'content-length', 'expect', 'http2-settings', 'proxy-authorization',
  INTERNAL_TOKEN_HEADER, IDENTITY_HEADER, REQUEST_ID_HEADER,
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded', 'x-real-ip'
])

/** Response headers not copied to the client: hop-by-hop, and what the gateway's server sets itself. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'date', REQUEST_ID_HEADER
])

/** Header names a `Connection` header asks to drop besides the usual tokens; usually none. */
function connectionListed (value: string | undefined): Set<string> | null {
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive') return null
  let listed: Set<string> | null = null
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase()
    if (name === '' || name === 'keep-alive' || name === 'close') continue
    listed ??= new Set()
    listed.add(name)
  }
  return listed
}

export interface ForwardedInfo {
  /** `x-forwarded-for` as the upstream should see it. */
  forwardedFor: string
  proto: string
  host: string
}

/**
 * The forwarding chain. With no trusted proxy the peer is the client and whatever the client wrote
 * in X-Forwarded-* is discarded. Behind trusted proxies, the chain is kept up to the first address
 * that is not trusted (the client as the last trusted proxy saw it); anything before it is
 * client-written and dropped.
 */
export function forwardedInfo (request: FastifyRequest, trustProxy: boolean): ForwardedInfo {
  const raw = request.raw
  if (!trustProxy) {
    return {
      forwardedFor: raw.socket.remoteAddress ?? '',
      proto: (raw.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http',
      host: raw.headers.host ?? ''
    }
  }
  // request.ips: [peer, ..., first untrusted], i.e. the X-Forwarded-For order reversed.
  const ips = request.ips ?? [raw.socket.remoteAddress ?? '']
  let forwardedFor = ips[ips.length - 1] ?? ''
  for (let i = ips.length - 2; i >= 0; i--) forwardedFor += ', ' + ips[i]!
  return { forwardedFor, proto: request.protocol, host: request.host }
}

/**
 * Credential headers a route keeps from the upstream: those the gateway checked itself and that go no
 * further (admin keys in `Authorization`; the console cookie in `Cookie`, and `Authorization`, which
 * console routes ignore).
 */
export interface StrippedCredentials {
  readonly authorization: boolean
  readonly cookie: boolean
}

export const STRIP_NOTHING: StrippedCredentials = Object.freeze({ authorization: false, cookie: false })

/**
 * The headers sent upstream, as undici's flat [name, value, ...] array: the client's end-to-end
 * headers (original order and case, duplicates kept, `strip` left out) plus what the gateway asserts.
 */
export function upstreamRequestHeaders (
  request: FastifyRequest,
  internalToken: string,
  identityHeader: string | null,
  trustProxy: boolean,
  strip: StrippedCredentials = STRIP_NOTHING
): string[] {
  const rawHeaders = request.raw.rawHeaders
  const listed = connectionListed(request.headers.connection)
  const out: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!
    const lower = name.toLowerCase()
    if (DROPPED_REQUEST_HEADERS.has(lower) || (listed !== null && listed.has(lower))) continue
    if ((strip.authorization && lower === 'authorization') || (strip.cookie && lower === 'cookie')) continue
    out.push(name, rawHeaders[i + 1]!)
  }
  const fwd = forwardedInfo(request, trustProxy)
  out.push(
    INTERNAL_TOKEN_HEADER, internalToken,
    REQUEST_ID_HEADER, request.id,
    'x-forwarded-for', fwd.forwardedFor,
    'x-forwarded-proto', fwd.proto,
    'x-forwarded-host', fwd.host
  )
  if (identityHeader !== null) out.push(IDENTITY_HEADER, identityHeader)
  return out
}

/** Copies an upstream response's end-to-end headers onto the reply. */
export function copyResponseHeaders (reply: FastifyReply, headers: Record<string, string | string[] | undefined>): void {
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name)) continue
    reply.header(name, value)
  }
}

const STRIP_AUTHORIZATION: StrippedCredentials = Object.freeze({ authorization: true, cookie: false })
const STRIP_BOTH: StrippedCredentials = Object.freeze({ authorization: true, cookie: true })

/** What a route of `auth` keeps from its upstream: admin keys stop here, and on console routes the cookie and Authorization. */
export function strippedCredentials (auth: AuthPolicy): StrippedCredentials {
  if (auth === 'agent') return STRIP_BOTH
  if (auth === 'admin' || auth === 'userOrAdmin') return STRIP_AUTHORIZATION
  return STRIP_NOTHING
}
