import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { acceptEmptyJsonBody, busPlugin, installErrorHandling, redisTopologyOf, internalAuthPlugin, serverOptions, trustProxyList, type Bus, type Clock } from '@weapp/common'
import type { RealtimeConfig } from './config.js'
import configPlugin from './plugins/config.js'
import redisPlugin from './plugins/redis.js'
import metricsPlugin from './plugins/metrics.js'
import ticketsPlugin from './plugins/tickets.js'
import nicknamePlugin from './plugins/nickname.js'
import hubPlugin from './plugins/hub.js'
import revocationPlugin from './plugins/revocation.js'
import consolePlugin from './plugins/console.js'
import sessionAuthPlugin from './plugins/session-auth.js'
import upgradeRefusalsPlugin from './plugins/upgrade-refusals.js'
import healthRoutes from './routes/health.js'
import metricsRoutes from './routes/metrics.js'
import apiRoutes from './routes/api.js'
import wsRoutes from './routes/ws.js'
import tunnelRoutes from './routes/tunnel.js'
import busHubRoutes, { localBusHub, type BusHub } from './routes/bus-hub.js'
import consoleWsRoutes from './routes/console-ws.js'
import type { NicknameLookup } from './hub/nickname.js'

export const SERVICE_NAME = 'realtime-ws'
/** The only bodies this service accepts are empty ticket requests. */
export const BODY_LIMIT = 4 * 1024

export interface RealtimeAppOptions {
  config: RealtimeConfig
  /** The current time in ms (in-memory ticket expiry, session ends). */
  clock?: Clock
  /** Use this bus instead of creating one (tests); closed by its owner. */
  bus?: Bus
  /** Without a Redis topology and `bus`: serve this bus hub (tests: lower bounds) instead of a default one. */
  busHub?: BusHub
  /** Name the greeting uses; default: the session service's GET /api/me. */
  nickname?: NicknameLookup
}

export function realtimeServerOptions (config: Pick<RealtimeConfig, 'LOG_LEVEL' | 'TRUST_PROXY'>): FastifyServerOptions {
  // TRUST_PROXY: the client address of an upgrade nginx sends straight here (the failed-lookup limit's key).
  return { ...serverOptions({ service: SERVICE_NAME, logLevel: config.LOG_LEVEL, bodyLimit: BODY_LIMIT }), trustProxy: trustProxyList(config.TRUST_PROXY) }
}

/**
 * The realtime service as a plugin: register it (wrapped in fastify-plugin, so the error handler applies
 * to everything, upgrade refusals included) on an instance made with realtimeServerOptions().
 */
export default async function realtimeApp (app: FastifyInstance, opts: RealtimeAppOptions): Promise<void> {
  installErrorHandling(app)

  acceptEmptyJsonBody(app)

  await app.register(configPlugin, { config: opts.config, ...(opts.clock !== undefined ? { clock: opts.clock } : {}) })
  await app.register(internalAuthPlugin, { internalToken: opts.config.INTERNAL_TOKEN })
  await app.register(upgradeRefusalsPlugin)
  await app.register(redisPlugin)
  // Without Redis this process is the stack's bus: its own bus is the hub's local side (routes/bus-hub.ts).
  const busHub = localBusHub({ redis: redisTopologyOf(opts.config), bus: opts.bus, busHub: opts.busHub }, app.log)
  const bus = opts.bus ?? busHub
  await app.register(busPlugin, { redis: redisTopologyOf(opts.config), ...(bus !== undefined ? { bus } : {}) })
  await app.register(metricsPlugin)
  await app.register(ticketsPlugin)
  await app.register(nicknamePlugin, { ...(opts.nickname !== undefined ? { lookup: opts.nickname } : {}) })
  await app.register(hubPlugin)
  await app.register(revocationPlugin)
  await app.register(consolePlugin)
  await app.register(sessionAuthPlugin)

  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(apiRoutes, { prefix: '/api' })
  await app.register(wsRoutes)
  await app.register(tunnelRoutes)
  if (busHub !== undefined) await app.register(busHubRoutes, { hub: busHub, internalToken: opts.config.INTERNAL_TOKEN, heartbeatIntervalMs: opts.config.HEARTBEAT_INTERVAL_MS })
  await app.register(consoleWsRoutes)
}
