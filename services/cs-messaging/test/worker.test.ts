import t from 'tap'
import { BusChannels, type BusEvent } from '@weapp/common'
import { BusyError, MsgCrypt, errorFromErrcode } from '@weapp/wechat'
import { RealTimeClock, callPublic, waitFor, type TestClock } from '@weapp/test-kit'
import { ADMIN, AES_KEY, APP_ID, PUSH_TOKEN, RecordingSender, buildCs, busSubscribed, callInternal, testConfig } from './fixtures/harness.js'
import { FORMATS, MODES, buildPush, enterSession, textMessage, type Fields } from './fixtures/push.js'
import { BACKENDS } from './fixtures/backends.js'
import type { FastifyInstance } from 'fastify'
import { parsePushXml } from '../src/push/xml.js'
import type { InboundRecord } from '../src/repositories/types.js'
import { MemoryInboundQueue } from '../src/queue/memory.js'
import type { Delivery } from '../src/queue/types.js'

const RULES = JSON.stringify([
  { match: 'contains', keyword: 'price', ignoreCase: true, reply: 'Our prices: https://example.com/prices' },
  { match: 'exact', keyword: '人工', transfer: true },
  { match: 'regex', keyword: '^order\\s+\\d+$', ignoreCase: true, reply: 'Checking your order…' }
])

async function push (app: FastifyInstance, fields: Fields, clock: TestClock, mode: 'plaintext' | 'compatible' | 'safe' = 'safe', format: 'xml' | 'json' = 'json', appId?: string): Promise<{ status: number, body: string }> {
  const p = buildPush(fields, { mode, format, timestamp: clock.seconds, ...(appId !== undefined ? { appId } : {}) })
  const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
  return { status: res.statusCode, body: res.body }
}

async function drained (app: FastifyInstance): Promise<boolean> {
  const s = await app.inboundQueue.stats()
  return s.length === 0 && s.pending === 0 && s.delayed === 0
}

for (const backend of BACKENDS) {
  t.test(`${backend.name}: duplicates and retries are processed once`, { skip: backend.skip }, async (t) => {
    const clock = new RealTimeClock()
    const env = backend.env(t)
    const app = await buildCs(t, { config: testConfig(env), clock })
    const events: BusEvent[] = []
    await app.bus.subscribe(BusChannels.cs, (e) => { events.push(e) })
    await busSubscribed(app, BusChannels.cs)
    const fields = textMessage('o_dup', 'hello', clock.seconds)
    const answers = []
    // WeChat's retries, in every mode and format (the same MsgId), and a burst of concurrent copies.
    for (const mode of MODES) for (const format of FORMATS) answers.push(await push(app, fields, clock, mode, format, env.APP_ID))
    answers.push(...await Promise.all(Array.from({ length: 10 }, async () => await push(app, fields, clock, 'safe', 'json', env.APP_ID))))
    t.ok(answers.every((a) => a.status === 200 && a.body === 'success'), 'every copy answered success')
    const event = enterSession('o_dup', clock.seconds)
    for (let i = 0; i < 3; i++) t.equal((await push(app, event, clock, 'plaintext', 'xml', env.APP_ID)).body, 'success')
    await waitFor(async () => await drained(app), { timeoutMs: 5000, what: 'queue drained' })
    await waitFor(() => events.length >= 2, { timeoutMs: 3000, what: 'bus events' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.equal((await app.messagesRepository.listConversation('o_dup', { limit: 10 })).length, 2, 'one message and one event stored')
    t.equal(events.filter((e) => e.type === 'cs.inbound').length, 2, 'each published once')
    const metrics = (await callInternal(app, { url: '/metrics' })).body
    t.match(metrics, /cs_dedup_hits_total 17/)
    t.match(metrics, /cs_worker_processed_total 2/)
    t.match(metrics, /cs_push_ack_seconds_count\{outcome="duplicate"\} 17/)
  })

  t.test(`${backend.name}: auto-replies, send windows and the hand-over`, { skip: backend.skip }, async (t) => {
    const clock = new RealTimeClock()
    const env = backend.env(t)
    const sender = new RecordingSender()
    const app = await buildCs(t, { config: testConfig({ ...env, WELCOME_TEXT: 'Welcome! How can we help?', AUTO_REPLY_RULES: RULES }), clock, sender })
    const appId = env.APP_ID

    // Entering the session: the welcome text, within the 2-message / 1-minute window.
    const enteredAt = clock.seconds
    t.equal((await push(app, enterSession('o1', enteredAt), clock, 'safe', 'xml', appId)).body, 'success', 'events are never transferred')
    await waitFor(() => sender.sent.length === 1, { timeoutMs: 3000, what: 'welcome sent' })
    t.same(sender.sent[0], { openid: 'o1', message: { msgtype: 'text', text: { content: 'Welcome! How can we help?' } } })

    // Keyword rules; a message without a matching rule gets nothing.
    // (All in the same second as the session entry: one user action time, one 48 h window.)
    const t0 = enteredAt
    await push(app, textMessage('o1', 'What is the PRICE?', t0), clock, 'plaintext', 'json', appId)
    await push(app, textMessage('o1', 'Order 42', t0), clock, 'compatible', 'xml', appId)
    await push(app, textMessage('o1', 'hello there', t0), clock, 'safe', 'json', appId)
    await waitFor(async () => await drained(app), { timeoutMs: 5000, what: 'drained' })
    t.same(sender.sent.slice(1).map((s) => s.message.msgtype === 'text' ? s.message.text.content : '').sort(), [
      'Checking your order…',
      'Our prices: https://example.com/prices'
    ], 'keyword replies')
    t.equal(sender.sent.length, 3)
    // Every auto-reply is in the conversation log, like the admin API's sends.
    const replies = (await app.messagesRepository.listConversation('o1', { limit: 20 })).filter((r) => r.direction === 'out')
    t.same(replies.map((r) => r.direction === 'out' ? [r.sentBy, r.outcome, r.message.msgtype === 'text' ? r.message.text.content : ''] : []).sort(), [
      ['auto:keyword', 'sent', 'Checking your order…'],
      ['auto:keyword', 'sent', 'Our prices: https://example.com/prices'],
      ['auto:welcome', 'sent', 'Welcome! How can we help?']
    ], 'auto-replies recorded with their outcome')
    t.ok(replies.every((r) => r.key.startsWith('out:auto:')), 'keyed by the inbound message')
    const window = await app.sendWindows.peek('o1', clock.now())
    t.equal(window?.kind, 'message', 'the user message opened the 48 h window')
    t.equal(window?.remaining, 3, 'two of its five messages used (keyword replies)')

    // Quota: six matching messages from one action time; only five replies fit in the window.
    const same = clock.seconds
    for (let i = 0; i < 6; i++) await push(app, textMessage('o2', `price ${i}`, same), clock, 'safe', 'json', appId)
    await waitFor(async () => await drained(app), { timeoutMs: 5000, what: 'drained' })
    t.equal(sender.sent.filter((s) => s.openid === 'o2').length, 5, 'never more than the window allows')
    const metrics = (await callInternal(app, { url: '/metrics' })).body
    t.match(metrics, /cs_auto_replies_total\{result="window_exhausted"\} 1/)
    const o2 = (await app.messagesRepository.listConversation('o2', { limit: 20 })).filter((r) => r.direction === 'out')
    t.same(o2.map((r) => r.direction === 'out' ? `${r.outcome}${r.errorCode !== undefined ? ` ${r.errorCode}` : ''}` : '').sort(), [
      'refused CS_SEND_QUOTA_EXCEEDED', 'sent', 'sent', 'sent', 'sent', 'sent'
    ], 'the reply the window refused is recorded as refused')
    t.match(metrics, /cs_auto_replies_total\{result="sent"\} 8/)

    // The hand-over keyword: transfer_customer_service in the push's own format; nothing sent.
    const before = sender.sent.length
    const xml = await push(app, textMessage('o3', '人工', clock.seconds), clock, 'plaintext', 'xml', appId)
    t.match(xml.body, /^<xml><ToUserName><!\[CDATA\[o3\]\]><\/ToUserName><FromUserName><!\[CDATA\[gh_0123456789ab\]\]><\/FromUserName><CreateTime>\d+<\/CreateTime><MsgType><!\[CDATA\[transfer_customer_service\]\]><\/MsgType><\/xml>$/)
    const json = await push(app, textMessage('o3', '人工', clock.seconds + 1), clock, 'plaintext', 'json', appId)
    t.same({ ...JSON.parse(json.body), CreateTime: 0 }, { ToUserName: 'o3', FromUserName: 'gh_0123456789ab', CreateTime: 0, MsgType: 'transfer_customer_service' })
    await waitFor(async () => await drained(app), { timeoutMs: 5000, what: 'drained' })
    t.equal(sender.sent.length, before, 'a hand-over sends nothing')
  })

  t.test(`${backend.name}: a failing send is retried with back-off, dead-lettered, replayed`, { skip: backend.skip }, async (t) => {
    const clock = new RealTimeClock()
    const env = backend.env(t)
    const sender = new RecordingSender()
    sender.failWith = { error: Object.assign(new BusyError('system busy (/cgi-bin/message/custom/send)'), { errcode: -1, errmsg: 'system busy' }), times: Infinity }
    const app = await buildCs(t, { config: testConfig({ ...env, AUTO_REPLY_RULES: RULES, WORKER_MAX_ATTEMPTS: '3' }), clock, sender })
    const events: BusEvent[] = []
    await app.bus.subscribe(BusChannels.cs, (e) => { events.push(e) })
    const fields = textMessage('o_dl', 'price?', clock.seconds)
    t.equal((await push(app, fields, clock, 'safe', 'json', env.APP_ID)).body, 'success')
    await waitFor(async () => (await app.inboundQueue.stats()).deadLetters === 1, { timeoutMs: 5000, what: 'dead-lettered' })
    t.equal(sender.calls, 3, 'three attempts (WORKER_MAX_ATTEMPTS)')
    t.equal(sender.sent.length, 0)

    // Admin API: the internal credential and an admin identity.
    const noAuth = await callPublic(app, { url: '/api/cs/dead-letters' })
    t.equal(noAuth.statusCode, 401)
    t.equal(noAuth.json().code, 'COMMON_INTERNAL_AUTH_MISSING')
    const noIdentity = await callInternal(app, { url: '/api/cs/dead-letters' })
    t.equal(noIdentity.statusCode, 401)
    t.equal(noIdentity.json().code, 'COMMON_AUTH_REQUIRED')
    const asUser = await callInternal(app, { url: '/api/cs/dead-letters', identity: { kind: 'user', openid: 'o_dl', sessionId: 's', via: 'bearer' } })
    t.equal(asUser.statusCode, 403)
    t.equal(asUser.json().code, 'COMMON_FORBIDDEN')

    const list = await callInternal(app, { url: '/api/cs/dead-letters', identity: ADMIN })
    t.equal(list.statusCode, 200)
    const { items, next } = list.json()
    t.equal(items.length, 1)
    t.equal(next, null)
    t.equal(items[0].key, `msg:${String(fields.MsgId)}`)
    t.equal(items[0].message.MsgId, fields.MsgId, 'the 64-bit MsgId survives the dead-letter list')
    t.equal(items[0].openid, 'o_dl')
    t.equal(items[0].attempts, 3)
    t.match(items[0].error, /WECHAT_BUSY/)

    const missing = await callInternal(app, { method: 'POST', url: '/api/cs/dead-letters/1-0/replay', identity: ADMIN })
    t.equal(missing.statusCode, 404)
    t.equal(missing.json().code, 'CS_DEAD_LETTER_NOT_FOUND')
    const malformed = await callInternal(app, { method: 'POST', url: '/api/cs/dead-letters/nope/replay', identity: ADMIN })
    t.equal(malformed.statusCode, 400)

    sender.failWith = null
    const replay = await callInternal(app, { method: 'POST', url: `/api/cs/dead-letters/${String(items[0].id)}/replay`, identity: ADMIN })
    t.equal(replay.statusCode, 202)
    t.equal(replay.json().replayed, items[0].id)
    await waitFor(() => sender.sent.length === 1, { timeoutMs: 5000, what: 'sent after the replay' })
    await waitFor(async () => await drained(app), { timeoutMs: 5000, what: 'drained' })
    t.equal((await app.inboundQueue.stats()).deadLetters, 0)
    t.equal(events.filter((e) => e.type === 'cs.inbound').length, 1, 'published once across all attempts')
    await waitFor(() => events.some((e) => e.type === 'cs.outbound'), { timeoutMs: 3000, what: 'cs.outbound published' })
    t.equal(events.filter((e) => e.type === 'cs.outbound').length, 1)
    const reply = await app.messagesRepository.findOutbound(`out:auto:msg:${String(fields.MsgId)}`)
    t.equal(reply?.outcome, 'sent', 'one reply record across the failed attempts and the replay, with the final outcome')
    t.equal(reply?.sentBy, 'auto:keyword')
    const again = await callInternal(app, { method: 'POST', url: `/api/cs/dead-letters/${String(items[0].id)}/replay`, identity: ADMIN })
    t.equal(again.statusCode, 404, 'replayed once')
    const metrics = (await callInternal(app, { url: '/metrics' })).body
    t.match(metrics, /cs_worker_failed_total\{next="retry"\} 2/)
    t.match(metrics, /cs_worker_failed_total\{next="dead_letter"\} 1/)
    t.match(metrics, /cs_dead_lettered_total 1/)
    t.match(metrics, /cs_dead_letters 0/)
  })
}

t.test('transfer reply in every mode and format (encrypted when the push was)', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig({ TRANSFER_TO_CS: 'true' }), clock })
  const crypt = new MsgCrypt({ token: PUSH_TOKEN, encodingAESKey: AES_KEY, appId: APP_ID })
  for (const mode of MODES) {
    for (const format of FORMATS) {
      const p = buildPush(textMessage('o_t', 'anything', clock.seconds), { mode, format, timestamp: clock.seconds, nonce: '778899' })
      const res = await callPublic(app, { method: 'POST', url: p.url, payload: p.payload })
      t.equal(res.statusCode, 200)
      let inner = res.body
      if (mode !== 'plaintext') {
        const env = format === 'json'
          ? res.json()
          : parsePushXml(res.body) as Record<string, string>
        t.equal(String(env.Nonce), '778899', `${mode} ${format}: nonce echoed`)
        t.equal(env.MsgSignature, crypt.signature(String(env.TimeStamp), '778899', env.Encrypt), `${mode} ${format}: signed`)
        inner = crypt.decrypt(env.Encrypt)
      }
      t.match(inner, format === 'json' ? /"MsgType":"transfer_customer_service"/ : /<MsgType><!\[CDATA\[transfer_customer_service\]\]><\/MsgType>/, `${mode} ${format}`)
      t.match(inner, format === 'json' ? /^\{"ToUserName":"o_t"/ : /^<xml><ToUserName><!\[CDATA\[o_t\]\]>/)
    }
  }
  const evt = await callPublic(app, { method: 'POST', ...(({ url, payload }) => ({ url, payload }))(buildPush(enterSession('o_t', clock.seconds), { mode: 'safe', format: 'json', timestamp: clock.seconds })) })
  t.equal(evt.body, 'success', 'never for events')
})

t.test('sends that can never succeed are recorded, not retried; no sender: skipped', async (t) => {
  const clock = new RealTimeClock()
  const sender = new RecordingSender()
  sender.failWith = { error: errorFromErrcode(40003, 'invalid openid', '/cgi-bin/message/custom/send'), times: 1 }
  const app = await buildCs(t, { config: testConfig({ AUTO_REPLY_RULES: RULES }), clock, sender })
  await push(app, textMessage('o_x', 'price', clock.seconds), clock)
  await waitFor(async () => await drained(app), { timeoutMs: 5000, what: 'drained' })
  t.equal(sender.calls, 1, 'not retried')
  const conversation = await app.messagesRepository.listConversation('o_x', { limit: 10 })
  const record = conversation.find((r): r is InboundRecord => r.direction === 'in')
  const rejected = conversation.find((r) => r.direction === 'out')
  t.equal(rejected?.direction === 'out' && rejected.outcome, 'rejected', 'the rejected reply is recorded')
  t.equal(rejected?.direction === 'out' && rejected.errcode, 40003)
  t.equal(record?.steps.autoReply?.status, 'skipped')
  t.match(record?.steps.autoReply?.detail, /40003/)
  t.equal((await app.inboundQueue.stats()).deadLetters, 0)

  // No APP_SECRET: the unwired sender refuses, the message is still processed and acknowledged.
  const unwired = await buildCs(t, { config: testConfig({ AUTO_REPLY_RULES: RULES }), clock })
  await push(unwired, textMessage('o_y', 'price', clock.seconds), clock)
  await waitFor(async () => await drained(unwired), { timeoutMs: 5000, what: 'drained' })
  const [y, ...rest] = await unwired.messagesRepository.listConversation('o_y', { limit: 10 }) as InboundRecord[]
  t.equal(rest.length, 0, 'nothing attempted, nothing recorded as sent')
  t.equal(y?.steps.autoReply?.status, 'skipped')
  t.equal(y?.steps.autoReply?.detail, 'no outbound sender')
  t.match((await callInternal(unwired, { url: '/metrics' })).body, /cs_auto_replies_total\{result="not_wired"\} 1/)
  const window = await unwired.sendWindows.peek('o_y', clock.now())
  t.equal(window?.remaining, 5, 'the window message taken for the refused send was given back')
})

// A processed message whose ack fails (Redis away; with PUSH_DURABILITY=replicated, an ack no replica confirmed
// while the primary fails over) is acked again, well before another worker would take it as abandoned.
t.test('a failed acknowledgement is made again: the message is processed once', async (t) => {
  class AckFailsTwice extends MemoryInboundQueue {
    failedAcks = 0
    override async ack (delivery: Delivery): Promise<void> {
      if (this.failedAcks < 2) {
        this.failedAcks++
        throw new Error('Connection is closed.')
      }
      await super.ack(delivery)
    }
  }
  const clock = new RealTimeClock()
  const queue = new AckFailsTwice({ dedupTtlMs: 60_000 })
  const app = await buildCs(t, { config: testConfig({ WORKER_CLAIM_IDLE_MS: '4000' }), clock, queue })
  t.equal((await push(app, textMessage('o_ack', 'hello', clock.seconds), clock)).body, 'success')
  await waitFor(async () => await drained(app), { timeoutMs: 5000, what: 'the ack, made again' })
  t.equal(queue.failedAcks, 2, 'two acks failed')
  const metrics = (await callInternal(app, { url: '/metrics' })).body
  t.match(metrics, /cs_worker_processed_total 1\n/, 'processed once, acked')
  t.equal((await app.messagesRepository.listConversation('o_ack', { limit: 10 })).length, 1, 'recorded once')
})

t.test('an acknowledgement that cannot be written within half the claim time is given up and counted (the message stays pending)', async (t) => {
  class AckAlwaysFails extends MemoryInboundQueue {
    override async ack (): Promise<void> { throw new Error('Connection is closed.') }
  }
  const clock = new RealTimeClock()
  const queue = new AckAlwaysFails({ dedupTtlMs: 60_000 })
  const app = await buildCs(t, { config: testConfig({ WORKER_CLAIM_IDLE_MS: '1000' }), clock, queue })
  t.equal((await push(app, textMessage('o_unsettled', 'hello', clock.seconds), clock)).body, 'success')
  const metrics = async (): Promise<string> => (await callInternal(app, { url: '/metrics' })).body as string
  await waitFor(async () => /cs_worker_unsettled_total\{what="ack"\} [1-9]/.test(await metrics()), { timeoutMs: 5000, what: 'the ack given up' })
  t.match(await metrics(), /cs_worker_processed_total 0\n/, 'not counted as processed')
  t.ok((await queue.stats()).pending >= 1, 'still pending: another worker takes it over after the claim time')
})

t.test('metrics need the internal credential', async (t) => {
  const app = await buildCs(t, { config: testConfig() })
  const res = await callPublic(app, { url: '/metrics' })
  t.equal(res.statusCode, 401)
  const ok = await callInternal(app, { url: '/metrics' })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^text\/plain/)
  for (const name of ['cs_push_ack_seconds', 'cs_pushes_total', 'cs_dedup_hits_total', 'cs_queue_length', 'cs_queue_lag_seconds', 'cs_dead_letters', 'cs_worker_processed_total', 'cs_worker_failed_total', 'cs_worker_unsettled_total']) {
    t.match(ok.body, new RegExp(`# TYPE ${name} `), name)
  }
  const health = await callPublic(app, { url: '/healthz' })
  t.same(health.json(), { status: 'ok', service: 'cs-messaging' })
})
