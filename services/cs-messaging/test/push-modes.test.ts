import t from 'tap'
import { BusChannels, type BusEvent } from '@weapp/common'
import { urlSignature } from '@weapp/wechat'
import { RealTimeClock, callPublic, waitFor } from '@weapp/test-kit'
import { buildCs, busSubscribed, callInternal, PUSH_TOKEN, testConfig } from './fixtures/harness.js'
import { FORMATS, MODES, buildPush, enterSession, textMessage } from './fixtures/push.js'
import type { MemoryMessagesRepository } from '../src/repositories/memory.js'

t.test('GET verification on both paths: echostr verbatim when the signature holds', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  for (const path of ['/wechat/callback', '/weapp/message']) {
    const timestamp = String(clock.seconds)
    const nonce = '1514711492'
    const echostr = '4375120948345356249'
    const ok = await callPublic(app, { url: `${path}?signature=${urlSignature(PUSH_TOKEN, timestamp, nonce)}&timestamp=${timestamp}&nonce=${nonce}&echostr=${echostr}` })
    t.equal(ok.statusCode, 200)
    t.equal(ok.body, echostr, 'echostr verbatim, no quotes or newline')
    t.match(ok.headers['content-type'], /^text\/plain/)
    const bad = await callPublic(app, { url: `${path}?signature=${'0'.repeat(40)}&timestamp=${timestamp}&nonce=${nonce}&echostr=${echostr}` })
    t.equal(bad.statusCode, 401)
    t.equal(bad.json().code, 'CS_SIGNATURE_INVALID')
    t.notMatch(bad.body, echostr)
    // The gateway adds its credential: accepted as well.
    const viaGateway = await callInternal(app, { url: `${path}?signature=${urlSignature(PUSH_TOKEN, timestamp, nonce)}&timestamp=${timestamp}&nonce=${nonce}&echostr=${echostr}` })
    t.equal(viaGateway.statusCode, 200)
  }
})

t.test('every mode x format x path: answered success, recorded once, processed', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  const events: BusEvent[] = []
  await app.bus.subscribe(BusChannels.cs, (e) => { events.push(e) })
  await busSubscribed(app, BusChannels.cs)
  const repo = app.messagesRepository as MemoryMessagesRepository
  let n = 0
  for (const path of ['/wechat/callback', '/weapp/message']) {
    for (const mode of MODES) {
      for (const format of FORMATS) {
        const openid = `o_${mode}_${format}_${n++}`
        const fields = textMessage(openid, `hello <${mode}> & ${format} 你好`, clock.seconds)
        const push = buildPush(fields, { mode, format, timestamp: clock.seconds, path })
        const res = await callPublic(app, { method: 'POST', url: push.url, payload: push.payload, headers: { 'content-type': push.contentType } })
        t.equal(res.statusCode, 200, `${path} ${mode} ${format}: ${res.body}`)
        t.equal(res.body, 'success')
        await waitFor(async () => (await repo.findByKey(`msg:${String(fields.MsgId)}`)) !== null, { timeoutMs: 3000, what: `${mode} ${format} stored` })
        const stored = await repo.findByKey(`msg:${String(fields.MsgId)}`)
        t.equal((stored?.message as { MsgId?: string } | undefined)?.MsgId, fields.MsgId, 'MsgId kept exactly (beyond 2^53)')
        t.equal((stored?.message as { Content?: string }).Content, fields.Content)
        t.equal(stored?.message.CreateTime, fields.CreateTime)
        t.equal(stored?.openid, openid)
      }
    }
  }
  await waitFor(() => events.length === 12, { timeoutMs: 3000, what: 'bus events' })
  t.ok(events.every((e) => e.type === 'cs.inbound'))
  const metrics = await callInternal(app, { url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  for (const mode of MODES) t.match(metrics.body, new RegExp(`cs_pushes_total\\{mode="${mode}",format="xml",type="text"\\} 2`))
})

t.test('content type is ignored: the first character decides', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  for (const [format, contentType] of [['json', 'text/plain'], ['xml', 'application/json'], ['json', 'application/octet-stream'], ['xml', 'application/x-www-form-urlencoded']] as const) {
    const push = buildPush(textMessage('o_ct', 'x', clock.seconds), { mode: 'safe', format, timestamp: clock.seconds })
    const res = await callPublic(app, { method: 'POST', url: push.url, payload: ' \n' + push.payload, headers: { 'content-type': contentType } })
    t.equal(res.statusCode, 200, `${format} sent as ${contentType}: ${res.body}`)
  }
  const push = buildPush(textMessage('o_ct', 'x', clock.seconds), { mode: 'plaintext', format: 'json', timestamp: clock.seconds })
  const none = await app.inject({ method: 'POST', url: push.url, payload: push.payload })
  t.equal(none.statusCode, 200, 'no content type at all')
})

t.test('events, unknown types and the cloud-hosting probe', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  const repo = app.messagesRepository as MemoryMessagesRepository
  // One timestamp for the whole test: the clock follows real time, and a second boundary crossed between
  // building the json and xml copies would make them different messages.
  const t0 = clock.seconds
  const pushes = [
    enterSession('o_evt', t0),
    { ToUserName: 'gh_x', FromUserName: 'o_evt', CreateTime: t0, MsgType: 'event', Event: 'some_future_event', Extra: 'kept' },
    { ToUserName: 'gh_x', FromUserName: 'o_evt', CreateTime: t0, MsgType: 'hologram', MsgId: '1', Payload: 'kept' },
    { ToUserName: 'gh_x', FromUserName: 'o_evt', CreateTime: t0, MsgType: 'event', Event: 'subscribe_msg_sent_event', List: { TemplateId: 't1', MsgID: '1700827132819554304', ErrorCode: 0, ErrorStatus: 'success' } }
  ]
  for (const format of ['json', 'xml'] as const) {
    for (const fields of pushes) {
      const push = buildPush(fields, { mode: 'safe', format, timestamp: t0 })
      const res = await callPublic(app, { method: 'POST', url: push.url, payload: push.payload })
      t.equal(res.statusCode, 200, res.body)
      t.equal(res.body, 'success')
    }
  }
  await waitFor(() => repo.size === 4, { timeoutMs: 3000, what: 'four distinct messages stored (xml copies are duplicates)' })
  const future = await repo.findByKey(`evt:o_evt:${t0}:some_future_event`)
  t.equal((future?.message as { Extra?: string }).Extra, 'kept', 'unknown event recorded whole')
  const hologram = await repo.findByKey('msg:1')
  t.equal(hologram?.msgType, 'hologram')
  const sent = await repo.findByKey(`evt:o_evt:${t0}:subscribe_msg_sent_event`)
  t.equal(((sent?.message as { List?: { MsgID?: string } }).List)?.MsgID, '1700827132819554304', 'nested 64-bit MsgID kept exactly')

  for (const query of ['', `?signature=${urlSignature(PUSH_TOKEN, String(t0), '1')}&timestamp=${t0}&nonce=1`]) {
    const probe = await callPublic(app, { method: 'POST', url: `/wechat/callback${query}`, payload: '{"action":"CheckContainerPath"}', headers: { 'content-type': 'application/json' } })
    t.equal(probe.statusCode, 200)
    t.equal(probe.body, 'success')
  }
  t.equal(repo.size, 4, 'the probe is not recorded')
  t.equal((await app.inboundQueue.stats()).length, 0)
})
