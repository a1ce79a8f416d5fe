import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import { pino } from 'pino'
import { loggerOptions } from './logger.js'
import type { ClusterTopology, RedisTopology, SentinelTopology, StandaloneTopology } from './redis-topology.js'

/**
 * How long a command may wait for its answer (queued while reconnecting included) before it fails with
 * "Command timed out": a Redis that stops answering must not hold requests for ever. Blocking reads
 * (XREADGROUP BLOCK) must block for less, or pass a longer `commandTimeout`.
 */
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000

/** Where a client's state changes are logged: a Fastify/pino logger fits. */
export interface RedisStateLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface RedisWatchOptions {
  /** Names the client in its log lines (`rate limit`, `bus subscriber`…). Default `redis`. */
  name?: string
  /** Default: a pino logger of its own (service `redis`, LOG_LEVEL or info). */
  log?: RedisStateLog
}

/** `up`: connected and ready for commands; `down`: connecting, reconnecting or closed. */
export type RedisState = 'up' | 'down'

let fallbackLog: RedisStateLog | undefined
function defaultLog (): RedisStateLog {
  fallbackLog ??= pino(loggerOptions('redis', process.env.LOG_LEVEL ?? 'info'))
  return fallbackLog
}

/**
 * Logs a client's availability once per change: the first error of an outage (ioredis emits one per
 * reconnect attempt) and the first `ready` after it. The listener also keeps ioredis from printing
 * "[ioredis] Unhandled error event" with a stack trace on every attempt. Error messages carry the
 * address, never the URL's password.
 */
function watchRedis (redis: Redis | Cluster, { name = 'redis', log = defaultLog() }: RedisWatchOptions): void {
  let down = false
  redis.on('error', (err: Error & { code?: string }) => {
    if (down) return
    down = true
    log.warn({ redis: name, err: { message: err.message, code: err.code } }, `redis (${name}) unreachable; reconnecting`)
  })
  redis.on('ready', () => {
    if (!down) return
    down = false
    log.info({ redis: name }, `redis (${name}) reachable again`)
  })
}

/** What every client gets unless `options` says otherwise. */
const DEFAULTS = {
  enableAutoPipelining: true,
  maxRetriesPerRequest: 3,
  retryStrategy: (times: number) => Math.min(times * 100, 2000),
  commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT_MS
} satisfies RedisOptions

/**
 * A demoted primary answers writes with READONLY until the client finds the new one: reconnect (and
 * resend the command, `2`) instead of failing every write until the next connection error.
 */
function reconnectOnReadOnly (err: Error): 2 | false {
  return err.message.startsWith('READONLY') ? 2 : false
}

function sentinelOptions (topology: SentinelTopology): RedisOptions {
  return {
    sentinels: topology.sentinels,
    name: topology.name,
    db: topology.db,
    ...(topology.username === undefined ? {} : { username: topology.username }),
    ...(topology.password === undefined ? {} : { password: topology.password }),
    ...(topology.sentinelPassword === undefined ? {} : { sentinelPassword: topology.sentinelPassword }),
    ...(topology.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    // Subscribes to the sentinels' +switch-master: a failover is noticed at once, not at the next error.
    failoverDetector: true,
    sentinelRetryStrategy: (times: number) => Math.min(times * 100, 2000),
    reconnectOnError: reconnectOnReadOnly
  }
}

function createCluster (topology: ClusterTopology, options: RedisOptions): Cluster {
  const { enableAutoPipelining, enableOfflineQueue, retryStrategy, ...nodeOptions } = { ...DEFAULTS, ...options }
  const clusterOptions: ClusterOptions = {
    enableAutoPipelining,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(typeof retryStrategy === 'function' ? { clusterRetryStrategy: (times: number) => retryStrategy(times) } : {}),
    // With TLS the nodes' certificates name hosts, not the IPs CLUSTER SLOTS returns: keep the names.
    ...(topology.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => { callback(null, address) } } : {}),
    redisOptions: {
      ...nodeOptions,
      ...(topology.username === undefined ? {} : { username: topology.username }),
      ...(topology.password === undefined ? {} : { password: topology.password }),
      ...(topology.tls ? { tls: {} } : {}),
      reconnectOnError: reconnectOnReadOnly
    }
  }
  return new Cluster(topology.nodes, clusterOptions)
}

/**
 * A Redis client with the settings every service wants: auto-pipelining (concurrent commands share
 * round trips), bounded reconnect back-off, a command timeout (DEFAULT_REDIS_COMMAND_TIMEOUT_MS), and
 * an error listener that logs once per state change. `target` is a URL (one server) or a topology
 * (redis-topology.ts: one server, Sentinel, Cluster); a Cluster topology gives an ioredis Cluster.
 * `options` override the settings. The caller owns the client and must quit() it on close.
 */
export function createRedis (target: string | StandaloneTopology | SentinelTopology, options?: RedisOptions, watch?: RedisWatchOptions): Redis
export function createRedis (target: ClusterTopology, options?: RedisOptions, watch?: RedisWatchOptions): Cluster
export function createRedis (target: string | RedisTopology, options?: RedisOptions, watch?: RedisWatchOptions): Redis | Cluster
export function createRedis (target: string | RedisTopology, options: RedisOptions = {}, watch: RedisWatchOptions = {}): Redis | Cluster {
  let redis: Redis | Cluster
  if (typeof target === 'string' || target.kind === 'standalone') {
    redis = new Redis(typeof target === 'string' ? target : target.url, { ...DEFAULTS, ...options })
  } else if (target.kind === 'sentinel') {
    redis = new Redis({ ...DEFAULTS, ...sentinelOptions(target), ...options })
  } else {
    redis = createCluster(target, options)
  }
  watchRedis(redis, watch)
  return redis
}

/** Whether a client can take commands now. */
export function redisState (redis: Redis | Cluster): RedisState {
  return redis.status === 'ready' ? 'up' : 'down'
}
