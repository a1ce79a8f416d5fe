// The shared Redis factory against real sockets: a port that refuses, a real redis-server started and
// stopped on that port (scripts/redis-server.ts), and a server that accepts but never answers.
import { once } from 'node:events'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { Teardown } from '@weapp/test-kit'
import { DEFAULT_REDIS_COMMAND_TIMEOUT_MS, RedisBus, createRedis, redisState, type BusEvent, type RedisStateLog } from '@weapp/common'
import { freePort, startLocalRedis } from '../../../scripts/redis-server.js'

const hasRedisServer = process.env.REDIS_URL !== undefined

interface Line { level: 'info' | 'warn', obj: Record<string, unknown>, msg: string }

function capture (): RedisStateLog & { lines: Line[] } {
  const lines: Line[] = []
  return {
    lines,
    info: (obj, msg) => { lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }) },
    warn: (obj, msg) => { lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) }
  }
}

/** What ioredis prints (console.error) for an error event nobody listens to. */
function watchConsoleErrors (t: Teardown): string[] {
  const printed: string[] = []
  const original = console.error
  console.error = (...args: unknown[]) => { printed.push(args.map(String).join(' ')) }
  t.teardown(() => { console.error = original })
  return printed
}

async function until (condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!condition()) {
    if (Date.now() > end) return false
    await sleep(20)
  }
  return true
}

t.test('a client of a refusing port: no unhandled error event, one log line per state change', { skip: hasRedisServer ? false : 'redis-server not started (REDIS_URL unset)' }, async (t) => {
  const printed = watchConsoleErrors(t)
  const log = capture()
  const port = await freePort()
  const redis = createRedis(`redis://127.0.0.1:${port}`, {}, { name: 'test', log })
  t.teardown(() => { redis.disconnect() })
  let errors = 0
  redis.on('error', () => { errors++ })

  // Refused: ioredis retries (100, 200, 300 ms... back-off) and emits an error on each attempt.
  t.ok(await until(() => errors >= 4, 5000), 'several reconnect attempts failed')
  t.equal(redisState(redis), 'down')
  t.same(printed.filter((line) => line.includes('[ioredis]')), [], 'no "[ioredis] Unhandled error event"')
  t.equal(log.lines.length, 1, `one line for ${errors} failed attempts`)
  t.match(log.lines[0], { level: 'warn', obj: { redis: 'test', err: { code: 'ECONNREFUSED' } }, msg: 'redis (test) unreachable; reconnecting' })
  t.notMatch(JSON.stringify(log.lines[0]), /redis:\/\//, 'the URL (it may carry a password) is not logged')

  const server = await startLocalRedis(port)
  t.ok(server !== null, 'redis-server started on the refused port')
  let running = true
  t.teardown(async () => { if (running) await server?.stop() })
  t.ok(await until(() => redisState(redis) === 'up', 5000), 'reconnected on its own')
  t.equal(await redis.set('redis-test:k', 'v'), 'OK')
  t.equal(log.lines.length, 2)
  t.match(log.lines[1], { level: 'info', obj: { redis: 'test' }, msg: 'redis (test) reachable again' })

  await server!.stop()
  running = false
  const before = errors
  t.ok(await until(() => errors >= before + 3, 5000), 'the outage again: several failed attempts')
  t.equal(log.lines.length, 3, 'and one more line for it')
  t.match(log.lines[2], { level: 'warn', msg: 'redis (test) unreachable; reconnecting' })
  t.same(printed.filter((line) => line.includes('[ioredis]')), [])
})

t.test('commands time out after DEFAULT_REDIS_COMMAND_TIMEOUT_MS (overridable) when Redis does not answer', async (t) => {
  // Accepts connections and reads everything, answers nothing: a Redis that hangs.
  const sockets = new Set<Socket>()
  const server = createServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { for (const s of sockets) s.destroy(); server.close() })
  const { port } = server.address() as { port: number }
  const url = `redis://127.0.0.1:${port}`

  const plain = createRedis(url, {}, { log: capture() })
  t.teardown(() => { plain.disconnect() })
  t.equal(plain.options.commandTimeout, DEFAULT_REDIS_COMMAND_TIMEOUT_MS, 'the default applies to every client')
  const started = Date.now()
  await t.rejects(plain.get('k'), { message: 'Command timed out' })
  const took = Date.now() - started
  t.ok(took >= DEFAULT_REDIS_COMMAND_TIMEOUT_MS - 50 && took < DEFAULT_REDIS_COMMAND_TIMEOUT_MS + 1000, `failed after ${took} ms`)

  const quick = createRedis(url, { commandTimeout: 200 }, { log: capture() })
  t.teardown(() => { quick.disconnect() })
  const quickStart = Date.now()
  await t.rejects(quick.get('k'), { message: 'Command timed out' })
  t.ok(Date.now() - quickStart < 1000, 'a caller may choose its own')
})

t.test('the Redis bus subscribes while Redis refuses and receives once it is back', { skip: hasRedisServer ? false : 'redis-server not started (REDIS_URL unset)' }, async (t) => {
  const port = await freePort()
  const url = `redis://127.0.0.1:${port}`
  const log = capture()
  const bus = new RedisBus(url, log)
  t.teardown(async () => { await bus.close() })
  const received: BusEvent[] = []
  const started = Date.now()
  await bus.subscribe('bus-outage-test', (event) => { received.push(event) })
  t.ok(Date.now() - started < DEFAULT_REDIS_COMMAND_TIMEOUT_MS + 1000, 'subscribe returned without Redis')
  t.equal(bus.connected, false)

  const server = await startLocalRedis(port)
  t.teardown(async () => { await server?.stop() })
  t.ok(await until(() => bus.connected, 5000), 'both connections are back')
  const publisher = createRedis(url, {}, { log: capture() })
  t.teardown(() => { publisher.disconnect() })
  const event: BusEvent = { type: 'user.push', openid: 'o1', event: 'hello', data: null }
  // The subscription is made on 'ready': publish until it has arrived.
  t.ok(await until(() => { publisher.publish('bus-outage-test', JSON.stringify(event)).catch(() => {}); return received.length > 0 }, 5000), 'delivered')
  t.same(received[0], event)
  t.equal(log.lines.filter((l) => l.level === 'warn').length, 2, 'one outage line per connection (publisher, subscriber)')
})

t.test('the Redis bus: subscribe returns once Redis holds the subscription, also when the connection failed while coming up', { skip: hasRedisServer ? false : 'redis-server not started (REDIS_URL unset)' }, async (t) => {
  // A relay to the run's Redis that resets the first two connections: the bus's subscriber errors
  // (ECONNRESET) while coming up, and subscribes on the third.
  const upstream = new URL(process.env.REDIS_URL!)
  let accepted = 0
  const relay = createServer((client) => {
    client.on('error', () => {})
    if (++accepted <= 2) { client.resetAndDestroy(); return }
    const server = connect(Number(upstream.port), upstream.hostname)
    server.on('error', () => { client.destroy() })
    client.on('close', () => { server.destroy() })
    server.on('close', () => { client.destroy() })
    client.pipe(server).pipe(client)
  })
  relay.listen(0, '127.0.0.1')
  await once(relay, 'listening')
  t.teardown(() => { relay.close() })
  const url = `redis://127.0.0.1:${(relay.address() as AddressInfo).port}`
  const channel = `bus-coming-up-${Math.random()}`
  const bus = new RedisBus(url, capture())
  t.teardown(async () => { await bus.close() })
  await bus.subscribe(channel, () => {})
  const observer = createRedis(process.env.REDIS_URL!, {}, { log: capture() })
  t.teardown(() => { observer.disconnect() })
  const [, subscribers] = await observer.pubsub('NUMSUB', channel) as [string, number]
  t.equal(subscribers, 1, 'subscribed in Redis when subscribe returned')
  t.ok(accepted >= 2, 'the first connections failed')
})
