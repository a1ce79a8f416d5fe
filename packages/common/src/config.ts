import { Ajv, type ErrorObject } from 'ajv'
import Type, { type Static, type TObject, type TProperties } from 'typebox'
import { ConfigInvalidError } from './errors.js'
import { describeRedisTopology, redisTopologyFromEnv, type RedisTopology, type RedisTopologyEnv } from './redis-topology.js'
import { readSecretFile } from './secret-file.js'
import { SECRET_HINT, secretProblems } from './secrets.js'
import { VALIDATE_SCHEMAS } from './schema-checks.js'

/**
 * Variables every service reads. Secrets may also come from a file named by `<NAME>_FILE`
 * (Docker/Kubernetes secrets), so they need not sit in the environment. `secret` marks what
 * loadConfig checks as a secret (secrets.ts).
 */
export const CommonEnv = {
  HOST: Type.String({ default: '127.0.0.1' }),
  LOG_LEVEL: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], { default: 'info' }),
  /** Shared secret between the gateway and the services behind it. */
  INTERNAL_TOKEN: Type.String({ minLength: 32, secret: true }),
  /**
   * One Redis server (`redis://`, `rediss://`) or Sentinel (`redis+sentinel://host:port,…/<master name>`).
   * None of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES: the embedded in-process implementations.
   */
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?(\\+sentinel)?://', maxLength: 4096, secret: 'url' })),
  /** Sentinel: the sentinels as `host:port,host:port` (with REDIS_SENTINEL_NAME). */
  REDIS_SENTINELS: Type.Optional(Type.String({ maxLength: 4096 })),
  /** The master the sentinels monitor (`sentinel monitor <name> …`). */
  REDIS_SENTINEL_NAME: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  /** The sentinels' own password (`requirepass` in sentinel.conf), when they have one. */
  REDIS_SENTINEL_PASSWORD: Type.Optional(Type.String({ maxLength: 1024, secret: true })),
  /** Redis Cluster: seed nodes as `host:port,host:port`; the others are discovered. */
  REDIS_CLUSTER_NODES: Type.Optional(Type.String({ maxLength: 4096 })),
  /** ACL user and password of the data nodes, for REDIS_SENTINELS and REDIS_CLUSTER_NODES (a URL carries its own). */
  REDIS_USERNAME: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  REDIS_PASSWORD: Type.Optional(Type.String({ maxLength: 1024, secret: true })),
  /** TLS to the data nodes (and the sentinels) for REDIS_SENTINELS and REDIS_CLUSTER_NODES. */
  REDIS_TLS: Type.Optional(Type.Boolean()),
  /**
   * Without a Redis topology: the bus hub realtime-ws serves (ws://<realtime-ws>/internal/bus), so this process's
   * events meet the others'. Absent too: an in-process bus (this process alone). realtime-ws ignores it:
   * without Redis it is the hub.
   */
  BUS_HUB_URL: Type.Optional(Type.String({ pattern: '^wss?://[^\\s]+$' })),
  /** How long shutdown may take before the process is stopped anyway. */
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10000 })
} satisfies TProperties

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, strict: false, validateSchema: VALIDATE_SCHEMAS })

function variableOf (e: ErrorObject): string {
  return e.keyword === 'required' ? String(e.params.missingProperty) : e.instancePath.replace(/^\//, '')
}

function describe (e: ErrorObject): string {
  if (e.keyword === 'required') return `${variableOf(e)} is required`
  return `${variableOf(e)} ${e.message ?? 'is invalid'}`
}

/**
 * Validates the environment against a schema, applies defaults and coerces numbers and booleans,
 * and refuses weak secrets (the variables marked `secret`: secrets.ts).
 * Throws COMMON_CONFIG_INVALID naming every missing or bad variable, never their values.
 */
export function loadConfig<T extends TObject> (schema: T, env: NodeJS.ProcessEnv = process.env): Static<T> {
  const input: Record<string, unknown> = {}
  const problems: string[] = []
  for (const key of Object.keys(schema.properties)) {
    const direct = env[key]
    const file = env[`${key}_FILE`]
    if (direct !== undefined && direct !== '') {
      input[key] = direct
    } else if (file !== undefined && file !== '') {
      let content: string | undefined
      try {
        content = readSecretFile(file)
      } catch {
        problems.push(`${key}_FILE names a file that cannot be read`)
      }
      // An empty file is an unset variable, as an empty one is (a compose secret that must exist, left empty).
      if (content !== undefined && content !== '') input[key] = content
    }
  }
  const validate = ajv.compile(schema)
  const errors = validate(input) ? [] : validate.errors ?? []
  problems.push(...errors.map(describe))
  // After validation: defaults decide some allowances (WECHAT_API_BASE); malformed values are reported once.
  const weak = secretProblems(schema.properties, input, new Set(errors.map(variableOf)))
  if (weak.length > 0) problems.push(...weak, SECRET_HINT)
  if ('REDIS_URL' in schema.properties && problems.length === 0) {
    // Parsed once here, so a topology that cannot be (two of them, a bad host list) stops boot.
    try {
      topologies.set(input, redisTopologyFromEnv(input as RedisTopologyEnv) ?? null)
    } catch (err) {
      problems.push((err as Error).message.replace(/^Invalid configuration: /, ''))
    }
  }
  if (problems.length > 0) throw new ConfigInvalidError(problems.join('; '))
  return input as Static<T>
}

/** The topology of each configuration loadConfig returned: parsed once, at load. */
const topologies = new WeakMap<object, RedisTopology | null>()

/**
 * The Redis topology a service's configuration names (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES
 * with their credentials), or undefined for none (embedded mode): what every plugin connects to with
 * createRedis. A configuration built by hand (tests) is parsed on first use.
 */
export function redisTopologyOf (config: RedisTopologyEnv): RedisTopology | undefined {
  let topology = topologies.get(config)
  if (topology === undefined) {
    topology = redisTopologyFromEnv(config) ?? null
    topologies.set(config, topology)
  }
  return topology ?? undefined
}

/** For a service's "ready" log line: where its Redis is (no password), or false in embedded mode. */
export function redisDescriptionOf (config: RedisTopologyEnv): string | false {
  const topology = redisTopologyOf(config)
  return topology === undefined ? false : describeRedisTopology(topology)
}
