import t from 'tap'
import { BusChannels, type BusEvent, type ConsoleEvent } from '@weapp/common'
import { RealTimeClock, waitFor } from '@weapp/test-kit'
import { buildCs, busSubscribed, testConfig } from './fixtures/harness.js'
import { BACKENDS } from './fixtures/backends.js'
import { PNG, SEND_PATH, calls, sendingEnv, startSim, upload, userMessaged } from './fixtures/sim.js'
import { agent, consoleCall, userWrites } from './fixtures/console.js'
import { MESSAGE_ID_HEADER } from '../src/routes/api/messages.js'

const ANN = agent('ann')
const TYPING_PATH = '/cgi-bin/message/custom/business/typing'

t.test('sends: text, image and card reach the user, recorded as the agent\'s; a bad card sends nothing; events pending then sent', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock })
  const events: ConsoleEvent[] = []
  await app.bus.subscribe(BusChannels.console, (e: BusEvent) => { if (e.type === 'console.event') events.push(e.event) })
  await busSubscribed(app, BusChannels.console)
  const { openid } = await sim.control.userAction({ user: 'sam', kind: 'message' })
  await userWrites(app, clock, openid, 'hi there')
  const mediaId = (await upload(app, { data: PNG })).json().mediaId as string

  const text = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, { type: 'text', text: 'Hello from Ann' })
  t.equal(text.statusCode, 201, text.body)
  const { message, window } = text.json()
  t.match(message, { direction: 'out', openid, msgType: 'text', outcome: 'sent', sentBy: `agent:${ANN.agentId}`, sentByName: 'Ann', message: { msgtype: 'text', text: { content: 'Hello from Ann' } } })
  t.equal(text.headers[MESSAGE_ID_HEADER], message.id)
  t.same([window.kind, window.remaining, window.quota], ['message', 4, 5], 'the window after the send')
  const image = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, { type: 'image', mediaId })
  t.equal(image.statusCode, 201, image.body)
  const card = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, { type: 'miniprogrampage', title: 'Your order', pagepath: 'pages/order/index?id=42', thumbMediaId: mediaId })
  t.equal(card.statusCode, 201, card.body)

  const received = (await sim.control.sent({ openid, appId: sim.appId })).messages
  t.match(received, [
    { msgtype: 'text', text: { content: 'Hello from Ann' } },
    { msgtype: 'image', image: { media_id: mediaId } },
    { msgtype: 'miniprogrampage', miniprogrampage: { title: 'Your order', pagepath: 'pages/order/index?id=42', thumb_media_id: mediaId } }
  ], 'the user got all three')

  const history = await consoleCall(app, ANN, 'GET', `/conversations/${openid}/messages`)
  t.equal(history.statusCode, 200)
  const items = history.json().items as Array<Record<string, unknown>>
  t.same(items.map((m) => [m.direction, m.msgType, m.sentBy, m.sentByName, m.outcome]), [
    ['out', 'miniprogrampage', `agent:${ANN.agentId}`, 'Ann', 'sent'],
    ['out', 'image', `agent:${ANN.agentId}`, 'Ann', 'sent'],
    ['out', 'text', `agent:${ANN.agentId}`, 'Ann', 'sent'],
    ['in', 'text', undefined, undefined, undefined]
  ], 'the message log shows the agent, newest first')
  const paged = await consoleCall(app, ANN, 'GET', `/conversations/${openid}/messages?limit=3`)
  t.equal(paged.json().items.length, 3)
  t.same((await consoleCall(app, ANN, 'GET', `/conversations/${openid}/messages?limit=3&before=${String(paged.json().next)}`)).json().items.map((m: { direction: string }) => m.direction), ['in'])
  t.equal((await consoleCall(app, ANN, 'GET', `/conversations/${openid}/messages?limit=101`)).statusCode, 400)
  const conversation = (await app.conversationsRepository.get(openid))!
  t.same(conversation.last, { direction: 'out', msgType: 'miniprogrampage', preview: 'Your order' }, 'the conversation\'s last message')

  // The events of the text send: the message pending, the conversation, then the message sent.
  const textEvents = events.filter((e) => (e.type === 'message' && e.message.id === message.id) || (e.type === 'conversation' && e.conversation.last.preview === 'Hello from Ann'))
  t.same(textEvents.map((e) => e.type === 'message' ? `message:${String(e.message.outcome)}` : 'conversation'), ['message:pending', 'conversation', 'message:sent'], 'in order')

  // A card with a missing or empty field: 400 CS_CONSOLE_CARD_INVALID, nothing sent or recorded.
  const sends = await calls(sim, SEND_PATH)
  const logged = items.length
  for (const bad of [
    { type: 'miniprogrampage', pagepath: 'pages/a', thumbMediaId: mediaId },
    { type: 'miniprogrampage', title: '', pagepath: 'pages/a', thumbMediaId: mediaId },
    { type: 'miniprogrampage', title: 'T', thumbMediaId: mediaId },
    { type: 'miniprogrampage', title: 'T', pagepath: 'pages/a', thumbMediaId: '' },
    { type: 'miniprogrampage', title: 'x'.repeat(65), pagepath: 'pages/a', thumbMediaId: mediaId },
    { type: 'miniprogrampage', title: 'T', pagepath: 'pages/a b', thumbMediaId: mediaId }
  ]) {
    const res = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, bad)
    t.same([res.statusCode, res.json().code], [400, 'CS_CONSOLE_CARD_INVALID'], JSON.stringify(bad))
  }
  for (const bad of [{ type: 'text', text: '' }, { type: 'text', text: 'x'.repeat(2049) }, { type: 'image' }, { type: 'link', url: 'https://x' }, { type: 'text', text: 'x', force: true }]) {
    const res = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, bad)
    t.same([res.statusCode, res.json().code], [400, 'VALIDATION_FAILED'], JSON.stringify(bad).slice(0, 60))
  }
  t.equal(await calls(sim, SEND_PATH), sends, 'nothing sent')
  t.equal((await app.messagesRepository.listConversation(openid, { limit: 100 })).length, logged, 'nothing recorded')

  // WeChat's refusal comes back as the admin API answers it.
  await sim.control.fault({ path: SEND_PATH, errcode: 40003 })
  const rejected = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, { type: 'text', text: 'x' })
  t.same([rejected.statusCode, rejected.json().code], [400, 'WECHAT_OPENID_INVALID'])
  t.ok(rejected.headers[MESSAGE_ID_HEADER])
  // Our own window check: a user who never wrote.
  const { openid: stranger } = await sim.control.loginCode({ user: 'nobody' })
  const closed = await consoleCall(app, ANN, 'POST', `/conversations/${stranger}/messages`, { type: 'text', text: 'x' })
  t.same([closed.statusCode, closed.json().code], [409, 'CS_SEND_WINDOW_CLOSED'])
})

for (const backend of BACKENDS) {
  t.test(`${backend.name} windows: two sends for the last message of a window, at once: exactly one reaches the user`, { skip: backend.skip }, async (t) => {
    const env = backend.env(t)
    const sim = await startSim(t, env.APP_ID)
    const clock = new RealTimeClock()
    const app = await buildCs(t, { config: testConfig({ ...env, ...sendingEnv(sim) }), clock })
    const { openid } = await sim.control.userAction({ user: 'rita', appId: sim.appId, kind: 'message' })
    await userWrites(app, clock, openid, 'hello')
    for (let i = 0; i < 4; i++) t.equal((await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, { type: 'text', text: `m${i}` })).statusCode, 201)
    t.equal((await app.sendWindows.peek(openid, clock.now()))?.remaining, 1, 'one left')
    const [a, b] = await Promise.all([
      consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, { type: 'text', text: 'last A' }),
      consoleCall(app, agent('bob'), 'POST', `/conversations/${openid}/messages`, { type: 'text', text: 'last B' })
    ])
    t.same([a!.statusCode, b!.statusCode].sort(), [201, 429], 'one sent, one refused')
    const loser = a!.statusCode === 429 ? a! : b!
    t.equal(loser.json().code, 'CS_SEND_QUOTA_EXCEEDED')
    const received = (await sim.control.sent({ openid, appId: sim.appId })).messages
    t.equal(received.length, 5, 'the user got five messages, the window\'s quota')
    t.equal(received.filter((m) => /^last /.test(String((m as { text?: { content?: string } }).text?.content))).length, 1, 'one of the two')
  })
}

t.test('typing: within 30 s of the user\'s last interaction, once per 15 s; WeChat\'s refusals and failures are answers, not errors', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(sendingEnv(sim)), clock })
  const typing = async (openid: string): Promise<{ sent: boolean, reason?: string }> => {
    const res = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/typing`)
    t.equal(res.statusCode, 200, res.body)
    return res.json()
  }
  const { openid } = await sim.control.userAction({ user: 'tia', kind: 'message' })
  await userWrites(app, clock, openid, 'are you there?')
  t.same(await typing(openid), { sent: true })
  t.equal((await sim.control.sent({ openid, appId: sim.appId })).typing, true, 'the user sees "typing…"')
  t.same(await typing(openid), { sent: false, reason: 'throttled' }, 'again within 15 s: not sent')
  t.equal(await calls(sim, TYPING_PATH), 1)
  clock.advance(16_000)
  // Our 15 s are over but the simulator's clock did not move: WeChat still shows it (45081).
  t.same(await typing(openid), { sent: false, reason: 'wechat-refused' })
  clock.advance(16_000)
  t.same(await typing(openid), { sent: false, reason: 'no-interaction' }, 'more than 30 s after the message: not asked')
  const before = await calls(sim, TYPING_PATH)
  await userWrites(app, clock, openid, 'hello again')
  await sim.control.fault({ path: TYPING_PATH, errcode: 45080 })
  t.same(await typing(openid), { sent: false, reason: 'wechat-refused' }, '45080')
  clock.advance(16_000)
  await sim.control.fault({ path: TYPING_PATH, errcode: 48001 })
  t.same(await typing(openid), { sent: false, reason: 'failed' }, 'another failure')
  t.equal(await calls(sim, TYPING_PATH), before + 2)
  const unknown = await consoleCall(app, ANN, 'POST', '/conversations/o_unknown/typing')
  t.same([unknown.statusCode, unknown.json().code], [404, 'CS_CONSOLE_NOT_FOUND'])
})

t.test('a bus that is down costs the console its events, never a send', async (t) => {
  const sim = await startSim(t)
  const clock = new RealTimeClock()
  const logLines: string[] = []
  // Nothing listens there: every publish fails (after the hub client's wait).
  const app = await buildCs(t, { config: testConfig({ ...sendingEnv(sim), BUS_HUB_URL: 'ws://127.0.0.1:1/internal/bus' }), clock, logLines })
  const openid = await userMessaged(app, sim, clock, 'uma')
  const started = Date.now()
  const res = await consoleCall(app, ANN, 'POST', `/conversations/${openid}/messages`, { type: 'text', text: 'still delivered' })
  t.equal(res.statusCode, 201, res.body)
  t.ok(Date.now() - started < 1500, 'the send did not wait for the bus')
  t.equal((await sim.control.sent({ openid, appId: sim.appId })).messages.length, 1, 'the user got it')
  t.equal((await app.conversationsRepository.get(openid))?.last.preview, 'still delivered', 'the conversation is up to date')
  await waitFor(() => logLines.some((l) => l.includes('could not publish console.event')), { timeoutMs: 8000, what: 'the lost event logged' })
})
