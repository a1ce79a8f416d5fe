import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import type { Redis } from 'ioredis'
import { MALFORMED, extractCredential, type Credential } from '../auth/credentials.js'
import { refuse } from '../auth/refusals.js'
import type { SessionResolver } from '../auth/resolver.js'
import type { GatewayConfig } from '../config.js'
import { BodyTooLargeError, GatewayClosingError } from '../errors.js'
import { forward, type ForwardSettings, type RouteTarget, type Upstream } from '../proxy/forward.js'
import { registerLoginRateLimit } from '../plugins/login-rate-limit.js'
import { ALL_METHODS, UPSTREAMS, UPSTREAM_NAMES, type RouteSpec } from '../routes-table.js'

export interface ProxyRoutesOptions {
  config: GatewayConfig
  trustProxy: boolean
  /** Redis for the shared login rate limit; null keeps the counters in memory. */
  redis: Redis | null
  /** Read on every request: when true (shutdown has begun) new requests get 503 GATEWAY_CLOSING. */
  isClosing: () => boolean
}

interface HandlerDeps {
  upstream: Upstream
  settings: ForwardSettings
  resolver: SessionResolver
  group: number
  isClosing: () => boolean
}

function makeHandler (spec: RouteSpec, deps: HandlerDeps): RouteHandlerMethod {
  const { settings, resolver, group, isClosing } = deps
  const target: RouteTarget = { upstream: deps.upstream, pipeline: spec.pipeline === true }
  const policy = spec.auth
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
    const credential = extractCredential(policy, request.headers, request.url)
    if (credential === null) {
      // wafer generation 1: no credentials → unauthenticated, the upstream route decides.
      if (policy === 'wafer1') forward(request, reply, target, settings, null)
      else refuse(reply, policy, null)
      return
    }
    if (credential === MALFORMED) {
      refuse(reply, policy, 'malformed credential')
      return
    }
    const cached = resolver.cached(credential.hash)
    if (cached !== undefined) {
      withSession(request, reply, credential, cached.identityHeader)
      return
    }
    resolver.resolve(credential, request.id).then((result) => {
      if (result.ok) withSession(request, reply, credential, result.session.identityHeader)
      else refuse(reply, policy, result.reason)
    }, (err: unknown) => {
      reply.send(err)
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

  const settings: ForwardSettings = { internalToken: config.INTERNAL_TOKEN, trustProxy: opts.trustProxy, metrics: app.metrics }
  for (const name of UPSTREAM_NAMES) {
    const upstream = app.upstreams.get(name)!
    const deps: HandlerDeps = { upstream, settings, resolver: app.sessionResolver, group: app.metrics.groupIndex(name), isClosing: opts.isClosing }
    for (const spec of UPSTREAMS[name].routes as readonly RouteSpec[]) {
      app.route({
        method: [...(spec.methods ?? ALL_METHODS)],
        url: spec.path,
        exposeHeadRoute: false,
        bodyLimit: spec.bodyLimit ?? config.BODY_LIMIT,
        config: {
          metricsGroup: name,
          ...(spec.rateLimit === 'login' ? { rateLimit: { max: config.LOGIN_RATE_LIMIT_MAX, timeWindow: config.LOGIN_RATE_LIMIT_WINDOW_MS } } : {})
        },
        handler: makeHandler(spec, deps)
      })
    }
  }
}
