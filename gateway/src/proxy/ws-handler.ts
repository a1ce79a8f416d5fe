import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { Authenticator } from '../auth/authenticate.js'
import { BadPathError } from '../errors.js'
import type { WebSocketSpec } from '../routes-table.js'
import { answerClosing } from './closing.js'
import { forward, type RouteTarget } from './forward.js'
import { STRIP_NOTHING, strippedCredentials } from './headers.js'
import type { ProxyHandlerDeps } from './http-handler.js'
import { isForwardablePath } from './path.js'
import { pendingUpgrade, relayUpgrade, upgradeHeaders, type RelayedSockets } from './upgrade.js'

export interface WebSocketHandlerDeps extends ProxyHandlerDeps {
  /** True once shutdown has begun. */
  readonly isClosing: () => boolean
  /** Client sockets of relayed connections (ended when the gateway closes). */
  readonly sockets: RelayedSockets
  /** WS_UPGRADE_TIMEOUT_MS and WS_IDLE_TIMEOUT_MS of relayed WebSockets. */
  readonly timeouts: { readonly upgradeMs: number, readonly idleMs: number }
}

/**
 * The handler of a WebSocket route: an upgrade is authenticated (`session`, `agent`: the latter checked on
 * arrival by auth/agent-check.ts, Origin included) or not (`ticket`), then
 * relayed as raw bytes (proxy/upgrade.ts); refusals are ordinary HTTP answers written before any
 * socket opens. A plain GET (no upgrade) is forwarded like any request.
 */
export function webSocketHandler (spec: WebSocketSpec, deps: WebSocketHandlerDeps): RouteHandlerMethod {
  const { settings, group, isClosing, sockets } = deps
  const name = deps.upstream.name
  const strip = spec.auth === 'agent' ? strippedCredentials('agent') : STRIP_NOTHING
  const target: RouteTarget = { upstream: deps.upstream, pipeline: false, strip }
  const upstreamUrl = new URL(deps.upstream.origin)
  const upstreamHost = upstreamUrl.hostname.replace(/^\[|\]$/g, '')
  const upstreamPort = Number(upstreamUrl.port === '' ? 80 : upstreamUrl.port)

  function relay (request: FastifyRequest, reply: FastifyReply, identityHeader: string | null): void {
    const pending = pendingUpgrade(request.raw)
    if (pending === undefined) {
      forward(request, reply, target, settings, identityHeader)
      return
    }
    // New requests are refused on arrival (proxy/closing.ts); this is an upgrade whose session lookup
    // outlasted the start of shutdown: the relayed sockets have been ended, a new one would hold the close.
    if (isClosing()) {
      answerClosing(reply)
      return
    }
    if (!isForwardablePath(request.url)) {
      reply.send(new BadPathError())
      return
    }
    reply.hijack()
    relayUpgrade({
      request,
      response: reply.raw,
      pending,
      name,
      host: upstreamHost,
      port: upstreamPort,
      head: upgradeHeaders(request, settings.internalToken, identityHeader, settings.trustProxy, strip),
      sockets,
      upgradeTimeoutMs: deps.timeouts.upgradeMs,
      idleTimeoutMs: deps.timeouts.idleMs,
      onUpstreamError: (err) => {
        request.log.warn({ err, upstream: name }, 'websocket upstream unavailable')
        settings.metrics.upstreamError(name, 'unavailable')
      },
      onUpstreamTimeout: () => {
        request.log.warn({ upstream: name }, 'websocket upstream did not answer the upgrade in time')
        settings.metrics.upstreamError(name, 'timeout')
      }
    })
  }

  const rule = spec.auth === 'ticket' ? 'none' : spec.auth === 'agent' ? 'agent' : 'webSocketSession'
  const authenticator = new Authenticator(rule, deps.auth, { admit: relay })

  return function webSocketRouteHandler (request, reply) {
    request.metricsGroup = group
    authenticator.authenticate(request, reply)
  }
}
