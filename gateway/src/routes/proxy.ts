import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, RouteHandlerMethod } from 'fastify'
import type { Redis } from 'ioredis'
import { SESSION_BODY_LIMIT } from '@weapp/common'
import { AdminKeyring, parseAdminKeys } from '../auth/admin-keys.js'
import { bearerToken, extractCredential, isMalformed, type Credential, type Malformed } from '../auth/credentials.js'
import { refuse, type RefusingPolicy } from '../auth/refusals.js'
import type { ResolveResult, SessionResolver } from '../auth/resolver.js'
import { MULTIPART_OVERHEAD, type GatewayConfig } from '../config.js'
import { AdminDisabledError, AdminKeyInvalidError, AuthRateLimitedError, AuthRequiredError, BadPathError, BodyTooLargeError, GatewayClosingError, SessionInvalidError } from '../errors.js'
import type { GatewayMetrics } from '../metrics.js'
import { forward, type ForwardSettings, type RouteTarget, type Upstream } from '../proxy/forward.js'
import { registerLoginRateLimit } from '../plugins/login-rate-limit.js'
import { isForwardablePath } from '../proxy/path.js'
import { pendingUpgrade, relayUpgrade, upgradeHeaders, type RelayedSockets } from '../proxy/upgrade.js'
import { ALL_METHODS, UPSTREAMS, UPSTREAM_NAMES, type RouteSpec, type UpstreamSpec, type WebSocketSpec } from '../routes-table.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** `x-weapp-identity` of the admin key an `admin` route's request presented (set by its onRequest check). */
    adminIdentityHeader: string | null
  }
}

/** A route's body limit in bytes (RouteSpec.bodyLimit resolved against the config). */
export function routeBodyLimit (spec: RouteSpec, config: GatewayConfig): number {
  const limit = spec.bodyLimit
  if (limit === undefined) return config.BODY_LIMIT
  if (limit === 'push') return config.PUSH_BODY_LIMIT
  if (limit === 'upload') return config.ADMIN_UPLOAD_LIMIT + MULTIPART_OVERHEAD
  if (limit === 'session') return Math.min(config.BODY_LIMIT, SESSION_BODY_LIMIT)
  return limit
}

/**
 * The admin check, run when the request arrives (before its body is read: an upload without a
 * valid key costs the gateway nothing). Sets `request.adminIdentityHeader` or answers the refusal.
 */
function adminCheck (keyring: AdminKeyring): onRequestHookHandler {
  return function checkAdminKey (request, reply, done) {
    if (!keyring.enabled) {
      reply.send(new AdminDisabledError())
      return
    }
    if (request.headers.authorization === undefined) {
      reply.send(new AuthRequiredError('admin key'))
      return
    }
    const token = bearerToken(request.headers)
    if (token === undefined) {
      // Another scheme (Basic...), or "Bearer" with nothing usable after it: no admin key presented.
      reply.send(new AuthRequiredError('admin key'))
      return
    }
    const key = keyring.match(token)
    if (key === undefined) {
      reply.send(new AdminKeyInvalidError())
      return
    }
    request.adminIdentityHeader = key.identityHeader
    done()
  }
}

export interface ProxyRoutesOptions {
  config: GatewayConfig
  trustProxy: boolean
  /** Redis for the shared login rate limit; null keeps the counters in memory. */
  redis: Redis | null
  /** Read on every request: when true (shutdown has begun) new requests get 503 GATEWAY_CLOSING. */
  isClosing: () => boolean
  /** Client sockets of relayed WebSocket connections (ended when the gateway closes). */
  webSockets: RelayedSockets
}

interface HandlerDeps {
  upstream: Upstream
  settings: ForwardSettings
  resolver: SessionResolver
  keyring: AdminKeyring
  group: number
  isClosing: () => boolean
  /** WS_UPGRADE_TIMEOUT_MS and WS_IDLE_TIMEOUT_MS of relayed WebSockets. */
  webSocketTimeouts: { upgradeMs: number, idleMs: number }
}

/** How a refusal looks: per policy, and for `anyUser` per the kind of credential presented (its client's shape). */
function refusingPolicy (policy: RouteSpec['auth'], credential: Credential | Malformed | null): RefusingPolicy {
  if (policy === 'wafer1' || policy === 'wafer2') return policy
  if (policy === 'anyUser' && credential !== null && credential.kind !== 'bearer') return credential.kind
  return 'user'
}

/**
 * The verdict on a well-formed credential that is not in the auth cache (the hot path checks that
 * first): a remembered refusal, else a lookup, counted against the client address's failed-lookup
 * budget (over it: 429 GATEWAY_AUTH_RATE_LIMITED and no lookup). `accept` gets the identity header to
 * forward, `reject` the session service's reason.
 */
function authenticateUncached (
  request: FastifyRequest, reply: FastifyReply, resolver: SessionResolver, credential: Credential,
  accept: (identityHeader: string) => void, reject: (reason: string) => void
): void {
  const refused = resolver.refused(credential.hash)
  if (refused !== undefined) {
    reject(refused)
    return
  }
  resolver.resolve(credential, request.id, request.ip).then((result: ResolveResult) => {
    if (result.ok) accept(result.session.identityHeader)
    else if ('reason' in result) reject(result.reason)
    else {
      const seconds = Math.ceil(result.retryAfterMs / 1000)
      reply.header('retry-after', String(seconds))
      reply.send(new AuthRateLimitedError(seconds))
    }
  }, (err: unknown) => {
    reply.send(err)
  })
}

/** A credential that cannot be one: counted, refused without a lookup. */
function malformed (metrics: GatewayMetrics): string {
  metrics.authFailure('malformed')
  return 'malformed credential'
}

/** `?ticket=<something>` in a request target (any position, name exact as realtime-ws reads it). */
function hasTicket (url: string): boolean {
  const q = url.indexOf('?')
  if (q === -1) return false
  for (const pair of url.slice(q + 1).split('&')) {
    if (pair.startsWith('ticket=') && pair.length > 7) return true
  }
  return false
}

/**
 * A WebSocket route: an upgrade is authenticated (`session`) or not (`ticket`), then relayed as raw
 * bytes (proxy/upgrade.ts); refusals are ordinary HTTP answers written before any socket opens. A
 * plain GET (no upgrade) is forwarded like any request.
 */
function makeWebSocketHandler (spec: WebSocketSpec, deps: HandlerDeps, sockets: RelayedSockets): RouteHandlerMethod {
  const { settings, resolver, group, isClosing } = deps
  const target: RouteTarget = { upstream: deps.upstream, pipeline: false }
  const upstreamUrl = new URL(deps.upstream.origin)
  const upstreamHost = upstreamUrl.hostname.replace(/^\[|\]$/g, '')
  const upstreamPort = Number(upstreamUrl.port === '' ? 80 : upstreamUrl.port)

  function relay (request: FastifyRequest, reply: FastifyReply, identityHeader: string | null): void {
    const pending = pendingUpgrade(request.raw)
    if (pending === undefined) {
      forward(request, reply, target, settings, identityHeader)
      return
    }
    if (isClosing()) {
      reply.header('connection', 'close')
      reply.send(new GatewayClosingError())
      return
    }
    if (!isForwardablePath(request.url)) {
      reply.send(new BadPathError())
      return
    }
    reply.hijack()
    const head = upgradeHeaders(request, settings.internalToken, identityHeader, settings.trustProxy)
    relayUpgrade({
      request,
      response: reply.raw,
      pending,
      name: deps.upstream.name,
      host: upstreamHost,
      port: upstreamPort,
      head,
      sockets,
      upgradeTimeoutMs: deps.webSocketTimeouts.upgradeMs,
      idleTimeoutMs: deps.webSocketTimeouts.idleMs,
      onUpstreamError: (err) => {
        request.log.warn({ err, upstream: deps.upstream.name }, 'websocket upstream unavailable')
        settings.metrics.upstreamError(deps.upstream.name, 'unavailable')
      },
      onUpstreamTimeout: () => {
        request.log.warn({ upstream: deps.upstream.name }, 'websocket upstream did not answer the upgrade in time')
        settings.metrics.upstreamError(deps.upstream.name, 'timeout')
      }
    })
  }

  return function webSocketHandler (request, reply) {
    request.metricsGroup = group
    if (isClosing()) {
      reply.header('connection', 'close')
      reply.send(new GatewayClosingError())
      return
    }
    if (spec.auth === 'ticket') {
      relay(request, reply, null)
      return
    }
    const credential = extractCredential('anyUser', request.headers, request.url)
    if (credential === null) {
      // No session: a ticket goes through untouched for the upstream to check (and consume).
      if (hasTicket(request.url)) relay(request, reply, null)
      else reply.send(new AuthRequiredError('token'))
      return
    }
    if (isMalformed(credential)) {
      reply.send(new SessionInvalidError(malformed(settings.metrics)))
      return
    }
    const cached = resolver.cached(credential.hash)
    if (cached !== undefined) {
      relay(request, reply, cached.identityHeader)
      return
    }
    authenticateUncached(request, reply, resolver, credential, (identityHeader) => { relay(request, reply, identityHeader) }, (reason) => {
      reply.send(new SessionInvalidError(reason))
    })
  }
}

function makeHandler (spec: RouteSpec, deps: HandlerDeps): RouteHandlerMethod {
  const { settings, resolver, group, isClosing } = deps
  const policy = spec.auth
  const target: RouteTarget = {
    upstream: deps.upstream,
    pipeline: spec.pipeline === true,
    idempotent: spec.idempotent === true,
    dropAuthorization: policy === 'admin' || policy === 'userOrAdmin'
  }
  const evict = spec.evictCredentialOnSuccess === true

  function withSession (request: FastifyRequest, reply: FastifyReply, credential: Credential, identityHeader: string): void {
    forward(request, reply, target, settings, identityHeader, evict ? () => { resolver.evict(credential.hash) } : undefined)
  }

  return function proxyHandler (request, reply) {
    request.metricsGroup = group
    if (isClosing()) {
      reply.header('connection', 'close')
      reply.send(new GatewayClosingError())
      return
    }
    if (policy === 'none') {
      forward(request, reply, target, settings, null)
      return
    }
    if (policy === 'admin') {
      // Checked on arrival (adminCheck); only requests with a valid key get here.
      forward(request, reply, target, settings, request.adminIdentityHeader)
      return
    }
    if (policy === 'userOrAdmin' && deps.keyring.enabled) {
      // An admin key is the gateway's to check; anything else is tried as a user session.
      const token = bearerToken(request.headers)
      const key = token === undefined ? undefined : deps.keyring.match(token)
      if (key !== undefined) {
        forward(request, reply, target, settings, key.identityHeader)
        return
      }
    }
    const credential = extractCredential(policy === 'userOrAdmin' ? 'user' : policy, request.headers, request.url)
    const refusal = refusingPolicy(policy, credential)
    if (credential === null) {
      // wafer generation 1: no credentials → unauthenticated, the upstream route decides.
      if (policy === 'wafer1') forward(request, reply, target, settings, null)
      else refuse(reply, refusal, null)
      return
    }
    if (isMalformed(credential)) {
      refuse(reply, refusal, malformed(settings.metrics))
      return
    }
    const cached = resolver.cached(credential.hash)
    if (cached !== undefined) {
      withSession(request, reply, credential, cached.identityHeader)
      return
    }
    authenticateUncached(request, reply, resolver, credential, (identityHeader) => { withSession(request, reply, credential, identityHeader) }, (reason) => {
      refuse(reply, refusal, reason)
    })
  }
}

/**
 * Every route of the route table (encapsulated: its body parsing and error mapping stay here).
 * Bodies are collected as they are (any content type, up to the route's limit) and forwarded unchanged.
 */
export default async function proxyRoutes (app: FastifyInstance, opts: ProxyRoutesOptions): Promise<void> {
  const { config } = opts

  // Bodies are collected as bytes (up to the route's bodyLimit, default BODY_LIMIT) and forwarded as they are.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })

  // Fastify's body errors carry FST_* codes; the gateway answers with its own. The root error handler formats.
  app.setErrorHandler((err: FastifyError, request) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') throw new BodyTooLargeError(request.routeOptions.bodyLimit)
    throw err
  })

  await registerLoginRateLimit(app, { redis: opts.redis })

  const keyring = new AdminKeyring(parseAdminKeys(config.ADMIN_API_KEYS, config.INTERNAL_TOKEN))
  if (!keyring.enabled) app.log.info('no ADMIN_API_KEYS: the admin routes answer 503 GATEWAY_ADMIN_DISABLED')
  const checkAdmin = adminCheck(keyring)
  app.decorateRequest('adminIdentityHeader', null)

  const settings: ForwardSettings = { internalToken: config.INTERNAL_TOKEN, trustProxy: opts.trustProxy, metrics: app.metrics }
  for (const name of UPSTREAM_NAMES) {
    const upstream = app.upstreams.get(name)!
    const deps: HandlerDeps = {
      upstream,
      settings,
      resolver: app.sessionResolver,
      keyring,
      group: app.metrics.groupIndex(name),
      isClosing: opts.isClosing,
      webSocketTimeouts: { upgradeMs: config.WS_UPGRADE_TIMEOUT_MS, idleMs: config.WS_IDLE_TIMEOUT_MS }
    }
    for (const spec of (UPSTREAMS[name] as UpstreamSpec).websockets ?? []) {
      app.route({
        method: 'GET',
        url: spec.path,
        exposeHeadRoute: false,
        config: { metricsGroup: name },
        handler: makeWebSocketHandler(spec, deps, opts.webSockets)
      })
    }
    for (const spec of UPSTREAMS[name].routes as readonly RouteSpec[]) {
      app.route({
        method: [...(spec.methods ?? ALL_METHODS)],
        url: spec.path,
        exposeHeadRoute: false,
        bodyLimit: routeBodyLimit(spec, config),
        ...(spec.auth === 'admin' ? { onRequest: checkAdmin } : {}),
        config: {
          metricsGroup: name,
          ...(spec.rateLimit === 'login' ? { rateLimit: { max: config.LOGIN_RATE_LIMIT_MAX, timeWindow: config.LOGIN_RATE_LIMIT_WINDOW_MS } } : {})
        },
        handler: makeHandler(spec, deps)
      })
    }
  }
}
