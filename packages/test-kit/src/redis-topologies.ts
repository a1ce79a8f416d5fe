// The Redis topologies a Redis-backed suite runs against: the run's standalone server (REDIS_URL), a
// primary + replica + 3 sentinels, and a 3-master Cluster. The last two are started at most once per test
// file, when a test first asks for them, and stopped when the file's root test ends.
import { spawnSync } from 'node:child_process'
import type { RedisClient, RedisTopology } from '@weapp/common'
import { askRedis } from '../../../scripts/redis-server.js'
import { startRedisCluster, startRedisSentinel, type RedisClusterTopology, type RedisProcess, type RedisSentinelTopology } from '../../../scripts/redis-topologies.js'
import type { Teardown } from './teardown.js'

export { startRedisCluster, startRedisSentinel, type RedisClusterTopology, type RedisProcess, type RedisSentinelTopology }

export const REDIS_TOPOLOGY_NAMES = ['standalone', 'sentinel', 'cluster'] as const
export type RedisTopologyName = typeof REDIS_TOPOLOGY_NAMES[number]

/** The name Sentinel monitors the primary under (REDIS_SENTINEL_NAME). */
export const TEST_SENTINEL_NAME = 'weapp'

/** The environment a service is configured with to reach a topology (its config's REDIS_* variables). */
export type RedisTopologyEnvVars = Record<string, string>

export interface RedisTarget {
  name: RedisTopologyName
  /** Why this topology cannot run here (tap's `skip`), or false. */
  skip: string | false
  /** What createRedis takes; starts the servers on the first call (a rejected call is retried on the next). */
  topology: () => Promise<RedisTopology>
  /** The same topology as a service's REDIS_* environment. */
  env: () => Promise<RedisTopologyEnvVars>
  /**
   * Empties every data node of a topology this file started. The standalone server is shared by every
   * test file of the run, so flushing it is refused: tests there keep to keys of their own.
   */
  flush: () => Promise<void>
}

export interface RedisTargetsOptions {
  /** Default process.env: REDIS_URL and REDIS_TOPOLOGIES. */
  env?: NodeJS.ProcessEnv
}

const found = new Map<string, boolean>()
/** Asked once per process: every suite of a file asks for the same binaries. */
function installed (binary: string): boolean {
  let ok = found.get(binary)
  if (ok === undefined) {
    ok = spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0
    found.set(binary, ok)
  }
  return ok
}

/** REDIS_TOPOLOGIES=standalone (or any comma list of the names) runs fewer; unset runs all three. */
function chosenTopologies (env: NodeJS.ProcessEnv): Set<RedisTopologyName> {
  const value = env.REDIS_TOPOLOGIES
  if (value === undefined || value.trim() === '') return new Set(REDIS_TOPOLOGY_NAMES)
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const name of names) {
    if (!(REDIS_TOPOLOGY_NAMES as readonly string[]).includes(name)) throw new Error(`REDIS_TOPOLOGIES: unknown topology ${JSON.stringify(name)} (one of ${REDIS_TOPOLOGY_NAMES.join(', ')})`)
  }
  return new Set(names as RedisTopologyName[])
}

function skipReason (name: RedisTopologyName, chosen: Set<RedisTopologyName>, env: NodeJS.ProcessEnv): string | false {
  if (!chosen.has(name)) return `REDIS_TOPOLOGIES=${env.REDIS_TOPOLOGIES ?? ''} leaves out ${name}`
  if (name === 'standalone') return env.REDIS_URL === undefined || env.REDIS_URL === '' ? 'REDIS_URL is not set' : false
  const binaries = name === 'sentinel' ? ['redis-server', 'redis-sentinel'] : ['redis-server', 'redis-cli']
  const missing = binaries.filter((b) => !installed(b))
  return missing.length === 0 ? false : `${missing.join(' and ')} not installed (apt-get install redis-server redis-sentinel)`
}

/** FLUSHALL on every node that takes writes; replicas follow their primary (and refuse it themselves). */
async function flushNodes (nodes: RedisProcess[]): Promise<void> {
  const replies = await Promise.all(nodes.map(async (n) => await askRedis(n.port, 'FLUSHALL')))
  if (!replies.some((r) => r.startsWith('+OK'))) throw new Error(`redis topology: no node took FLUSHALL (${replies.join(' | ').trim()})`)
}

/** Memoises a start; a failed start is forgotten so the next test tries again (and reports its own error). */
function lazily<T> (start: () => Promise<T>): { get: () => Promise<T>, started: () => Promise<T> | undefined } {
  let running: Promise<T> | undefined
  return {
    get: async () => {
      running ??= start().catch((err: unknown) => { running = undefined; throw err })
      return await running
    },
    started: () => running
  }
}

function standaloneTarget (env: NodeJS.ProcessEnv, skip: string | false): RedisTarget {
  const url = (): string => {
    if (env.REDIS_URL === undefined || env.REDIS_URL === '') throw new Error('REDIS_URL is not set')
    return env.REDIS_URL
  }
  return {
    name: 'standalone',
    skip,
    topology: async () => ({ kind: 'standalone', url: url() }),
    env: async () => ({ REDIS_URL: url() }),
    flush: async () => { throw new Error('the standalone REDIS_URL is shared by every test file of the run: delete your own keys instead of flushing it') }
  }
}

function sentinelTarget (t: Teardown, skip: string | false): RedisTarget {
  const servers = lazily(async () => await startRedisSentinel(TEST_SENTINEL_NAME))
  t.teardown(async () => { await (await servers.started()?.catch(() => undefined))?.stop() })
  return {
    name: 'sentinel',
    skip,
    topology: async () => {
      const { sentinels } = await servers.get()
      return { kind: 'sentinel', sentinels: sentinels.map(({ host, port }) => ({ host, port })), name: TEST_SENTINEL_NAME, db: 0, tls: false }
    },
    env: async () => ({ REDIS_SENTINELS: (await servers.get()).sentinelList, REDIS_SENTINEL_NAME: TEST_SENTINEL_NAME }),
    flush: async () => {
      const { primary, replica } = await servers.get()
      await flushNodes([primary, replica])
    }
  }
}

function clusterTarget (t: Teardown, skip: string | false): RedisTarget {
  const servers = lazily(startRedisCluster)
  t.teardown(async () => { await (await servers.started()?.catch(() => undefined))?.stop() })
  return {
    name: 'cluster',
    skip,
    topology: async () => ({ kind: 'cluster', nodes: (await servers.get()).masters.map(({ host, port }) => ({ host, port })), tls: false }),
    env: async () => ({ REDIS_CLUSTER_NODES: (await servers.get()).nodeList }),
    flush: async () => { await flushNodes((await servers.get()).masters) }
  }
}

/**
 * One target per topology, in the order standalone, sentinel, cluster; call it once per test file with
 * the file's root `t` (its teardown stops the servers started for the file). Loop over the targets around
 * the tests: `for (const target of redisTargets(t)) t.test(target.name, { skip: target.skip }, …)`.
 */
export function redisTargets (t: Teardown, { env = process.env }: RedisTargetsOptions = {}): RedisTarget[] {
  const chosen = chosenTopologies(env)
  return [
    standaloneTarget(env, skipReason('standalone', chosen, env)),
    sentinelTarget(t, skipReason('sentinel', chosen, env)),
    clusterTarget(t, skipReason('cluster', chosen, env))
  ]
}

/** A Cluster client's masters, or the one server (Sentinel's primary): where a node-wide command goes. */
function dataNodes (redis: RedisClient): Array<Pick<RedisClient, 'keys' | 'script'>> {
  return 'nodes' in redis && typeof redis.nodes === 'function' ? redis.nodes('master') : [redis]
}

/** KEYS on every master: a Cluster client sends KEYS to one node, which knows only its own slots. */
export async function redisKeys (redis: RedisClient, pattern: string): Promise<string[]> {
  return (await Promise.all(dataNodes(redis).map(async (node) => await node.keys(pattern)))).flat()
}

/** Deletes every key matching `pattern`, one DEL per key (keys of several slots cannot share one). */
export async function deleteRedisKeys (redis: RedisClient, pattern: string): Promise<void> {
  await Promise.all((await redisKeys(redis, pattern)).map(async (key) => await redis.del(key)))
}

/** SCRIPT FLUSH on every master, so a script's next call meets NOSCRIPT wherever its keys live. */
export async function flushRedisScripts (redis: RedisClient): Promise<void> {
  await Promise.all(dataNodes(redis).map(async (node) => await node.script('FLUSH')))
}
