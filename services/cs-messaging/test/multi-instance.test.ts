import { createServer, type Socket } from 'node:net'
import t from 'tap'
import { BusChannels, RedisBus, createRedis, type BusEvent } from '@weapp/common'
import { RealTimeClock, callPublic, waitFor } from '@weapp/test-kit'
import { RecordingSender, buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { buildPush, textMessage, type Fields } from './fixtures/push.js'
import { redisEnv } from './fixtures/backends.js'
import type { FastifyInstance } from 'fastify'
import type { MemoryMessagesRepository } from '../src/repositories/memory.js'
import { MemoryInboundQueue } from '../src/queue/memory.js'
import { RedisInboundQueue } from '../src/queue/redis.js'
import type { InboundQueue } from '../src/queue/types.js'

const RULES = JSON.stringify([{ match: 'contains', keyword: 'price', reply: 'See our prices' }])
const redisUrl = process.env.REDIS_URL
const needsRedis = { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }

async function drained (app: FastifyInstance): Promise<boolean> {
  const s = await app.inboundQueue.stats()
  return s.length === 0 && s.pending === 0 && s.delayed === 0
}

t.test('two instances on one Redis: every push and retry, each message processed exactly once', needsRedis, async (t) => {
  const env = redisEnv(t)
  const clock = new RealTimeClock()
  const config = testConfig({ ...env, AUTO_REPLY_RULES: RULES })
  const senders = [new RecordingSender(), new RecordingSender()]
  const apps = [await buildCs(t, { config, clock, sender: senders[0] }), await buildCs(t, { config, clock, sender: senders[1] })]
  const bus = new RedisBus(redisUrl!)
  t.teardown(() => bus.close())
  const events: BusEvent[] = []
  await bus.subscribe(BusChannels.cs, (e) => { events.push(e) })

  const N = 40
  const messages: Fields[] = Array.from({ length: N }, (_, i) => textMessage(`o${i % 7}`, i % 2 === 0 ? `price ${i}` : `hi ${i}`, clock.seconds))
  // Each push delivered three times (WeChat's retries), to either instance, partly at the same moment.
  const deliveries = messages.flatMap((m, i) => [0, 1, 2].map((copy) => ({ m, app: apps[(i + copy) % 2]!, mode: (['plaintext', 'compatible', 'safe'] as const)[copy]!, format: copy === 1 ? 'xml' as const : 'json' as const })))
  const answers = await Promise.all(deliveries.map(async ({ m, app, mode, format }) => {
    const p = buildPush(m, { mode, format, timestamp: clock.seconds, appId: env.APP_ID })
    const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
    return `${res.statusCode} ${res.body}`
  }))
  t.same(new Set(answers), new Set(['200 success']), 'every delivery answered success')

  await waitFor(async () => await drained(apps[0]!), { timeoutMs: 10_000, what: 'queue drained' })
  await waitFor(() => events.filter((e) => e.type === 'cs.inbound').length >= N, { timeoutMs: 5000, what: 'all published' })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const inbound = events.filter((e): e is Extract<BusEvent, { type: 'cs.inbound' }> => e.type === 'cs.inbound')
  t.equal(inbound.length, N, 'one cs.inbound per message')
  t.same(new Set(inbound.map((e) => (e.message as { MsgId?: string }).MsgId)), new Set(messages.map((m) => m.MsgId)), 'every MsgId exactly, as strings')
  const stored = apps.map((a) => (a.messagesRepository as MemoryMessagesRepository).count('in'))
  t.equal(stored[0]! + stored[1]!, N, `stored once in all (${stored.join(' + ')})`)
  t.ok(stored[0]! > 0 && stored[1]! > 0, 'both instances worked')
  const sends = senders[0]!.sent.length + senders[1]!.sent.length
  t.equal(sends, N / 2, 'one auto-reply per matching message')
  const replies = apps.map((a) => (a.messagesRepository as MemoryMessagesRepository).count('out'))
  t.equal(replies[0]! + replies[1]!, N / 2, 'each auto-reply recorded once')
  const dedup = await Promise.all(apps.map(async (a) => Number(/cs_dedup_hits_total (\d+)/.exec((await callInternal(a, { url: '/metrics' })).body)?.[1])))
  t.equal(dedup[0]! + dedup[1]!, 2 * N, 'two duplicates per message recognised')
})

t.test('a worker killed mid-stream: another instance takes over, nothing lost', needsRedis, async (t) => {
  const env = redisEnv(t)
  const clock = new RealTimeClock()
  const config = testConfig({ ...env, AUTO_REPLY_RULES: RULES, WORKER_CONCURRENCY: '3', WORKER_CLAIM_IDLE_MS: '300' })
  const stuck = new RecordingSender()
  stuck.hang = true
  const a = await buildCs(t, { config, clock, sender: stuck, stopTimeoutMs: 50, autoClose: false })
  const messages = Array.from({ length: 8 }, (_, i) => textMessage(`u${i}`, `price ${i}`, clock.seconds))
  for (const m of messages) {
    const p = buildPush(m, { mode: 'safe', format: 'xml', timestamp: clock.seconds, appId: env.APP_ID })
    t.equal((await callPublic(a, { method: 'POST', url: p.url, payload: p.payload })).body, 'success')
  }
  await waitFor(() => stuck.calls === 3, { timeoutMs: 5000, what: 'worker A stuck in three sends' })
  const before = await a.inboundQueue.stats()
  t.equal(before.length, 8, 'all eight still in the stream')
  t.equal(before.pending, 3, 'three delivered to A and never acknowledged')
  await a.close() // A "dies": its stop timeout passes with three messages in flight

  const sender = new RecordingSender()
  const b = await buildCs(t, { config, clock, sender })
  await waitFor(async () => await drained(b), { timeoutMs: 10_000, what: 'B drained the queue, A\'s pending messages included' })
  t.same(sender.sent.map((s) => s.openid).sort(), messages.map((m) => String(m.FromUserName)).sort(), 'every message answered once, none lost')
  t.equal((b.messagesRepository as MemoryMessagesRepository).count('in'), 8)
  t.equal((b.messagesRepository as MemoryMessagesRepository).count('out'), 8, 'one reply record each (A\'s memory store died with it)')
})

t.test('Redis refusing connections: pushes answered 503 quickly, never success', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig({ REDIS_URL: 'redis://127.0.0.1:1', PUSH_ACK_TIMEOUT_MS: '500' }), clock })
  const p = buildPush(textMessage('o1', 'hi', clock.seconds), { mode: 'safe', format: 'json', timestamp: clock.seconds })
  const started = Date.now()
  const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'CS_QUEUE_UNAVAILABLE')
  t.ok(Date.now() - started < 1000, 'answered at once')
  const metrics = await callInternal(app, { url: '/metrics' })
  t.match(metrics.body, /cs_push_ack_seconds_count\{outcome="unavailable"\} 1/)
})

t.test('a queue that never answers: 503 within PUSH_ACK_TIMEOUT_MS, and the next push works', async (t) => {
  const clock = new RealTimeClock()
  const real = new MemoryInboundQueue({ dedupTtlMs: 60_000 })
  let stall = true
  const queue: InboundQueue = Object.assign(Object.create(real) as InboundQueue, {
    enqueueOnce: async (...args: Parameters<InboundQueue['enqueueOnce']>) => {
      if (stall) return await new Promise<never>(() => {})
      return await real.enqueueOnce(...args)
    }
  })
  t.teardown(() => real.close())
  const app = await buildCs(t, { config: testConfig({ PUSH_ACK_TIMEOUT_MS: '300', WORKER_ENABLED: 'false' }), clock, queue })
  const fields = textMessage('o1', 'hi', clock.seconds)
  const p = buildPush(fields, { mode: 'plaintext', format: 'xml', timestamp: clock.seconds })
  const started = Date.now()
  const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
  const took = Date.now() - started
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'CS_QUEUE_UNAVAILABLE')
  t.ok(took >= 290 && took < 1500, `answered in ${took} ms, well within WeChat's 5 s`)
  stall = false
  const retry = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
  t.equal(retry.body, 'success', "WeChat's retry is recorded")
})

t.test('a Redis that accepts connections but never answers: commands time out', async (t) => {
  const sockets = new Set<Socket>()
  const silent = createServer((s) => { sockets.add(s); s.on('error', () => {}) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const port = (silent.address() as { port: number }).port
  // The connection the redis plugin makes: no offline queue, a command timeout.
  const redis = createRedis(`redis://127.0.0.1:${port}`, { enableOfflineQueue: false, commandTimeout: 300, lazyConnect: true })
  redis.on('error', () => {})
  t.teardown(async () => {
    redis.disconnect()
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })
  const queue = new RedisInboundQueue({ redis, appId: 'wx0123456789abcdef', dedupTtlSec: 60 })
  redis.connect().catch(() => {})
  await new Promise((resolve) => setTimeout(resolve, 100))
  const started = Date.now()
  await t.rejects(queue.enqueueOnce('msg:1', { ToUserName: 'gh', FromUserName: 'o', CreateTime: 1, MsgType: 'text' }, new Date()))
  t.ok(Date.now() - started < 1000, 'refused quickly instead of waiting for Redis')
})
