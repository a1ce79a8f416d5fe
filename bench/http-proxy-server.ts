// `@fastify/http-proxy` in front of the proxy bench's upstream (bench/proxy.ts), doing the gateway's
// per-request work for `GET /api/me` so its CPU per request compares with the gateway's own engine:
// the gateway's Fastify options (`serverOptions` of @weapp/common: the same logger at LOG_LEVEL, request
// ids, lazy request loggers), the bearer credential hashed and looked up in a cache (resolved once by
// `POST /internal/resolve`, kept until it expires), and the headers the gateway asserts upstream
// (internal token, identity, request id, x-forwarded-*). Not done: the gateway's metrics, its
// closing check, its drop-list of client headers (reply-from drops hop-by-hop headers only) and its
// route table (one prefix here).
//
// Env: PORT, UPSTREAM_URL, INTERNAL_TOKEN, LOG_LEVEL (info), PROXY_VARIANT:
//   stock  the plugin's defaults (its own undici pool: 10 connections, no pipelining);
//   tuned  every option that helps: an undici Pool with the gateway's settings (64 connections,
//          pipelining 8, its coalescing connector), disableRequestLogging, no Location rewrite, no
//          body parsing (GET only).
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'
import { Pool } from 'undici'
import { credentialHash, encodeIdentity, IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, REQUEST_ID_HEADER, serverOptions, type Identity } from '@weapp/common'
import { coalescingConnector } from '../gateway/src/proxy/coalescing-connector.js'

const upstream = process.env.UPSTREAM_URL ?? ''
const internalToken = process.env.INTERNAL_TOKEN ?? ''
const tuned = process.env.PROXY_VARIANT === 'tuned'
/** A bearer token as the session service issues it; the gateway refuses other shapes without a lookup. */
const BEARER_SHAPE = /^[A-Za-z0-9_-]{43}$/

declare module 'fastify' {
  interface FastifyRequest {
    /** `x-weapp-identity` for the upstream, set by the preHandler. */
    benchIdentityHeader: string
  }
}

const app = Fastify(serverOptions({ service: 'gateway', logLevel: process.env.LOG_LEVEL ?? 'info' }))
app.decorateRequest('benchIdentityHeader', '')

/** credentialHash → identity header and expiry: the gateway's auth cache, minus its LRU bound. */
const cache = new Map<string, { identityHeader: string, expiresAt: number }>()

async function resolve (token: string): Promise<{ identityHeader: string, expiresAt: number } | null> {
  const res = await fetch(`${upstream}/internal/resolve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: internalToken },
    body: JSON.stringify({ bearer: token })
  })
  if (!res.ok) return null
  const { identity, expiresAt } = await res.json() as { identity: Identity, expiresAt: string }
  return { identityHeader: encodeIdentity(identity), expiresAt: Date.parse(expiresAt) }
}

await app.register(proxy, {
  upstream,
  prefix: '/api',
  rewritePrefix: '/api',
  ...(tuned
    ? {
        undici: new Pool(upstream, { connections: 64, pipelining: 8, keepAliveTimeout: 30_000, connect: coalescingConnector({ timeout: 3000 }) }) as never,
        disableRequestLogging: true,
        internalRewriteLocationHeader: false,
        httpMethods: ['GET', 'HEAD']
      }
    : {}),
  preHandler: async (request, reply) => {
    const authorization = request.headers.authorization
    const token = authorization?.startsWith('Bearer ') === true ? authorization.slice(7) : undefined
    if (token === undefined || !BEARER_SHAPE.test(token)) return await reply.code(401).send({ code: 'GATEWAY_AUTH_REQUIRED' })
    const key = credentialHash({ kind: 'bearer', token })
    let entry = cache.get(key)
    if (entry === undefined || entry.expiresAt <= Date.now()) {
      const resolved = await resolve(token)
      if (resolved === null) return await reply.code(401).send({ code: 'SESSION_INVALID' })
      cache.set(key, resolved)
      entry = resolved
    }
    request.benchIdentityHeader = entry.identityHeader
  },
  replyOptions: {
    rewriteRequestHeaders: (request, headers) => ({
      ...headers,
      [INTERNAL_TOKEN_HEADER]: internalToken,
      [IDENTITY_HEADER]: request.benchIdentityHeader,
      [REQUEST_ID_HEADER]: String(request.id),
      'x-forwarded-for': request.socket.remoteAddress ?? '',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': request.headers.host ?? ''
    })
  }
})
app.get('/healthz', async () => ({ status: 'ok' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.on('SIGTERM', () => { void app.close().then(() => process.exit(0)) })
