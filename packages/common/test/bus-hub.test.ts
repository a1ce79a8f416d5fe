// The bus hub against a real realtime-ws app (no Redis: realtime-ws serves /internal/bus and its own bus
// is the hub's local side) with BusHubClients and raw ws clients over real sockets.
import { setTimeout as sleep } from 'node:timers/promises'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import t from 'tap'
import { WebSocket } from 'ws'
import { BUS_HUB_LIMITS, BusHubClient, BusHubPublishError, busState, createBus, type BusEvent } from '@weapp/common'
import { waitFor, type Teardown } from '@weapp/test-kit'
import realtimeApp, { realtimeServerOptions } from '../../../services/realtime-ws/src/app.js'
import { BusHub, type BusHubLimits } from '../../../services/realtime-ws/src/routes/bus-hub.js'
import { freePort } from '../../../scripts/redis-server.js'
import { INTERNAL_TOKEN, refusal, tableNicknames, testConfig } from '../../../services/realtime-ws/test/fixtures/harness.js'

const CHANNEL = 'weapp:test'
const event = (n: number): BusEvent => ({ type: 'user.push', openid: 'o1', event: 'n', data: { n } })

interface Hub { hub: BusHub, url: string, port: number, close: () => Promise<void> }

/** realtime-ws as server.ts builds it without REDIS_URL, serving `hub` (default bounds unless `limits`). */
async function startHub (t: Teardown, opts: { limits?: Partial<BusHubLimits>, port?: number } = {}): Promise<Hub> {
  const config = testConfig()
  const app = Fastify(realtimeServerOptions(config))
  const hub = new BusHub({ ...(opts.limits !== undefined ? { limits: opts.limits } : {}) })
  await app.register(fp(realtimeApp, { name: 'realtime-app' }), { config, nickname: tableNicknames, busHub: hub })
  let closed = false
  const close = async (): Promise<void> => { if (!closed) { closed = true; await app.close() } }
  t.teardown(close)
  await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 })
  const port = (app.server.address() as { port: number }).port
  if (app.bus !== hub) throw new Error('the app\'s own bus must be the hub\'s local side')
  return { hub, port, url: `ws://127.0.0.1:${port}/internal/bus`, close }
}

function client (t: Teardown, url: string, token = INTERNAL_TOKEN, publishWaitMs = 2000): BusHubClient {
  const c = new BusHubClient(url, token, { backoff: { baseMs: 20, maxMs: 200 }, publishWaitMs })
  t.teardown(() => c.close())
  return c
}

/** Every event `bus` receives on `channel`, in order. */
async function collect (bus: { subscribe: BusHubClient['subscribe'] }, channel = CHANNEL): Promise<BusEvent[]> {
  const seen: BusEvent[] = []
  await bus.subscribe(channel, (e) => { seen.push(e) })
  return seen
}

/** A raw client of the hub's protocol (frames the BusHubClient would never send). */
async function rawClient (t: Teardown, url: string): Promise<{ ws: WebSocket, closed: Promise<number> }> {
  const ws = new WebSocket(url, { headers: { 'x-internal-token': INTERNAL_TOKEN }, maxPayload: 4 * BUS_HUB_LIMITS.maxFrameBytes })
  t.teardown(() => { ws.terminate() })
  ws.on('error', () => {})
  const closed = new Promise<number>((resolve) => { ws.on('close', (code) => { resolve(code) }) })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  return { ws, closed }
}

t.test('a publish from any client or from realtime-ws reaches every subscriber, there and here', async (t) => {
  const h = await startHub(t)
  const a = client(t, h.url)
  const b = client(t, h.url)
  const seenA = await collect(a)
  const seenB = await collect(b)
  const seenLocal = await collect(h.hub)
  await waitFor(() => h.hub.remoteSubscribers(CHANNEL) === 2, { what: 'both clients subscribed' })
  t.equal(busState(a), 'up', 'a connected hub client is up')

  await a.publish(CHANNEL, event(1))
  await waitFor(() => seenA.length === 1 && seenB.length === 1 && seenLocal.length === 1, { what: 'event 1 everywhere' })
  t.same([seenA[0], seenB[0], seenLocal[0]], [event(1), event(1), event(1)], 'the publisher, the other client and the hub\'s local side')

  await h.hub.publish(CHANNEL, event(2))
  await waitFor(() => seenA.length === 2 && seenB.length === 2 && seenLocal.length === 2, { what: 'event 2 everywhere' })
  t.same(seenB[1], event(2), 'realtime-ws\'s own publishes reach the clients')

  await b.publish('weapp:other', event(3))
  await b.publish(CHANNEL, event(4))
  await waitFor(() => seenA.length === 3, { what: 'event 4' })
  t.same(seenA[2], event(4), 'a channel nobody subscribed to delivers nothing')
})

t.test('unsubscribing stops deliveries to that client only', async (t) => {
  const h = await startHub(t)
  const a = client(t, h.url)
  const b = client(t, h.url)
  const seenA: BusEvent[] = []
  const off = await a.subscribe(CHANNEL, (e) => { seenA.push(e) })
  const marks = await collect(a, 'weapp:mark')
  const seenB = await collect(b)
  await waitFor(() => h.hub.remoteSubscribers(CHANNEL) === 2 && h.hub.remoteSubscribers('weapp:mark') === 1, { what: 'subscriptions' })
  await off()
  await waitFor(() => h.hub.remoteSubscribers(CHANNEL) === 1, { what: 'the unsubscription' })
  await h.hub.publish(CHANNEL, event(1))
  await h.hub.publish('weapp:mark', event(2))
  // Frames to one client keep their order: the mark arriving means event 1 would have come first.
  await waitFor(() => marks.length === 1 && seenB.length === 1, { what: 'the mark and b\'s event' })
  t.same(seenA, [], 'nothing after unsubscribing')
})

t.test('a client started before the hub subscribes when it comes up, and again after the hub restarts', async (t) => {
  const port = await freePort()
  const url = `ws://127.0.0.1:${port}/internal/bus`
  const c = client(t, url, INTERNAL_TOKEN, 200)
  const seen = await collect(c)
  t.equal(c.connected, false)
  t.equal(busState(c), 'down', 'a hub client without its hub is down')
  await t.rejects(c.publish(CHANNEL, event(0)), BusHubPublishError, 'a publish while the hub is away fails after publishWaitMs, never queued for ever')

  const first = await startHub(t, { port })
  await waitFor(() => first.hub.remoteSubscribers(CHANNEL) === 1, { what: 'the subscription made before the hub was up' })
  await first.hub.publish(CHANNEL, event(1))
  await waitFor(() => seen.length === 1, { what: 'event 1' })

  await first.close()
  await waitFor(() => !c.connected, { what: 'the client noticing' })
  const second = await startHub(t, { port })
  await waitFor(() => second.hub.remoteSubscribers(CHANNEL) === 1, { timeoutMs: 5000, what: 'the re-subscription' })
  await second.hub.publish(CHANNEL, event(2))
  await c.publish(CHANNEL, event(3))
  await waitFor(() => seen.length === 3, { what: 'events 2 and 3' })
  t.same(seen, [event(1), event(2), event(3)], 'nothing replayed, nothing lost while connected')
})

t.test('createBus: REDIS_URL first, then BUS_HUB_URL, else in-process', async (t) => {
  const h = await startHub(t)
  const hubBus = createBus(undefined, undefined, { url: h.url, internalToken: INTERNAL_TOKEN })
  t.teardown(() => hubBus.close())
  t.ok(hubBus instanceof BusHubClient, 'no Redis, a hub: the hub client')
  const local = createBus(undefined)
  t.teardown(() => local.close())
  t.notOk(local instanceof BusHubClient, 'neither: in-process')
  await waitFor(() => (hubBus as BusHubClient).connected, { what: 'connected' })
})

t.test('only the internal credential opens the hub, refused before the upgrade', async (t) => {
  const h = await startHub(t)
  const missing = await refusal(h.url)
  t.equal(missing.status, 401)
  t.equal(missing.body.code, 'COMMON_INTERNAL_AUTH_MISSING')
  const wrong = await refusal(h.url, { 'x-internal-token': 'x'.repeat(48) })
  t.equal(wrong.status, 401)
  t.equal(wrong.body.code, 'COMMON_INTERNAL_AUTH_INVALID')
  const plain = await fetch(h.url.replace(/^ws/, 'http'), { headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.equal(plain.status, 426, 'a plain GET is not an upgrade')
  t.equal(((await plain.json()) as { code: string }).code, 'WS_UPGRADE_REQUIRED')

  const intruder = client(t, h.url, 'y'.repeat(48), 100)
  const seen = await collect(intruder)
  await h.hub.publish(CHANNEL, event(1))
  await sleep(200)
  t.equal(intruder.connected, false, 'a client with the wrong token never connects')
  t.same(seen, [])
  t.equal(h.hub.clientCount, 0)
  await t.rejects(intruder.publish(CHANNEL, event(2)), BusHubPublishError)
})

t.test('bounds: frame size, bad frames, channels per client, clients', async (t) => {
  const h = await startHub(t, { limits: { maxChannelsPerClient: 2, maxClients: 3 } })

  const oversized = await rawClient(t, h.url)
  oversized.ws.send(JSON.stringify({ op: 'pub', channel: CHANNEL, event: { type: 'x', data: 'a'.repeat(BUS_HUB_LIMITS.maxFrameBytes) } }))
  t.equal(await oversized.closed, 1009, 'a frame over maxFrameBytes closes the connection (1009)')
  const c = client(t, h.url)
  await t.rejects(c.publish(CHANNEL, { type: 'user.push', openid: 'o', event: 'big', data: 'a'.repeat(BUS_HUB_LIMITS.maxFrameBytes) }), /too large/, 'the client refuses it before sending')

  const bad = await rawClient(t, h.url)
  bad.ws.send('{"op":"pub","channel":"weapp:test","event":{"no":"type"}}')
  t.equal(await bad.closed, 1008, 'an event without a type is not a frame of the protocol (1008)')
  const binary = await rawClient(t, h.url)
  binary.ws.send(Buffer.from('{"op":"sub","channel":"a"}'))
  t.equal(await binary.closed, 1008, 'binary frames too')

  const greedy = await rawClient(t, h.url)
  for (const channel of ['a', 'b', 'c']) greedy.ws.send(JSON.stringify({ op: 'sub', channel }))
  t.equal(await greedy.closed, 1008, 'more than maxChannelsPerClient closes the connection (1008)')
  await waitFor(() => h.hub.remoteSubscribers('a') === 0, { what: 'its subscriptions gone' })

  await waitFor(() => c.connected, { what: 'c connected' })
  const second = await rawClient(t, h.url)
  const third = await rawClient(t, h.url)
  const fourth = await rawClient(t, h.url)
  t.equal(await fourth.closed, 1013, 'past maxClients a connection is closed (1013, try again later)')
  t.equal(h.hub.clientCount, 3)
  second.ws.close()
  third.ws.close()
})

t.test('a client that does not read is dropped, as Redis drops a slow subscriber; the others keep theirs', async (t) => {
  const h = await startHub(t, { limits: { maxBufferedBytes: 256 * 1024 } })
  const slow = await rawClient(t, h.url)
  slow.ws.send(JSON.stringify({ op: 'sub', channel: CHANNEL }))
  const healthy = client(t, h.url)
  const seen = await collect(healthy)
  await waitFor(() => h.hub.remoteSubscribers(CHANNEL) === 2, { what: 'both subscribed' })
  // The slow client stops reading: the kernel's buffers fill, then the hub's.
  ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  const big = (n: number): BusEvent => ({ type: 'user.push', openid: 'o', event: 'big', data: { n, pad: 'p'.repeat(64 * 1024) } })
  let sent = 0
  while (h.hub.remoteSubscribers(CHANNEL) === 2 && sent < 2000) {
    await h.hub.publish(CHANNEL, big(sent++))
    if (sent % 16 === 0) await sleep(1)
  }
  t.equal(h.hub.remoteSubscribers(CHANNEL), 1, `dropped after ${sent} events of 64 KiB`)
  await waitFor(() => seen.length === sent, { timeoutMs: 10_000, what: 'every event at the healthy client' })
  t.equal(healthy.connected, true, 'the healthy client stays')
})

t.test('closing realtime-ws closes the hub\'s connections; a closed client fails its publishes', async (t) => {
  const h = await startHub(t)
  const c = client(t, h.url)
  await waitFor(() => c.connected, { what: 'connected' })
  await h.close()
  await waitFor(() => !c.connected, { what: 'the hub gone' })
  await c.close()
  await t.rejects(c.publish(CHANNEL, event(1)), /closed/)
})
