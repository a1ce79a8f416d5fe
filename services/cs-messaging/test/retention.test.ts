import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { BusyError } from '@weapp/wechat'
import { RealTimeClock, callPublic, waitFor, type TestClock } from '@weapp/test-kit'
import { RecordingSender, buildCs, testConfig } from './fixtures/harness.js'
import { buildPush, textMessage } from './fixtures/push.js'
import { BACKENDS } from './fixtures/backends.js'

// Nothing grows without bound: dead letters are capped (DEAD_LETTER_MAX) and trimmed by age
// (DEAD_LETTER_RETENTION_DAYS) by the worker, the message log drops what is older than
// MESSAGE_RETENTION_DAYS (MongoDB: a TTL index, stores.test.ts), de-dup keys expire (DEDUP_TTL_SEC, queue.test.ts).

const DAY = 86_400_000

async function push (app: FastifyInstance, clock: TestClock, openid: string, content: string, appId?: string): Promise<void> {
  const p = buildPush(textMessage(openid, content, clock.seconds), { mode: 'safe', format: 'json', timestamp: clock.seconds, ...(appId !== undefined ? { appId } : {}) })
  const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
  if (res.body !== 'success') throw new Error(`push refused: ${res.body}`)
}

for (const backend of BACKENDS) {
  t.test(`${backend.name}: at most DEAD_LETTER_MAX dead letters; the worker deletes those past DEAD_LETTER_RETENTION_DAYS`, { skip: backend.skip }, async (t) => {
    const env = backend.env(t)
    const clock = new RealTimeClock()
    const sender = new RecordingSender()
    sender.failWith = { error: Object.assign(new BusyError('system busy'), { errcode: -1 }), times: Infinity }
    const config = testConfig({
      ...env,
      AUTO_REPLY_RULES: JSON.stringify([{ keyword: 'price', reply: 'See our prices' }]),
      WORKER_MAX_ATTEMPTS: '1',
      // One at a time: the dead letters are made in push order.
      WORKER_CONCURRENCY: '1',
      DEAD_LETTER_MAX: '10',
      DEAD_LETTER_RETENTION_DAYS: '1'
    })
    const app = await buildCs(t, { config, clock, sender, worker: { trimEveryMs: 50 } })
    for (let i = 0; i < 12; i++) await push(app, clock, `o_dl${i}`, `price ${i}`, env.APP_ID)
    await waitFor(() => sender.calls === 12, { timeoutMs: 5000, what: 'twelve failed replies' })
    await waitFor(async () => (await app.inboundQueue.stats()).length === 0, { timeoutMs: 5000, what: 'all settled' })
    t.equal((await app.inboundQueue.stats()).deadLetters, 10, 'twelve failed, ten kept')
    const listed = await app.inboundQueue.listDeadLetters({ limit: 20 })
    t.same(listed.map((d) => d.message.FromUserName).sort(), Array.from({ length: 10 }, (_, i) => `o_dl${i + 2}`).sort(), 'the two oldest were dropped')

    await new Promise((resolve) => setTimeout(resolve, 150))
    t.equal((await app.inboundQueue.stats()).deadLetters, 10, 'a day has not passed: all kept')
    clock.advance(DAY + 60_000)
    await waitFor(async () => (await app.inboundQueue.stats()).deadLetters === 0, { timeoutMs: 3000, what: 'dead letters older than a day trimmed by the worker' })
  })
}

t.test('embedded message log: messages older than MESSAGE_RETENTION_DAYS are deleted', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig({ MESSAGE_RETENTION_DAYS: '1' }), clock })
  await push(app, clock, 'o_old', 'first')
  await waitFor(async () => (await app.messagesRepository.listConversation('o_old', { limit: 5 })).length === 1, { timeoutMs: 3000, what: 'stored' })
  clock.advance(2 * DAY)
  await push(app, clock, 'o_new', 'two days later')
  await waitFor(async () => (await app.messagesRepository.listConversation('o_new', { limit: 5 })).length === 1, { timeoutMs: 3000, what: 'stored' })
  t.same(await app.messagesRepository.listConversation('o_old', { limit: 5 }), [], 'the two-day-old message is gone')
  t.same((await app.conversationsRepository.list({ view: 'all', agentId: 'a', limit: 10 })).map((c) => c.openid), ['o_new'], 'its conversation went with it')
})
