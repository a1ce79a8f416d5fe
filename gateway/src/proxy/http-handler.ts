import type { RouteHandlerMethod } from 'fastify'
import { Authenticator, type AuthDeps } from '../auth/authenticate.js'
import type { RouteSpec } from '../routes-table.js'
import { forward, type ForwardSettings, type RouteTarget, type Upstream } from './forward.js'
import { strippedCredentials } from './headers.js'

/** What a proxy route's handler needs, made once per upstream. */
export interface ProxyHandlerDeps {
  readonly upstream: Upstream
  readonly settings: ForwardSettings
  readonly auth: AuthDeps
  /** The upstream's route group in the request metrics. */
  readonly group: number
}

/**
 * The handler of an HTTP route of the route table: the request is authenticated by the route's
 * policy (auth/authenticate.ts), then forwarded (proxy/forward.ts) with the identity it resolved to.
 */
export function httpProxyHandler (spec: RouteSpec, deps: ProxyHandlerDeps): RouteHandlerMethod {
  const { settings, group } = deps
  const resolver = deps.auth.resolver
  const target: RouteTarget = {
    upstream: deps.upstream,
    pipeline: spec.pipeline === true,
    idempotent: spec.idempotent === true,
    strip: strippedCredentials(spec.auth)
  }
  const evict = spec.evictCredentialOnSuccess === true
  const authenticator = new Authenticator(spec.auth, deps.auth, {
    admit (request, reply, identityHeader, credential) {
      const onSuccess = evict && credential !== null ? () => { resolver.evict(credential.hash) } : undefined
      forward(request, reply, target, settings, identityHeader, onSuccess)
    }
  })

  return function proxyHandler (request, reply) {
    request.metricsGroup = group
    authenticator.authenticate(request, reply)
  }
}
