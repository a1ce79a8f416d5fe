import { randomBytes } from 'node:crypto'
import { createConnection, createServer, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import type { Redis } from 'ioredis'
import { createRedis, InProcessBus, RedisBus, type BusEvent } from '@weapp/common'
import { redisTargets, waitFor } from '@weapp/test-kit'

const event: BusEvent = { type: 'user.push', openid: 'o1', event: 'hello', data: { n: 1 } }

t.test('in-process bus delivers asynchronously and unsubscribes', async (t) => {
  const bus = new InProcessBus()
  const seen: BusEvent[] = []
  const off = await bus.subscribe('c', (e) => seen.push(e))
  await bus.publish('c', event)
  t.equal(seen.length, 0, 'not delivered on the publisher stack')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(seen, [event])
  await off()
  await bus.publish('c', event)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(seen.length, 1)
  await bus.close()
})

// The same tests on one server, behind Sentinel and on a three-master Cluster (sharded pub/sub there).
for (const target of redisTargets(t)) {
  t.test(`redis bus (${target.name})`, { skip: target.skip }, async (t) => {
    const topology = await target.topology()

    t.test('crosses connections', async (t) => {
      const a = new RedisBus(topology)
      const b = new RedisBus(topology)
      t.teardown(async () => { await a.close(); await b.close() })
      const channel = `test:${Math.random()}`
      // Subscribed before publishing (a fixed pause lost the event on a loaded machine).
      let subscribed: Promise<unknown> | undefined
      const received = new Promise<BusEvent>((resolve) => { subscribed = b.subscribe(channel, resolve) })
      await subscribed
      await a.publish(channel, event)
      t.same(await received, event)
    })

    t.test('events on many channels (on every shard of a Cluster) each reach their subscriber, once', async (t) => {
      const a = new RedisBus(topology)
      const b = new RedisBus(topology)
      t.teardown(async () => { await a.close(); await b.close() })
      const channels = Array.from({ length: 12 }, (_, i) => `test:${Math.random()}:${i}`)
      const seen = new Map<string, BusEvent[]>(channels.map((c) => [c, []]))
      await Promise.all(channels.map(async (c) => await b.subscribe(c, (e) => { seen.get(c)!.push(e) })))
      await Promise.all(channels.map(async (c, i) => await a.publish(c, { ...event, data: { n: i } })))
      await waitFor(() => [...seen.values()].every((events) => events.length > 0), { timeoutMs: 5000, what: 'an event on every channel' })
      t.same(channels.map((c) => seen.get(c)), channels.map((_, i) => [{ ...event, data: { n: i } }]))
    })
  })
}

// A SUBSCRIBE that fails while the connection stays up (a timeout on a busy server; here an ACL refusal, the
// one failure a test can cause at will) gets no 'ready' to retry it: the bus retries on its own. Seen in CI:
// a subscription made at boot never held, and the console events of that instance were lost.
const redisUrl = process.env.REDIS_URL
/**
 * A RedisBus logged in as a Redis user of its own (deleted at teardown) whose channel rules are
 * `channelRules(channel)`, the admin connection that made it, and how many subscribers the channel has.
 */
async function busOfAclUser (t: Test, label: string, channelRules: (channel: string) => string[]): Promise<{ admin: Redis, user: string, channel: string, bus: RedisBus, subscribers: () => Promise<number> }> {
  const admin = createRedis(redisUrl!) as Redis
  const user = `bus-test-${randomBytes(6).toString('hex')}`
  const password = randomBytes(16).toString('hex')
  const channel = `test:${label}:${user}`
  await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~*', 'resetchannels', ...channelRules(channel), '+@all')
  t.teardown(async () => { await admin.call('ACL', 'DELUSER', user); await admin.quit() })
  const url = new URL(redisUrl!)
  url.username = user
  url.password = password
  const bus = new RedisBus(url.toString())
  t.teardown(async () => { await bus.close() })
  return { admin, user, channel, bus, subscribers: async () => await numsub(admin, channel) }
}

/** How many connections Redis has subscribed to `channel`. */
async function numsub (admin: Redis, channel: string): Promise<number> {
  return Number((await admin.pubsub('NUMSUB', channel) as [string, number])[1])
}

t.test('redis bus: a SUBSCRIBE refused on a live connection is made again', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const { admin, user, channel, bus, subscribers } = await busOfAclUser(t, 'refused', () => ['&elsewhere:*'])

  const seen: BusEvent[] = []
  await bus.subscribe(channel, (e) => { seen.push(e) })
  t.ok(bus.connected, 'the connection is up')
  t.equal(await subscribers(), 0, 'refused (NOPERM): nobody holds the channel')
  await admin.call('ACL', 'SETUSER', user, `&${channel}`)
  await waitFor(async () => await subscribers() === 1, { timeoutMs: 5000, what: 'the subscription, made again' })
  await admin.publish(channel, JSON.stringify(event))
  await waitFor(() => seen.length === 1, { timeoutMs: 5000, what: 'the event' })
  t.same(seen, [event])
})

// The subscriber's connection drops, and drops again as its re-SUBSCRIBE goes out (a flapping network), then
// fails to connect more times than maxRetriesPerRequest (ioredis then rejects what it had queued): the channel
// must still be held once the connection is back (ioredis re-sends the unanswered SUBSCRIBE). A relay in front
// of the real Redis makes the cuts.
/** What the relay does with a connection: `false` refuses it; `intercept` may swallow a client's chunk. */
interface RelayRules {
  accept: () => boolean
  intercept: (chunk: Buffer, client: Socket, redis: Socket) => boolean
}

/** A TCP relay in front of the real Redis (REDIS_URL), for cuts and injected commands; returns its URL. */
async function startRelay (t: Test, rules: RelayRules): Promise<{ url: string, sockets: Set<Socket> }> {
  const upstream = new URL(redisUrl!)
  const sockets = new Set<Socket>()
  const relay = createServer((client) => {
    if (!rules.accept()) {
      client.destroy()
      return
    }
    const redis = createConnection({ host: upstream.hostname, port: Number(upstream.port || 6379) })
    sockets.add(client).add(redis)
    redis.pipe(client)
    client.on('data', (chunk) => { if (!rules.intercept(chunk, client, redis)) redis.write(chunk) })
    const end = (): void => { client.destroy(); redis.destroy(); sockets.delete(client); sockets.delete(redis) }
    client.on('error', end).on('close', end)
    redis.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => { relay.listen(0, '127.0.0.1', resolve) })
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((resolve) => { relay.close(() => { resolve() }) })
  })
  const relayed = new URL(redisUrl!)
  relayed.hostname = '127.0.0.1'
  relayed.port = String((relay.address() as { port: number }).port)
  return { url: relayed.toString(), sockets }
}

for (const refusals of [0, 4]) {
  t.test(`redis bus: a channel is subscribed again after two reconnections in a row${refusals > 0 ? ` and ${refusals} failed connections` : ''}`, { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
    let cutOnSubscribe = false
    let cutsOnSubscribe = 0
    let toRefuse = 0
    const { url, sockets } = await startRelay(t, {
      accept: () => toRefuse-- <= 0,
      intercept: (chunk, client, redis) => {
        if (!cutOnSubscribe || !/subscribe/i.test(chunk.toString('latin1'))) return false
        cutOnSubscribe = false
        cutsOnSubscribe++
        toRefuse = refusals
        client.destroy()
        redis.destroy()
        return true
      }
    })
    const bus = new RedisBus(url)
    const publisher = new RedisBus(redisUrl!)
    t.teardown(async () => { await bus.close(); await publisher.close() })
    const channel = `test:double-drop:${randomBytes(6).toString('hex')}`
    const seen: BusEvent[] = []
    await bus.subscribe(channel, (e) => { seen.push(e) })
    const admin = createRedis(redisUrl!)
    t.teardown(async () => { await admin.quit() })
    const subscribers = async (): Promise<number> => await numsub(admin, channel)
    t.equal(await subscribers(), 1, 'subscribed through the relay')
    t.same(bus.subscriptionState, { publisher: 'ready', subscriber: 'ready', held: [channel], pending: [], restored: 0 }, 'its state, for diagnostics')

    cutOnSubscribe = true
    for (const s of sockets) s.destroy() // the first drop; the reconnection's SUBSCRIBE is cut too
    await waitFor(() => cutsOnSubscribe === 1, { timeoutMs: 10_000, what: 'the re-SUBSCRIBE cut' })
    await waitFor(async () => await subscribers() === 1, { timeoutMs: 10_000, what: 'the channel subscribed again' })
    await publisher.publish(channel, event)
    await waitFor(() => seen.length === 1, { timeoutMs: 5000, what: 'the event after the reconnections' })
    t.same(seen, [event])
    t.match(bus.subscriptionState, { subscriber: 'ready', held: [channel], pending: [] }, 'held again')
  })
}

// A reconnection's re-SUBSCRIBE that Redis refuses: ioredis's own (autoResubscribe) was an unhandled rejection
// and never retried, the connection ready and holding nothing. Here Redis causes it: revoking a user's
// channel closes its subscribed connections (Redis 7) and the reconnection's SUBSCRIBE is refused (NOPERM).
// Once the channel is allowed again the bus must hold it, without a restart.
t.test('redis bus: a channel whose re-SUBSCRIBE was refused after a reconnection is subscribed again', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const { admin, user, channel, bus, subscribers } = await busOfAclUser(t, 'revoked', (channel) => [`&${channel}`])
  const seen: BusEvent[] = []
  await bus.subscribe(channel, (e) => { seen.push(e) })
  t.equal(await subscribers(), 1, 'subscribed')

  await admin.call('ACL', 'SETUSER', user, 'resetchannels')
  await waitFor(async () => (await admin.call('ACL', 'LOG') as unknown[][]).some((entry) => entry.includes(user)), { timeoutMs: 10_000, what: 'the refused re-SUBSCRIBE in the ACL log' })
  await waitFor(() => bus.connected, { timeoutMs: 10_000, what: 'the connection back' })
  t.equal(await subscribers(), 0, 'refused after the reconnection: nobody holds the channel')
  await admin.call('ACL', 'SETUSER', user, `&${channel}`)
  await waitFor(async () => await subscribers() === 1, { timeoutMs: 10_000, what: 'the channel subscribed again' })
  await admin.publish(channel, JSON.stringify(event))
  await waitFor(() => seen.length === 1, { timeoutMs: 5000, what: 'the event' })
  t.same(seen, [event])
  t.equal(bus.subscriptionState.restored, 1, 'subscribed again by the bus after the reconnection')
})

// The state CI saw (cause not found): the connection ready, holding nothing, nothing pending. Made here by the
// relay sending an UNSUBSCRIBE on the bus's connection, which Redis obeys and ioredis then believes (a reply
// it did not ask for). The bus's periodic check must notice and subscribe the channel again.
t.test('redis bus: a channel the ready connection stopped holding is subscribed again', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const channel = `test:dropped:${randomBytes(6).toString('hex')}`
  let subscriberSide: Socket | undefined // the bus's subscriber connection, relay → Redis
  const { url } = await startRelay(t, {
    accept: () => true,
    intercept: (chunk, _client, redis) => {
      if (/subscribe/i.test(chunk.toString('latin1'))) subscriberSide = redis
      return false
    }
  })
  const warnings: string[] = []
  const bus = new RedisBus(url, { info: () => {}, warn: (_obj, msg) => { warnings.push(msg) } })
  const admin = createRedis(redisUrl!)
  t.teardown(async () => { await bus.close(); await admin.quit() })
  const subscribers = async (): Promise<number> => await numsub(admin, channel)
  const seen: BusEvent[] = []
  await bus.subscribe(channel, (e) => { seen.push(e) })
  t.equal(await subscribers(), 1, 'subscribed')

  subscriberSide!.write(`*2\r\n$11\r\nUNSUBSCRIBE\r\n$${channel.length}\r\n${channel}\r\n`)
  await waitFor(async () => await subscribers() === 0, { timeoutMs: 5000, what: 'the channel dropped' })
  await waitFor(async () => await subscribers() === 1, { timeoutMs: 10_000, what: 'the channel subscribed again' })
  await admin.publish(channel, JSON.stringify(event))
  await waitFor(() => seen.length === 1, { timeoutMs: 5000, what: 'the event' })
  t.same(seen, [event])
  t.match(bus.subscriptionState, { subscriber: 'ready', held: [channel], pending: [], restored: 1 }, 'held again, counted')
  t.ok(warnings.some((m) => m.includes('no longer holds a subscribed channel')), 'and logged')
})
