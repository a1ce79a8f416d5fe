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

/** A client of any topology: one server or Sentinel (`Redis`), or a Cluster. Components take this. */
export type RedisClient = Redis | Cluster

/** ioredis's options, plus the Cluster's sharded pub/sub subscribers (ignored by one server and Sentinel). */
export type RedisClientOptions = RedisOptions & { shardedSubscribers?: boolean }

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

function isSentinelClient (client: Redis): boolean {
  return Array.isArray(client.options.sentinels) && client.options.sentinels.length > 0
}

/** How long a Sentinel client that ended on its own waits before connecting again (attempt n). */
function sentinelRestartDelayMs (attempt: number): number {
  return Math.min(attempt * 100, 2000)
}

/**
 * ioredis 5 ends a Sentinel client for good when the failover detector of a lost connection sees
 * +switch-master while the client is reconnecting: its disconnect() marks the connector closed, the
 * connect in progress rejects with "Connection is closed." and the client's status becomes `end`, with
 * no retry (after a SIGKILLed primary, a service's queue, WAIT, worker or bus connection stayed down
 * until a restart). So an `end` that quit()/disconnect() did not ask for connects again, with back-off.
 * One they asked for also ends the detector's connections to the sentinels, which QUIT leaves open
 * (they would keep the process alive and reconnect for ever once the sentinels are gone).
 */
function keepSentinelClient (client: Redis): Redis {
  let closing = false
  let restarts = 0
  const { quit, disconnect } = client
  client.quit = function (this: Redis, ...args: unknown[]) {
    closing = true
    return (quit as (...a: unknown[]) => unknown).apply(this, args)
  } as Redis['quit']
  // disconnect(true) is ioredis reconnecting (READONLY…), not the owner closing the client.
  client.disconnect = function (this: Redis, reconnect = false) {
    if (!reconnect) closing = true
    disconnect.call(this, reconnect)
  }
  client.on('ready', () => { restarts = 0 })
  client.on('end', () => {
    if (closing) {
      disconnect.call(client)
      return
    }
    setTimeout(() => {
      if (!closing && client.status === 'end') client.connect().catch(() => {})
    }, sentinelRestartDelayMs(++restarts)).unref()
  })
  return client
}

function createCluster (topology: ClusterTopology, options: RedisClientOptions): Cluster {
  const { enableAutoPipelining, enableOfflineQueue, retryStrategy, shardedSubscribers, ...nodeOptions } = { ...DEFAULTS, ...options }
  const clusterOptions: ClusterOptions = {
    enableAutoPipelining,
    ...(shardedSubscribers === true ? { shardedSubscribers } : {}),
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
export function createRedis (target: string | StandaloneTopology | SentinelTopology, options?: RedisClientOptions, watch?: RedisWatchOptions): Redis
export function createRedis (target: ClusterTopology, options?: RedisClientOptions, watch?: RedisWatchOptions): Cluster
export function createRedis (target: string | RedisTopology, options?: RedisClientOptions, watch?: RedisWatchOptions): Redis | Cluster
export function createRedis (target: string | RedisTopology, options: RedisClientOptions = {}, watch: RedisWatchOptions = {}): Redis | Cluster {
  let redis: Redis | Cluster
  if (typeof target === 'string' || target.kind === 'standalone') {
    const { shardedSubscribers: _, ...redisOptions } = options
    redis = new Redis(typeof target === 'string' ? target : target.url, { ...DEFAULTS, ...redisOptions })
  } else if (target.kind === 'sentinel') {
    const { shardedSubscribers: _, ...redisOptions } = options
    redis = keepSentinelClient(new Redis({ ...DEFAULTS, ...sentinelOptions(target), ...redisOptions }))
  } else {
    redis = createCluster(target, options)
  }
  watchRedis(redis, watch)
  return redis
}

/**
 * A new connection like `client` (same topology and credentials) with `options` over its settings, as
 * ioredis's duplicate() makes; a Cluster takes its per-node settings (commandTimeout…) in redisOptions,
 * its queueing and pipelining at the top. Not watched: the caller listens for 'error' and closes it.
 */
export function duplicateRedis (client: RedisClient, options: RedisOptions = {}): RedisClient {
  if (!(client instanceof Cluster)) {
    const copy = client.duplicate(options)
    return isSentinelClient(copy) ? keepSentinelClient(copy) : copy
  }
  const { enableOfflineQueue, enableAutoPipelining, ...nodeOptions } = options
  return client.duplicate([], {
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    redisOptions: { ...client.options.redisOptions, ...nodeOptions }
  })
}

/** Whether a client can take commands now. */
export function redisState (redis: Redis | Cluster): RedisState {
  return redis.status === 'ready' ? 'up' : 'down'
}
