// Every kind of Sentinel client the services make recovers from a SIGKILLed primary without a restart
// (issue 16): createRedis with the offline queue off (cs-messaging's command connection), its duplicates
// for WAIT and for a blocking XREADGROUP loop (duplicateRedis), and a RedisBus. Several of each, because
// the failure seen (ioredis ending a client whose failover detector fired mid-reconnect) was a race that
// hit some connections of a run, not all. A few rounds, each on a fresh Sentinel set; then the race made certain.
import { spawnSync } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { Redis } from 'ioredis'
import { startRedisSentinel, waitFor } from '@weapp/test-kit'
import { askRedis } from '../../../scripts/redis-server.js'
import { RedisBus } from '../src/bus.js'
import { createRedis, duplicateRedis, type RedisClient, type RedisStateLog } from '../src/redis.js'
import { redisTopologyFromEnv } from '../src/redis-topology.js'

const installed = (binary: string): boolean => spawnSync(binary, ['--version']).status === 0
const skip = installed('redis-sentinel') && installed('redis-cli') ? false : 'redis-server, redis-sentinel and redis-cli are not installed'
const ROUNDS = Number(process.env.SENTINEL_RECOVERY_ROUNDS ?? 3)
const EACH = 6
/** Sentinel declares the primary down after 1 s and elects; a loaded 2-core machine takes several rounds. */
const RECOVERY_MS = 60_000
const quiet: RedisStateLog = { info: () => {}, warn: () => {} }
t.setTimeout(ROUNDS * 150_000)

for (let round = 1; round <= ROUNDS; round++) {
  t.test(`round ${round}: every client is ready on the promoted primary after a SIGKILL, and answers`, { skip }, async (t) => {
    const topology = await startRedisSentinel('weapp')
    t.teardown(topology.stop)
    const target = redisTopologyFromEnv({ REDIS_SENTINELS: topology.sentinelList, REDIS_SENTINEL_NAME: 'weapp' })!
    const commands: Redis[] = []
    const waits: RedisClient[] = []
    const blocking: RedisClient[] = []
    const buses: RedisBus[] = []
    for (let i = 0; i < EACH; i++) {
      const command = createRedis(target, { enableOfflineQueue: false, commandTimeout: 5000 }, { name: `command ${i}`, log: quiet }) as Redis
      commands.push(command)
      const wait = duplicateRedis(command, { enableOfflineQueue: true })
      wait.on('error', () => {})
      waits.push(wait)
      const block = duplicateRedis(command, { enableAutoPipelining: false, commandTimeout: undefined, enableOfflineQueue: true, lazyConnect: false })
      block.on('error', () => {})
      blocking.push(block)
      buses.push(new RedisBus(target, quiet))
    }
    const run = { stopping: false }
    let loops: Array<Promise<void>> = []
    t.teardown(async () => {
      run.stopping = true
      for (const c of [...commands, ...waits, ...blocking]) c.disconnect()
      await Promise.all(buses.map(async (bus) => { await bus.close() }))
      await Promise.all(loops)
    })
    const received = buses.map(() => new Set<string>())
    await Promise.all(buses.map(async (bus, i) => await bus.subscribe('recovery', (event) => { if (event.type === 'user.push') received[i]!.add(String(event.data)) })))
    await waitFor(async () => [...commands, ...waits, ...blocking].every((c) => c.status === 'ready'), { timeoutMs: 15_000, what: 'every client ready before the kill' })
    await commands[0]!.xgroup('CREATE', 'recovery-stream', 'g', '$', 'MKSTREAM')

    // Blocking readers, as the worker: XREADGROUP BLOCK in a loop; an error is retried after a pause.
    const reads = blocking.map(() => 0)
    loops = blocking.map(async (conn, i) => {
      while (!run.stopping) {
        try {
          await conn.call('XREADGROUP', 'GROUP', 'g', `c${i}`, 'COUNT', 10, 'BLOCK', 500, 'STREAMS', 'recovery-stream', '>')
          reads[i]!++
        } catch {
          await sleep(100)
        }
      }
    })

    // An `end` nobody asked for is what the race gives (ioredis then stops reconnecting on its own).
    let ends = 0
    for (const c of [...commands, ...waits, ...blocking]) c.on('end', () => { if (!run.stopping) ends++ })
    const killedPort = topology.primary.port
    const killedAt = Date.now()
    await topology.primary.kill('SIGKILL')
    const onPromoted = async (c: RedisClient): Promise<boolean> => {
      if (c.status !== 'ready') return false
      const port = await (c as Redis).config('GET', 'port').then((r) => Number((r as string[])[1]), () => 0)
      return port !== 0 && port !== killedPort
    }
    const all = [...commands, ...waits, ...blocking]
    await waitFor(async () => (await Promise.all(all.map(onPromoted))).every(Boolean), {
      timeoutMs: RECOVERY_MS,
      intervalMs: 200,
      what: 'every client ready on the promoted primary'
    }).catch(() => {})
    t.comment(`round ${round}: clients back ${Date.now() - killedAt} ms after the kill; ended on their own and restarted: ${ends}`)
    const states = all.map((c) => c.status)
    t.same(states.filter((s) => s !== 'ready'), [], `every client ready after the failover (${states.length} clients)`)
    t.equal(await topology.replica.port, Number(((await commands[0]!.config('GET', 'port')) as string[])[1]), 'on the promoted replica')

    // Each answers: a write on every command connection, a WAIT on every WAIT connection, a read per reader.
    for (const [i, c] of commands.entries()) t.equal(await c.set(`after-${i}`, '1'), 'OK', `command connection ${i} writes`)
    for (const c of waits) t.equal(await (c as Redis).call('WAIT', 0, 100), 0, 'a WAIT connection answers (no replica left)')
    const readsBefore = [...reads]
    await commands[0]!.xadd('recovery-stream', '*', 'n', '1')
    await waitFor(async () => reads.every((n, i) => n > readsBefore[i]!), { timeoutMs: 10_000, what: 'every blocking reader to read again' })
    t.pass('every blocking reader reads again')
    await waitFor(async () => buses.every((bus) => bus.connected), { timeoutMs: 10_000, what: 'every bus connected' })
    await waitFor(async () => {
      await buses[0]!.publish('recovery', { type: 'user.push', openid: 'o', event: 'ping', data: `after-${round}` })
      return received.every((r) => r.has(`after-${round}`))
    }, { timeoutMs: 10_000, intervalMs: 200, what: 'every bus subscriber to receive an event' })
    t.pass('every bus subscriber receives events again')
  })
}

// The race made certain: the sentinel the clients ask first is frozen (SIGSTOP) right after the kill,
// so each reconnect hangs on its question; the two others elect and publish +switch-master, which the
// detectors of the lost connections receive mid-question; then the frozen sentinel is resumed. ioredis
// then ends those clients for good ("Connection is closed."); createRedis connects them again.
t.test('a client whose failover detector fires while it asks a sentinel for the primary still recovers', { skip }, async (t) => {
  const topology = await startRedisSentinel('weapp')
  t.teardown(topology.stop)
  const target = redisTopologyFromEnv({ REDIS_SENTINELS: topology.sentinelList, REDIS_SENTINEL_NAME: 'weapp' })!
  const command = createRedis(target, { enableOfflineQueue: false, commandTimeout: 5000 }, { name: 'command', log: quiet }) as Redis
  const wait = duplicateRedis(command, { enableOfflineQueue: true })
  wait.on('error', () => {})
  const bus = new RedisBus(target, quiet)
  const frozen = topology.sentinels[0]!
  let resumed = false
  t.teardown(async () => {
    // kill() resolves when the process exits: a stopped one is continued, and all are SIGKILLed by stop().
    if (!resumed) void frozen.kill('SIGCONT')
    command.disconnect()
    wait.disconnect()
    await bus.close()
  })
  await waitFor(async () => command.status === 'ready' && wait.status === 'ready' && bus.connected, { timeoutMs: 15_000, what: 'the clients ready' })
  let ends = 0
  for (const c of [command, wait]) c.on('end', () => { if (!resumed || c.status === 'end') ends++ })
  await topology.primary.kill('SIGKILL')
  void frozen.kill('SIGSTOP')
  await waitFor(async () => /role:master/.test(await askRedis(topology.replica.port, 'INFO replication')), { timeoutMs: RECOVERY_MS, intervalMs: 200, what: 'the two other sentinels to promote the replica' })
  await sleep(1000) // +switch-master reaches the detectors
  void frozen.kill('SIGCONT')
  resumed = true
  const ready = await waitFor(async () => command.status === 'ready' && wait.status === 'ready' && bus.connected, { timeoutMs: 30_000, intervalMs: 100, what: 'the clients ready again' }).catch(() => false)
  t.comment(`clients ended by ioredis during the failover: ${ends}`)
  t.ok(ready, `every client ready again (command ${command.status}, WAIT ${wait.status}, bus ${bus.connected ? 'connected' : 'down'})`)
  t.equal(await command.set('after', '1'), 'OK', 'the command connection writes')
  t.equal(Number(((await command.config('GET', 'port')) as string[])[1]), topology.replica.port, 'on the promoted replica')
  t.equal(await (wait as Redis).call('WAIT', 0, 100), 0, 'the WAIT connection answers')
})
