// Real Redis topologies for tests, from Debian's redis-server/redis-sentinel/redis-cli on free loopback
// ports: a primary with a replica watched by three sentinels (failover), and a three-master Cluster.
// Each server runs in a throw-away directory with no persistence; stop() ends every process it started.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { askRedis, freePort, pong } from './redis-server.js'

const execFileAsync = promisify(execFile)

export interface HostPort { host: string, port: number }

/** One server process of a topology; kill() is for failover tests (SIGKILL: no clean shutdown). */
export interface RedisProcess extends HostPort {
  kill: (signal?: NodeJS.Signals) => Promise<void>
}

export interface RedisSentinelTopology {
  /** The monitored master's name (`REDIS_SENTINEL_NAME`). */
  name: string
  primary: RedisProcess
  replica: RedisProcess
  sentinels: RedisProcess[]
  /** `host:port,…` of the sentinels, as `REDIS_SENTINELS` takes it. */
  sentinelList: string
  stop: () => Promise<void>
}

export interface RedisClusterTopology {
  masters: RedisProcess[]
  /** `host:port,…` of the masters, as `REDIS_CLUSTER_NODES` takes it. */
  nodeList: string
  stop: () => Promise<void>
}

const HOST = '127.0.0.1'

async function until (what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`redis topology: timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** Starts one redis-server (or redis-sentinel) with a config file in its own directory. */
async function startProcess (binary: 'redis-server' | 'redis-sentinel', config: string[], dirs: string[]): Promise<RedisProcess & { child: ChildProcess }> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), `weapp-${binary}-`))
  dirs.push(dir)
  const file = join(dir, 'redis.conf')
  writeFileSync(file, [`port ${port}`, `bind ${HOST}`, `dir ${dir}`, 'save ""', 'appendonly no', ...config].join('\n') + '\n')
  const child = spawn(binary, [file], { stdio: 'ignore' })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  await until(`${binary} on port ${port}`, async () => await pong(port))
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill(signal)
    await exited
  }
  return { host: HOST, port, child, kill }
}

function stopper (processes: RedisProcess[], dirs: string[]): () => Promise<void> {
  return async () => {
    await Promise.all(processes.map(async (p) => { await p.kill('SIGKILL') }))
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * A primary, one replica and three sentinels (quorum 2) that declare the primary down after 1 s, so a
 * SIGKILL of the primary is followed by a promotion within a few seconds.
 */
export async function startRedisSentinel (name = 'weapp'): Promise<RedisSentinelTopology> {
  const dirs: string[] = []
  const started: RedisProcess[] = []
  try {
    const primary = await startProcess('redis-server', [], dirs)
    started.push(primary)
    const replica = await startProcess('redis-server', [`replicaof ${HOST} ${primary.port}`], dirs)
    started.push(replica)
    await until('the replica to sync', async () => (await askRedis(replica.port, 'INFO replication')).includes('master_link_status:up'))
    const sentinels = await Promise.all([0, 1, 2].map(async () => {
      const sentinel = await startProcess('redis-sentinel', [
        `sentinel monitor ${name} ${HOST} ${primary.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`
      ], dirs)
      started.push(sentinel)
      return sentinel
    }))
    // Sentinels find each other and the replica through the primary's hello channel.
    await until('the sentinels to see each other', async () => {
      const replies = await Promise.all(sentinels.map(async (s) => await askRedis(s.port, 'INFO sentinel')))
      return replies.every((r) => /sentinels=3/.test(r) && /slaves=1/.test(r))
    })
    return {
      name,
      primary,
      replica,
      sentinels,
      sentinelList: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      stop: stopper(started, dirs)
    }
  } catch (err) {
    await stopper(started, dirs)()
    throw err
  }
}

/** Three masters, no replicas, all 16,384 slots assigned (`redis-cli --cluster create`). */
export async function startRedisCluster (): Promise<RedisClusterTopology> {
  const dirs: string[] = []
  const masters: RedisProcess[] = []
  try {
    await Promise.all([0, 1, 2].map(async () => {
      masters.push(await startProcess('redis-server', ['cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000'], dirs))
    }))
    const nodeList = masters.map((m) => `${m.host}:${m.port}`)
    await execFileAsync('redis-cli', ['--cluster', 'create', ...nodeList, '--cluster-replicas', '0', '--cluster-yes'])
    await until('the cluster to be ok on every node', async () => {
      const replies = await Promise.all(masters.map(async (m) => await askRedis(m.port, 'CLUSTER INFO')))
      return replies.every((r) => r.includes('cluster_state:ok'))
    })
    return { masters, nodeList: nodeList.join(','), stop: stopper(masters, dirs) }
  } catch (err) {
    await stopper(masters, dirs)()
    throw err
  }
}
