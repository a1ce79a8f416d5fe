import { ConfigInvalidError } from './errors.js'

/**
 * Where a service's Redis is: one server (REDIS_URL), a primary watched by Sentinel (failover), or a
 * Redis Cluster. Parsed once from the environment; createRedis connects to any of them.
 */
export type RedisTopology = StandaloneTopology | SentinelTopology | ClusterTopology

export interface HostPort { host: string, port: number }

/** What every topology may need to log in and encrypt: from the URL or from REDIS_USERNAME/PASSWORD/TLS. */
export interface RedisAuth {
  username?: string
  password?: string
  /** TLS to the data nodes (`rediss://`, `REDIS_TLS=true`). */
  tls: boolean
}

export interface StandaloneTopology {
  kind: 'standalone'
  /** `redis://` or `rediss://`, handed to ioredis as it is. */
  url: string
}

export interface SentinelTopology extends RedisAuth {
  kind: 'sentinel'
  sentinels: HostPort[]
  /** The monitored master's name (`sentinel monitor <name> …`). */
  name: string
  /** The sentinels' own password, when they have one (`requirepass` in sentinel.conf). */
  sentinelPassword?: string
  db: number
}

export interface ClusterTopology extends RedisAuth {
  kind: 'cluster'
  /** Seed nodes; the client discovers the rest with CLUSTER SLOTS. */
  nodes: HostPort[]
}

/** The variables that choose the topology (in the services' config schemas through CommonEnv). */
export interface RedisTopologyEnv {
  REDIS_URL?: string
  REDIS_SENTINELS?: string
  REDIS_SENTINEL_NAME?: string
  REDIS_SENTINEL_PASSWORD?: string
  REDIS_CLUSTER_NODES?: string
  REDIS_USERNAME?: string
  REDIS_PASSWORD?: string
  REDIS_TLS?: boolean
}

const SENTINEL_SCHEME = 'redis+sentinel:'
const SENTINEL_TLS_SCHEME = 'rediss+sentinel:'
const DEFAULT_SENTINEL_PORT = 26379
const DEFAULT_REDIS_PORT = 6379

/** `host:port,host:port` (IPv6 as `[::1]:port`); a missing port takes `defaultPort`. */
export function parseHostList (variable: string, value: string, defaultPort: number): HostPort[] {
  const hosts = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (hosts.length === 0) throw new ConfigInvalidError(`${variable} must list at least one host:port`)
  return hosts.map((entry) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(entry)
    const port = match?.[3] === undefined ? defaultPort : Number(match[3])
    if (match === null || port < 1 || port > 65535) throw new ConfigInvalidError(`${variable} has an entry that is not host:port (${JSON.stringify(entry.slice(0, 64))})`)
    return { host: match[1] ?? match[2] ?? '', port }
  })
}

/**
 * `redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/<master name>[/<db>]`, or
 * `rediss+sentinel://…` for TLS; the password is the data nodes' (sentinels take
 * REDIS_SENTINEL_PASSWORD). WHATWG URL cannot hold several hosts, so the URL is split by hand.
 */
function parseSentinelUrl (url: string): Omit<SentinelTopology, 'sentinelPassword'> {
  const tls = url.startsWith(SENTINEL_TLS_SCHEME)
  const rest = url.slice((tls ? SENTINEL_TLS_SCHEME : SENTINEL_SCHEME).length + 2)
  const at = rest.lastIndexOf('@', rest.indexOf('/') === -1 ? rest.length : rest.indexOf('/'))
  const credentials = at === -1 ? '' : rest.slice(0, at)
  const [hostPart = '', name = '', db = '0', ...extra] = rest.slice(at + 1).split('/')
  if (name === '' || extra.length > 0 || !/^\d{1,2}$/.test(db)) {
    throw new ConfigInvalidError('REDIS_URL: a redis+sentinel:// URL is redis+sentinel://[user:password@]host:port[,host:port…]/<master name>[/<db>]')
  }
  const colon = credentials.indexOf(':')
  const username = decodeURIComponent(colon === -1 ? credentials : credentials.slice(0, colon))
  const password = colon === -1 ? '' : decodeURIComponent(credentials.slice(colon + 1))
  return {
    kind: 'sentinel',
    sentinels: parseHostList('REDIS_URL', hostPart, DEFAULT_SENTINEL_PORT),
    name: decodeURIComponent(name),
    db: Number(db),
    tls,
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password })
  }
}

/**
 * The configured topology, or undefined when none is (the embedded in-process default). Exactly one of
 * REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES may be set; two is a configuration error, not a
 * guess. REDIS_USERNAME/REDIS_PASSWORD/REDIS_TLS apply to the list forms (a URL carries its own).
 */
export function redisTopologyFromEnv (env: RedisTopologyEnv): RedisTopology | undefined {
  const set = (['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const).filter((k) => env[k] !== undefined && env[k] !== '')
  if (set.length > 1) throw new ConfigInvalidError(`set one of ${set.join(', ')}: each names a whole Redis topology`)
  const auth: RedisAuth = {
    tls: env.REDIS_TLS === true,
    ...(env.REDIS_USERNAME === undefined || env.REDIS_USERNAME === '' ? {} : { username: env.REDIS_USERNAME }),
    ...(env.REDIS_PASSWORD === undefined || env.REDIS_PASSWORD === '' ? {} : { password: env.REDIS_PASSWORD })
  }
  const sentinelPassword = env.REDIS_SENTINEL_PASSWORD === undefined || env.REDIS_SENTINEL_PASSWORD === '' ? {} : { sentinelPassword: env.REDIS_SENTINEL_PASSWORD }
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== '') {
    const url = env.REDIS_URL
    if (url.startsWith(SENTINEL_SCHEME) || url.startsWith(SENTINEL_TLS_SCHEME)) return { ...parseSentinelUrl(url), ...sentinelPassword }
    if (!/^rediss?:\/\//.test(url)) throw new ConfigInvalidError('REDIS_URL must start with redis://, rediss://, redis+sentinel:// or rediss+sentinel://')
    return { kind: 'standalone', url }
  }
  if (env.REDIS_SENTINELS !== undefined && env.REDIS_SENTINELS !== '') {
    if (env.REDIS_SENTINEL_NAME === undefined || env.REDIS_SENTINEL_NAME === '') throw new ConfigInvalidError('REDIS_SENTINELS needs REDIS_SENTINEL_NAME, the monitored master\'s name')
    return { kind: 'sentinel', sentinels: parseHostList('REDIS_SENTINELS', env.REDIS_SENTINELS, DEFAULT_SENTINEL_PORT), name: env.REDIS_SENTINEL_NAME, db: 0, ...auth, ...sentinelPassword }
  }
  if (env.REDIS_CLUSTER_NODES !== undefined && env.REDIS_CLUSTER_NODES !== '') {
    return { kind: 'cluster', nodes: parseHostList('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES, DEFAULT_REDIS_PORT), ...auth }
  }
  return undefined
}

/** For logs and /healthz: the topology without any password. */
export function describeRedisTopology (topology: RedisTopology): string {
  const list = (hosts: HostPort[]): string => hosts.map((h) => (h.host.includes(':') ? `[${h.host}]` : h.host) + `:${h.port}`).join(',')
  switch (topology.kind) {
    case 'standalone': {
      const url = new URL(topology.url)
      return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`
    }
    case 'sentinel': return `sentinel ${topology.name} via ${list(topology.sentinels)}${topology.tls ? ' (tls)' : ''}`
    case 'cluster': return `cluster via ${list(topology.nodes)}${topology.tls ? ' (tls)' : ''}`
  }
}

/**
 * Whether the topology is known, from its configuration alone, to keep a replica of every write (so
 * `WAIT` can be the default): Sentinel always watches a primary with replicas. A Cluster may or may not
 * give its masters replicas (configuration cannot tell, and a replica-less Cluster would refuse every
 * push waiting for one), and one server has none unless given some outside our knowledge: for those
 * the caller asks explicitly.
 */
export function topologyHasReplicas (topology: RedisTopology): boolean {
  return topology.kind === 'sentinel'
}
