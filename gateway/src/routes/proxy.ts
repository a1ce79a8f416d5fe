import type { FastifyError, FastifyInstance, onRequestHookHandler } from 'fastify'
import { SESSION_BODY_LIMIT } from '@weapp/common'
import { adminCheck } from '../auth/admin-check.js'
import { agentCheck } from '../auth/agent-check.js'
import { AdminKeyring, parseAdminKeys } from '../auth/admin-keys.js'
import type { AuthDeps } from '../auth/authenticate.js'
import { loginOriginCheck, parseConsoleOrigins, type OriginPolicy } from '../auth/csrf.js'
import { MULTIPART_OVERHEAD, type GatewayConfig } from '../config.js'
import { BodyTooLargeError } from '../errors.js'
import { LOGIN_RATE_LIMITED } from '../plugins/login-rate-limit.js'
import { closingCheck } from '../proxy/closing.js'
import type { ForwardSettings } from '../proxy/forward.js'
import { httpProxyHandler } from '../proxy/http-handler.js'
import type { RelayedSockets } from '../proxy/upgrade.js'
import { webSocketHandler, type WebSocketHandlerDeps } from '../proxy/ws-handler.js'
import { ALL_METHODS, UPSTREAMS, UPSTREAM_NAMES, type RouteSpec, type UpstreamSpec } from '../routes-table.js'

/** A route's body limit in bytes (RouteSpec.bodyLimit resolved against the config). */
export function routeBodyLimit (spec: RouteSpec, config: GatewayConfig): number {
  const limit = spec.bodyLimit
  if (limit === undefined) return config.BODY_LIMIT
  if (limit === 'push') return config.PUSH_BODY_LIMIT
  if (limit === 'upload') return config.ADMIN_UPLOAD_LIMIT + MULTIPART_OVERHEAD
  if (limit === 'session') return Math.min(config.BODY_LIMIT, SESSION_BODY_LIMIT)
  return limit
}

export interface ProxyRoutesOptions {
  config: GatewayConfig
  trustProxy: boolean
  /** Read on every request: when true (shutdown has begun) new requests get 503 GATEWAY_CLOSING. */
  isClosing: () => boolean
  /** Client sockets of relayed WebSocket connections (ended when the gateway closes). */
  webSockets: RelayedSockets
}

/**
 * Every route of the route table, with its handler from the proxy engine (proxy/http-handler.ts,
 * proxy/ws-handler.ts). Encapsulated: its body parsing, error mapping and closing check stay here.
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

  app.addHook('onRequest', closingCheck(opts.isClosing))

  const keyring = new AdminKeyring(parseAdminKeys(config.ADMIN_API_KEYS, config.INTERNAL_TOKEN))
  if (!keyring.enabled) app.log.info('no ADMIN_API_KEYS: the admin routes answer 503 GATEWAY_ADMIN_DISABLED')
  const checkAdmin = adminCheck(keyring)
  app.decorateRequest('adminIdentityHeader', null)
  const origins: OriginPolicy = { secure: config.CONSOLE_COOKIE_SECURE, allowed: parseConsoleOrigins(config.CONSOLE_ORIGINS) }
  const checkAgent = agentCheck({ resolver: app.sessionResolver, origins })
  const checkLoginOrigin = loginOriginCheck(origins)
  app.decorateRequest('agentAdmission', null)
  // Credentials checked on arrival, before the body is read (the rest: in the handler, auth/authenticate.ts).
  const arrivalCheck = (spec: RouteSpec): { onRequest?: onRequestHookHandler } => {
    if (spec.auth === 'admin') return { onRequest: checkAdmin }
    if (spec.auth === 'agent') return { onRequest: checkAgent }
    if (spec.originCheck === true) return { onRequest: checkLoginOrigin }
    return {}
  }

  const settings: ForwardSettings = { internalToken: config.INTERNAL_TOKEN, trustProxy: opts.trustProxy, metrics: app.metrics }
  const auth: AuthDeps = { resolver: app.sessionResolver, keyring, metrics: app.metrics }
  for (const name of UPSTREAM_NAMES) {
    const deps: WebSocketHandlerDeps = {
      upstream: app.upstreams.get(name)!,
      settings,
      auth,
      group: app.metrics.groupIndex(name),
      isClosing: opts.isClosing,
      sockets: opts.webSockets,
      timeouts: { upgradeMs: config.WS_UPGRADE_TIMEOUT_MS, idleMs: config.WS_IDLE_TIMEOUT_MS }
    }
    for (const spec of (UPSTREAMS[name] as UpstreamSpec).websockets ?? []) {
      app.route({
        method: 'GET',
        url: spec.path,
        exposeHeadRoute: false,
        ...(spec.auth === 'agent' ? { onRequest: checkAgent } : {}),
        config: { metricsGroup: name },
        handler: webSocketHandler(spec, deps)
      })
    }
    for (const spec of UPSTREAMS[name].routes as readonly RouteSpec[]) {
      app.route({
        method: [...(spec.methods ?? ALL_METHODS)],
        url: spec.path,
        exposeHeadRoute: false,
        bodyLimit: routeBodyLimit(spec, config),
        ...arrivalCheck(spec),
        config: { metricsGroup: name, ...(spec.rateLimit === 'login' ? LOGIN_RATE_LIMITED : {}) },
        handler: httpProxyHandler(spec, deps)
      })
    }
  }
}
