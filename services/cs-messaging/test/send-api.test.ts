import t from 'tap'
import { BusChannels, type BusEvent, type OutboundMessage } from '@weapp/common'
import { RealTimeClock, callPublic, listenLocal, waitFor } from '@weapp/test-kit'
import { ADMIN, AES_KEY, buildCs, busSubscribed, callInternal, PUSH_TOKEN, testConfig } from './fixtures/harness.js'
import { BACKENDS } from './fixtures/backends.js'
import {
  JPEG, PNG, SEND_PATH, TOKEN_PATH, calls, knownUser, send, sendingEnv, startSim, upload, userMessaged
} from './fixtures/sim.js'
import type { OutboundRecord } from '../src/repositories/types.js'

// The admin send API against the WeChat simulator: the real WechatClient, the real token providers
// (memory, or Redis with REDIS_URL), the simulator's send windows and faults.

const FAST_RETRIES = { retryBaseDelayMs: 1 }

async function outbound (app: Parameters<typeof send>[0], openid: string): Promise<OutboundRecord[]> {
  const log = await app.messagesRepository.listConversation(openid, { limit: 100 })
  return log.filter((r): r is OutboundRecord => r.direction === 'out')
}

for (const backend of BACKENDS) {
  t.test(`${backend.name}: every message type reaches the simulated user`, { skip: backend.skip }, async (t) => {
    const env = backend.env(t)
    const sim = await startSim(t, env.APP_ID)
    const clock = new RealTimeClock()
    const app = await buildCs(t, { config: testConfig({ ...env, ...sendingEnv(sim) }), clock })
    const appUrl = await listenLocal(app)
    const events: BusEvent[] = []
    await app.bus.subscribe(BusChannels.cs, (e) => { events.push(e) })
    await busSubscribed(app, BusChannels.cs)

    // The user writes (a real push): the worker opens our send window, the simulator opens WeChat's.
    await sim.control.pushConfig({ url: `${appUrl}/wechat/callback`, token: PUSH_TOKEN, encodingAESKey: AES_KEY, mode: 'safe', format: 'json' })
    const pushed = await sim.control.push({ user: 'alice', message: { MsgType: 'text', Content: 'hello?' } })
    t.ok(pushed.acceptable)
    const openid = String(pushed.message.FromUserName)
    await waitFor(async () => (await app.sendWindows.peek(openid, clock.now())) !== null, { timeoutMs: 5000, what: 'window opened by the push' })

    const uploaded = await upload(app, { data: PNG })
    t.equal(uploaded.statusCode, 201, uploaded.body)
    const { mediaId } = uploaded.json() as { mediaId: string }

    const messages: OutboundMessage[] = [
      { msgtype: 'text', text: { content: 'Hi Alice, 你好 <a href="https://example.com">link</a>' } },
      { msgtype: 'image', image: { media_id: mediaId } },
      { msgtype: 'link', link: { title: 'Our menu', description: 'Today only', url: 'https://example.com/menu?x=1', thumb_url: 'https://example.com/t.jpg' } },
      { msgtype: 'miniprogrampage', miniprogrampage: { title: 'Your order', pagepath: 'pages/order/index?id=42', thumb_media_id: mediaId } }
    ]
    const ids: string[] = []
    for (const message of messages) {
      const res = await send(app, { touser: openid, ...message })
      t.equal(res.statusCode, 201, `${message.msgtype}: ${res.body}`)
      const body = res.json() as { id: string, outcome: string }
      t.equal(body.outcome, 'sent')
      t.match(body.id, /^out:[0-9a-f-]{36}$/)
      t.equal(res.headers['x-cs-message-id'], body.id, 'the id is also in a header')
      ids.push(body.id)
    }

    const received = await sim.control.sent({ openid })
    t.same(received.messages.map(({ sentAt: _, ...m }) => m), messages, 'the user received each message exactly as sent')
    t.equal(received.window?.remaining, 1, 'four of the five messages used in WeChat\'s window')
    t.equal((await app.sendWindows.peek(openid, clock.now()))?.remaining, 1, 'and in ours')

    const log = await outbound(app, openid)
    t.same(log.map((r) => r.key).sort(), [...ids].sort(), 'every send is in the log')
    for (const r of log) {
      t.equal(r.outcome, 'sent')
      t.equal(r.sentBy, ADMIN.kind === 'admin' ? ADMIN.keyId : '')
      t.equal(r.forced, false)
      t.ok(r.completedAt instanceof Date)
    }
    await waitFor(() => events.filter((e) => e.type === 'cs.outbound').length === 4, { timeoutMs: 3000, what: 'published' })
    const published = events.filter((e): e is Extract<BusEvent, { type: 'cs.outbound' }> => e.type === 'cs.outbound')
    t.same(published.map((e) => [e.openid, e.ok, e.message.msgtype]), messages.map((m) => [openid, true, m.msgtype]))
    t.ok(published.every((e) => !Number.isNaN(Date.parse(e.sentAt))))

    // The fifth fits, the sixth is refused by our window check before WeChat is called.
    t.equal((await send(app, { touser: openid, msgtype: 'text', text: { content: 'five' } })).statusCode, 201)
    const before = await calls(sim, SEND_PATH)
    const refused = await send(app, { touser: openid, msgtype: 'text', text: { content: 'six' } })
    t.equal(refused.statusCode, 429)
    t.equal(refused.json().code, 'CS_SEND_QUOTA_EXCEEDED')
    t.match(refused.json().message, /5 messages per user message/)
    t.equal(await calls(sim, SEND_PATH), before, 'WeChat was not called')
    const refusedRecord = await app.messagesRepository.findOutbound(String(refused.headers['x-cs-message-id']))
    t.equal(refusedRecord?.outcome, 'refused')
    t.equal(refusedRecord?.errorCode, 'CS_SEND_QUOTA_EXCEEDED')
    await waitFor(() => events.some((e) => e.type === 'cs.outbound' && !e.ok), { timeoutMs: 3000, what: 'refusal published' })
  })

  t.test(`${backend.name}: a stale token is refreshed once and the send retried once, never in a loop`, { skip: backend.skip }, async (t) => {
    const env = backend.env(t)
    const sim = await startSim(t, env.APP_ID)
    const clock = new RealTimeClock()
    const app = await buildCs(t, { config: testConfig({ ...env, ...sendingEnv(sim) }), clock, wechat: FAST_RETRIES })
    const openid = await userMessaged(app, sim, clock, 'bob')
    const text = (content: string): object => ({ touser: openid, msgtype: 'text', text: { content } })

    t.equal((await send(app, text('warm up'))).statusCode, 201)
    t.equal(await calls(sim, TOKEN_PATH), 1, 'one token fetched')
    t.equal(await calls(sim, SEND_PATH), 1)

    await sim.control.fault({ path: SEND_PATH, errcode: 40001 })
    const retried = await send(app, text('after one 40001'))
    t.equal(retried.statusCode, 201, retried.body)
    t.equal(await calls(sim, TOKEN_PATH), 2, 'exactly one refresh')
    t.equal(await calls(sim, SEND_PATH), 3, 'exactly one retry')

    await sim.control.fault({ path: SEND_PATH, errcode: 40001, count: 2 })
    const failed = await send(app, text('after two 40001'))
    t.equal(failed.statusCode, 502)
    t.equal(failed.json().code, 'WECHAT_TOKEN_INVALID')
    t.equal(await calls(sim, TOKEN_PATH), 3, 'one refresh')
    t.equal(await calls(sim, SEND_PATH), 5, 'one retry, then the error: no loop')
    const record = await app.messagesRepository.findOutbound(String(failed.headers['x-cs-message-id']))
    t.equal(record?.outcome, 'rejected')
    t.equal(record?.errcode, 40001)
    t.equal(record?.errorCode, 'WECHAT_TOKEN_INVALID')
    t.equal((await app.sendWindows.peek(openid, clock.now()))?.remaining, 3, 'the failed send gave its quota back (5 - 2 sent)')
    t.equal((await sim.control.sent({ openid })).messages.length, 2)

    const metrics = (await callInternal(app, { url: '/metrics' })).body
    t.match(metrics, /cs_wechat_stale_token_total\{errcode="40001"\} 3/)
    t.match(metrics, /cs_wechat_token_fetches_total\{result="ok"\} 3/)
    t.match(metrics, /cs_sends_total\{outcome="rejected",errcode="40001"\} 1/)
    t.match(metrics, /cs_sends_total\{outcome="sent",errcode="none"\} 2/)
  })
}

t.test('the window check refuses before WeChat is called; force lets WeChat decide', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock, wechat: FAST_RETRIES })

  // Known to WeChat with an open window there, but we never saw the user act: our window is closed.
  const { openid } = await sim.control.userAction({ user: 'carol', kind: 'message' })
  const closed = await send(app, { touser: openid, msgtype: 'text', text: { content: 'hi' } })
  t.equal(closed.statusCode, 409)
  t.equal(closed.json().code, 'CS_SEND_WINDOW_CLOSED')
  t.match(closed.json().message, /no customer-service send window is open for .*48 h/)
  t.equal(await calls(sim, SEND_PATH), 0, 'no custom/send call')
  t.equal(await calls(sim, TOKEN_PATH), 0, 'not even a token fetch')
  const [refused] = await outbound(app, openid)
  t.equal(refused?.outcome, 'refused')
  t.equal(refused?.errorCode, 'CS_SEND_WINDOW_CLOSED')

  const forced = await send(app, { touser: openid, msgtype: 'text', text: { content: 'forced' }, force: true })
  t.equal(forced.statusCode, 201, 'forced: WeChat has a window, so it is sent')
  const record = await app.messagesRepository.findOutbound((forced.json() as { id: string }).id)
  t.equal(record?.forced, true)
  t.equal(record?.outcome, 'sent')

  // Session entry: two messages for a minute, in both views.
  const dave = await userMessaged(app, sim, clock, 'dave', 'enter_session')
  t.equal((await send(app, { touser: dave, msgtype: 'text', text: { content: '1' } })).statusCode, 201)
  t.equal((await send(app, { touser: dave, msgtype: 'text', text: { content: '2' } })).statusCode, 201)
  const sends = await calls(sim, SEND_PATH)
  const exhausted = await send(app, { touser: dave, msgtype: 'text', text: { content: '3' } })
  t.equal(exhausted.statusCode, 429)
  t.equal(exhausted.json().code, 'CS_SEND_QUOTA_EXCEEDED')
  t.equal(await calls(sim, SEND_PATH), sends, 'no custom/send call')

  // Forced past our check, WeChat answers 45047: passed through as WeChat's own typed error.
  const quota = await send(app, { touser: dave, msgtype: 'text', text: { content: '3' }, force: true })
  t.equal(await calls(sim, SEND_PATH), sends + 1, 'this time WeChat was asked')
  t.equal(quota.statusCode, 429)
  t.equal(quota.json().code, 'WECHAT_SEND_QUOTA_EXCEEDED')
  t.match(quota.json().message, /used up until the user acts again/)
  const quotaRecord = await app.messagesRepository.findOutbound(String(quota.headers['x-cs-message-id']))
  t.same([quotaRecord?.outcome, quotaRecord?.errcode, quotaRecord?.forced], ['rejected', 45047, true])

  // A user who never acted, forced: WeChat answers 45015.
  const erin = await knownUser(sim, 'erin')
  const noWindow = await send(app, { touser: erin, msgtype: 'text', text: { content: 'hello' }, force: true })
  t.equal(noWindow.statusCode, 409)
  t.equal(noWindow.json().code, 'WECHAT_SEND_WINDOW_CLOSED')
  t.match(noWindow.json().message, /must message or enter the session first/)
  t.same((await outbound(app, erin)).map((r) => [r.outcome, r.errcode]), [['rejected', 45015]])

  // Not a user of this app: 40003.
  await app.sendWindows.open('oNOBODY0000000000000000000000', 'message', clock.now())
  const stranger = await send(app, { touser: 'oNOBODY0000000000000000000000', msgtype: 'text', text: { content: 'hi' } })
  t.equal(stranger.statusCode, 400)
  t.equal(stranger.json().code, 'WECHAT_OPENID_INVALID')
  t.equal((await app.sendWindows.peek('oNOBODY0000000000000000000000', clock.now()))?.remaining, 5, 'quota given back')

  const metrics = (await callInternal(app, { url: '/metrics' })).body
  t.match(metrics, /cs_send_window_refusals_total\{reason="closed"\} 1/)
  t.match(metrics, /cs_send_window_refusals_total\{reason="exhausted"\} 1/)
  t.match(metrics, /cs_sends_total\{outcome="refused",errcode="none"\} 2/)
  t.match(metrics, /cs_sends_total\{outcome="rejected",errcode="45015"\} 1/)
  t.match(metrics, /cs_sends_total\{outcome="rejected",errcode="45047"\} 1/)
  t.match(metrics, /cs_sends_total\{outcome="rejected",errcode="40003"\} 1/)
})

t.test('-1 (system busy) is retried with back-off; when it persists the send fails and its quota comes back', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock, wechat: FAST_RETRIES })
  const openid = await userMessaged(app, sim, clock, 'frank')
  const body = { touser: openid, msgtype: 'image', image: { media_id: (await upload(app, { data: JPEG, filename: 'a.jpg', contentType: 'image/jpeg' })).json().mediaId } }

  await sim.control.fault({ path: SEND_PATH, errcode: -1 })
  const retried = await send(app, body)
  t.equal(retried.statusCode, 201, retried.body)
  t.equal(await calls(sim, SEND_PATH), 2, 'answered -1 once, then sent')
  t.equal((await sim.control.sent({ openid })).messages.length, 1, 'received once')

  await sim.control.fault({ path: SEND_PATH, errcode: -1, count: 10 })
  const busy = await send(app, body)
  t.equal(busy.statusCode, 503)
  t.equal(busy.json().code, 'WECHAT_BUSY')
  t.equal(await calls(sim, SEND_PATH), 6, 'the client\'s attempts (1 + 3 retries), then it gives up')
  await sim.control.clearFaults()
  const record = await app.messagesRepository.findOutbound(String(busy.headers['x-cs-message-id']))
  t.same([record?.outcome, record?.errcode], ['failed', -1])
  t.equal((await app.sendWindows.peek(openid, clock.now()))?.remaining, 4, 'only the sent message counts')
})

t.test('validation: every type\'s rules give a 400, nothing is sent or recorded', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock })
  const openid = await userMessaged(app, sim, clock, 'gina')
  const link = { title: 't', description: 'd', url: 'https://example.com', thumb_url: 'https://example.com/t.png' }
  const page = { title: 't', pagepath: 'pages/index/index', thumb_media_id: 'MEDIA_ID' }
  const cases: Array<{ name: string, body: unknown, says: RegExp }> = [
    { name: 'not an object', body: [1, 2], says: /body must be a JSON object/ },
    { name: 'unknown msgtype', body: { touser: openid, msgtype: 'video', video: {} }, says: /body\/msgtype must be one of text, image, link, miniprogrampage/ },
    { name: 'no msgtype', body: { touser: openid, text: { content: 'x' } }, says: /msgtype must be one of/ },
    { name: 'no touser', body: { msgtype: 'text', text: { content: 'x' } }, says: /must have the property touser/ },
    { name: 'malformed touser', body: { touser: 'o p', msgtype: 'text', text: { content: 'x' } }, says: /body\/touser must match the pattern/ },
    { name: 'force not a boolean', body: { touser: openid, msgtype: 'text', text: { content: 'x' }, force: 'yes' }, says: /body\/force/ },
    { name: 'unknown property', body: { touser: openid, msgtype: 'text', text: { content: 'x' }, priority: 1 }, says: /must not have the property priority/ },
    // text
    { name: 'text: no text object', body: { touser: openid, msgtype: 'text' }, says: /must have the property text/ },
    { name: 'text: another type\'s object', body: { touser: openid, msgtype: 'text', image: { media_id: 'M' } }, says: /text|image/ },
    { name: 'text: empty content', body: { touser: openid, msgtype: 'text', text: { content: '' } }, says: /body\/text\/content/ },
    { name: 'text: content too long', body: { touser: openid, msgtype: 'text', text: { content: 'x'.repeat(2049) } }, says: /body\/text\/content/ },
    { name: 'text: content a number (never coerced)', body: { touser: openid, msgtype: 'text', text: { content: 42 } }, says: /body\/text\/content/ },
    { name: 'text: extra field', body: { touser: openid, msgtype: 'text', text: { content: 'x', bold: true } }, says: /body\/text must not have the property bold/ },
    // image
    { name: 'image: no media_id', body: { touser: openid, msgtype: 'image', image: {} }, says: /must have the property media_id/ },
    { name: 'image: malformed media_id', body: { touser: openid, msgtype: 'image', image: { media_id: '../etc' } }, says: /body\/image\/media_id/ },
    // link
    { name: 'link: http url', body: { touser: openid, msgtype: 'link', link: { ...link, url: 'http://example.com' } }, says: /body\/link\/url must match/ },
    { name: 'link: no description', body: { touser: openid, msgtype: 'link', link: { ...link, description: undefined } }, says: /description/ },
    { name: 'link: thumb_url not a URL', body: { touser: openid, msgtype: 'link', link: { ...link, thumb_url: 'thumb.png' } }, says: /body\/link\/thumb_url/ },
    { name: 'link: empty title', body: { touser: openid, msgtype: 'link', link: { ...link, title: '' } }, says: /body\/link\/title/ },
    // miniprogrampage
    { name: 'miniprogrampage: no thumb_media_id', body: { touser: openid, msgtype: 'miniprogrampage', miniprogrampage: { ...page, thumb_media_id: undefined } }, says: /thumb_media_id/ },
    { name: 'miniprogrampage: empty pagepath', body: { touser: openid, msgtype: 'miniprogrampage', miniprogrampage: { ...page, pagepath: '' } }, says: /body\/miniprogrampage\/pagepath/ },
    { name: 'miniprogrampage: no title', body: { touser: openid, msgtype: 'miniprogrampage', miniprogrampage: { pagepath: 'p', thumb_media_id: 'M' } }, says: /title/ }
  ]
  for (const c of cases) {
    const res = await callInternal(app, { method: 'POST', url: '/api/cs/messages', identity: ADMIN, payload: JSON.stringify(c.body), headers: { 'content-type': 'application/json' } })
    t.equal(res.statusCode, 400, `${c.name}: 400`)
    t.equal(res.json().code, 'VALIDATION_FAILED', c.name)
    t.match(res.json().message, c.says, `${c.name}: ${res.json().message as string}`)
  }
  const broken = await callInternal(app, { method: 'POST', url: '/api/cs/messages', identity: ADMIN, payload: '{"touser":', headers: { 'content-type': 'application/json' } })
  t.equal(broken.statusCode, 400, 'unparseable JSON')
  t.equal(await calls(sim, SEND_PATH), 0, 'nothing reached WeChat')
  t.same(await outbound(app, openid), [], 'nothing recorded')
  t.equal((await app.sendWindows.peek(openid, clock.now()))?.remaining, 5, 'no quota used')
})

t.test('admin only: the internal credential and an admin identity on every route', async (t) => {
  const sim = await startSim(t)
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock: new RealTimeClock() })
  const user = { kind: 'user' as const, openid: 'o_user', sessionId: 's1', via: 'bearer' as const }
  const routes: Array<{ method: 'GET' | 'POST', url: string, payload?: object }> = [
    { method: 'POST', url: '/api/cs/messages', payload: { touser: 'o_user', msgtype: 'text', text: { content: 'x' } } },
    { method: 'POST', url: '/api/cs/typing', payload: { touser: 'o_user', command: 'Typing' } },
    { method: 'POST', url: '/api/cs/media', payload: {} },
    { method: 'GET', url: '/api/cs/media/MEDIA_ID' },
    { method: 'GET', url: '/api/cs/conversations' },
    { method: 'GET', url: '/api/cs/conversations/o_user/messages' }
  ]
  for (const r of routes) {
    const base = { method: r.method, url: r.url, ...(r.payload !== undefined ? { payload: r.payload } : {}) }
    const outside = await callPublic(app, base)
    t.equal(outside.statusCode, 401, `${r.method} ${r.url}: no internal credential`)
    t.equal(outside.json().code, 'COMMON_INTERNAL_AUTH_MISSING')
    const anonymous = await callInternal(app, { ...base })
    t.equal(anonymous.statusCode, 401, `${r.method} ${r.url}: no identity`)
    t.equal(anonymous.json().code, 'COMMON_AUTH_REQUIRED')
    const asUser = await callInternal(app, { ...base, identity: user })
    t.equal(asUser.statusCode, 403, `${r.method} ${r.url}: a user identity`)
    t.equal(asUser.json().code, 'COMMON_FORBIDDEN')
  }
  const stats = await sim.control.stats()
  t.same(stats.calls, {}, 'WeChat never called')
})

t.test('without APP_SECRET the API says so (501), before touching the window', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  await app.sendWindows.open('o_z', 'message', clock.now())
  const res = await send(app, { touser: 'o_z', msgtype: 'text', text: { content: 'x' } })
  t.equal(res.statusCode, 501)
  t.equal(res.json().code, 'CS_OUTBOUND_NOT_WIRED')
  t.match(res.json().message, /APP_SECRET/)
  t.equal((await app.sendWindows.peek('o_z', clock.now()))?.remaining, 5)
  const typing = await callInternal(app, { method: 'POST', url: '/api/cs/typing', identity: ADMIN, payload: { touser: 'o_z', command: 'Typing' } })
  t.equal(typing.statusCode, 501)
  const media = await callInternal(app, { url: '/api/cs/media/MEDIA_ID', identity: ADMIN })
  t.equal(media.statusCode, 501)
})
