import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { BusChannels, type BusEvent } from '@weapp/common'
import { RealTimeClock, callPublic, waitFor } from '@weapp/test-kit'
import { RecordingSender, buildCs, busSubscribed, testConfig } from './fixtures/harness.js'
import { buildPush, textMessage } from './fixtures/push.js'
import { BACKENDS, redisEnv } from './fixtures/backends.js'
import type { MemoryMessagesRepository } from '../src/repositories/memory.js'
import { SEND_PATH, sendingEnv, startSim } from './fixtures/sim.js'

// One user's backlog must not hold up everyone else: alice's twelve messages each get an auto-reply that
// the simulated WeChat answers slowly, then bob writes once. Bob's message is processed while alice's
// backlog is still being worked through, and alice's messages stay in the order she sent them.

const RULES = JSON.stringify([{ match: 'contains', keyword: 'order', reply: 'Looking into it' }])
const BACKLOG = 12
const SEND_DELAY_MS = 200

async function drained (app: FastifyInstance): Promise<boolean> {
  const s = await app.inboundQueue.stats()
  return s.length === 0 && s.pending === 0 && s.delayed === 0
}

for (const backend of BACKENDS) {
  t.test(`${backend.name}: another user's message is not stuck behind one user's slow backlog; each user's order is kept`, { skip: backend.skip }, async (t) => {
    const env = backend.env(t)
    const sim = await startSim(t, env.APP_ID)
    const clock = new RealTimeClock()
    const app = await buildCs(t, { config: testConfig({ ...env, ...sendingEnv(sim), AUTO_REPLY_RULES: RULES, WORKER_CONCURRENCY: '4' }), clock })
    const inbound: string[] = []
    await app.bus.subscribe(BusChannels.cs, (e: BusEvent) => {
      if (e.type === 'cs.inbound') inbound.push(`${e.openid}:${String((e.message as { Content?: unknown }).Content)}`)
    })
    await busSubscribed(app, BusChannels.cs)
    // Every send waits SEND_DELAY_MS in the simulator (a slow WeChat), then answers (45015: these users
    // never wrote through the simulator, so the replies are recorded as rejected, not retried).
    await sim.control.fault({ path: SEND_PATH, delayMs: SEND_DELAY_MS, count: BACKLOG + 10 })

    // Each of alice's messages is a later user action (CreateTime + i): each opens our window afresh, so
    // every one of them really calls WeChat.
    const t0 = clock.seconds
    const push = async (openid: string, content: string, at: number): Promise<void> => {
      const p = buildPush(textMessage(openid, content, at), { mode: 'safe', format: 'json', timestamp: clock.seconds, appId: env.APP_ID })
      const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
      t.equal(res.body, 'success')
    }
    for (let i = 1; i <= BACKLOG; i++) await push('o_alice', `order ${i}`, t0 + i)
    await push('o_bob', 'order 99', t0)

    await waitFor(() => inbound.includes('o_bob:order 99'), { timeoutMs: 5000, what: 'bob\'s message processed' })
    const aliceBefore = inbound.slice(0, inbound.indexOf('o_bob:order 99')).filter((e) => e.startsWith('o_alice:')).length
    t.ok(aliceBefore <= 3, `bob's message was processed after only ${aliceBefore} of alice's ${BACKLOG} (not behind her backlog)`)
    const aliceSoFar = inbound.filter((e) => e.startsWith('o_alice:')).length
    t.ok(aliceSoFar < BACKLOG, `alice's backlog was still draining (${aliceSoFar} of ${BACKLOG} started)`)

    await waitFor(async () => await drained(app), { timeoutMs: BACKLOG * SEND_DELAY_MS + 10_000, what: 'alice\'s backlog drained' })
    t.same(inbound.filter((e) => e.startsWith('o_alice:')), Array.from({ length: BACKLOG }, (_, i) => `o_alice:order ${i + 1}`), 'alice\'s messages in the order she sent them')
    const replies = (await app.messagesRepository.listConversation('o_alice', { limit: 100 })).filter((r) => r.direction === 'out')
    t.equal(replies.length, BACKLOG, 'each of alice\'s messages got its reply attempt')
    t.equal(app.inboundWorker.held, 0, 'nothing left held')
  })
}

t.test('held messages are kept alive: another instance does not take them over as abandoned', { skip: process.env.REDIS_URL === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const env = redisEnv(t)
  const sim = await startSim(t, env.APP_ID)
  const clock = new RealTimeClock()
  // Claimed after 400 ms of idleness: alice's backlog waits far longer than that behind her own messages.
  const config = testConfig({ ...env, ...sendingEnv(sim), AUTO_REPLY_RULES: RULES, WORKER_CLAIM_IDLE_MS: '400' })
  await sim.control.fault({ path: SEND_PATH, delayMs: 150, count: 20 })
  const a = await buildCs(t, { config, clock })
  const inbound: string[] = []
  await a.bus.subscribe(BusChannels.cs, (e: BusEvent) => {
    if (e.type === 'cs.inbound' && e.openid === 'o_alice') inbound.push(String((e.message as { Content?: unknown }).Content))
  })
  await busSubscribed(a, BusChannels.cs)
  const t0 = clock.seconds
  for (let i = 1; i <= 8; i++) {
    const p = buildPush(textMessage('o_alice', `order ${i}`, t0 + i), { mode: 'safe', format: 'json', timestamp: clock.seconds, appId: env.APP_ID })
    t.equal((await callPublic(a, { method: 'POST', url: p.url, payload: p.payload })).body, 'success')
  }
  await waitFor(() => a.inboundWorker.held >= 6, { timeoutMs: 3000, what: 'instance A holds alice\'s backlog' })

  const other = new RecordingSender()
  const b = await buildCs(t, { config, clock, sender: other })
  await waitFor(async () => await drained(a), { timeoutMs: 10_000, what: 'drained' })
  t.equal(other.calls, 0, 'instance B never took one of the held messages')
  t.equal((b.messagesRepository as MemoryMessagesRepository).count('in'), 0, 'nor stored one')
  t.same(inbound, Array.from({ length: 8 }, (_, i) => `order ${i + 1}`), 'alice\'s messages processed by A, in order')
})
