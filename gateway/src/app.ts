import { once } from 'node:events'
import { REQUEST_ID_HEADER, busState, createRedis, installErrorHandling, redisState, redisTopologyOf, serverOptions, type Bus, type RedisClient, type RedisState, type RedisTopology } from '@weapp/common'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fp from 'fastify-plugin'
import { trustProxyList, type GatewayConfig } from './config.js'
import authPlugin from './plugins/auth.js'
import loginRateLimit from './plugins/login-rate-limit.js'
import metricsPlugin from './plugins/metrics.js'
import upstreamsPlugin from './plugins/upstreams.js'
import consoleStatic, { defaultConsoleDir } from './routes/console-static.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import proxyRoutes from './routes/proxy.js'
import { endRelayed, routeUpgrades, type RelayedSockets } from './proxy/upgrade.js'

export interface GatewayOptions {
  config: GatewayConfig
  /** Bus for `session.revoked` events; default createBus(redisTopologyOf(config)), closed with the app. */
  bus?: Bus
}

/** How long boot waits for a Redis that does not answer (rate limits) before going on without it. */
export const REDIS_READY_WAIT_MS = 5_000

/**
 * The rate limits' Redis. Boot waits a little for a Redis that is slow to answer, and not at all for
 * one that refuses: nothing the gateway serves needs Redis, so it starts (and /readyz says degraded)
 * while the client keeps reconnecting. Meanwhile the login limit fails open and the failed-auth
 * limit counts in process.
 */
async function connectRateLimitRedis (app: FastifyInstance, topology: RedisTopology): Promise<RedisClient> {
  // No offline queue: while Redis is away the limiters fall back at once instead of holding requests.
  const redis = createRedis(topology, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 }, { name: 'rate limits', log: app.log })
  app.addHook('onClose', async () => { await redis.quit().catch(() => { redis.disconnect() }) })
  const ac = new AbortController()
  const timer = setTimeout(() => { ac.abort() }, REDIS_READY_WAIT_MS)
  await Promise.race([once(redis, 'ready', { signal: ac.signal }), once(redis, 'error', { signal: ac.signal })]).catch(() => {})
  ac.abort()
  clearTimeout(timer)
  return redis
}

/**
 * The gateway as a plugin: the only public HTTP entry. Routes come from routes-table.ts; every
 * response carries `x-request-id`; errors use the common JSON shape with GATEWAY_* codes.
 */
async function gateway (app: FastifyInstance, opts: GatewayOptions): Promise<void> {
  const { config } = opts
  const trustProxy = trustProxyList(config.TRUST_PROXY) !== false
  let closing = false
  const isClosing = (): boolean => closing
  // Relayed WebSockets are ended (both sides) as soon as shutdown begins: they would hold server.close().
  const webSockets: RelayedSockets = new Map()
  app.addHook('preClose', async () => {
    closing = true
    await endRelayed(webSockets)
  })
  routeUpgrades(app)

  installErrorHandling(app)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id)
    done()
  })

  await app.register(metricsPlugin)
  await app.register(upstreamsPlugin, { config })
  const topology = redisTopologyOf(config)
  const redis = topology === undefined ? null : await connectRateLimitRedis(app, topology)
  await app.register(authPlugin, { config, redis, ...(opts.bus === undefined ? {} : { bus: opts.bus }) })
  // Before the routes: it attaches itself to the login routes (LOGIN_RATE_LIMITED in their config) as they are added.
  await app.register(loginRateLimit, { redis, max: config.LOGIN_RATE_LIMIT_MAX, windowMs: config.LOGIN_RATE_LIMIT_WINDOW_MS })
  // Redis as /readyz reports it: null when the gateway runs without (no Redis topology configured).
  const redisHealth = (): RedisState | null => {
    if (redis === null) return null
    return redisState(redis) === 'up' && busState(app.revocationBus) === 'up' ? 'up' : 'down'
  }

  await app.register(healthRoutes, { config, isClosing, redisHealth })
  await app.register(metricsRoutes, { token: config.METRICS_TOKEN, public: config.METRICS_PUBLIC })
  await app.register(proxyRoutes, { config, trustProxy, isClosing, webSockets })
  await app.register(consoleStatic, { dir: config.CONSOLE_DIR ?? defaultConsoleDir() })
}

export const gatewayApp = fp(gateway, { name: 'weapp-gateway', fastify: '5.x' })

/**
 * Server options: the common ones (timeouts, request ids, logging with per-request logs off unless
 * LOG_LEVEL is debug, request loggers made only when used), BODY_LIMIT, the trusted proxies, and no
 * built-in 503 while closing: the gateway answers that itself with GATEWAY_CLOSING.
 */
export function gatewayServerOptions (config: GatewayConfig): FastifyServerOptions {
  return {
    ...serverOptions({ service: 'gateway', logLevel: config.LOG_LEVEL, bodyLimit: config.BODY_LIMIT }),
    trustProxy: trustProxyList(config.TRUST_PROXY),
    return503OnClosing: false
  }
}

/** Builds a ready-to-listen gateway from a config object (server.ts and tests). */
export async function buildGateway (config: GatewayConfig, options: Omit<GatewayOptions, 'config'> = {}): Promise<FastifyInstance> {
  const app = Fastify(gatewayServerOptions(config))
  await app.register(gatewayApp, { config, ...options })
  return app
}
