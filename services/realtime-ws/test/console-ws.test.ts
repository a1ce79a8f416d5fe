// The agent console's socket (GET /console/ws, docs/console.md "Live updates"): agents only, through the
// gateway; console events from the bus numbered and relayed, replayed after a reconnect or
// answered with resync-required; presence between agents and between instances; sockets closed when their
// console session ends (4001) or expires, and at shutdown (1001).
import t from 'tap'
import { BusChannels, RedisBus } from '@weapp/common'
import { RealTimeClock } from '@weapp/test-kit'
import { ALICE, AGENT as ADMIN_KEY, Client, INTERNAL_TOKEN, gatewayHeaders, issueTicket, refusal, start, testConfig } from './fixtures/harness.js'
import { agent, conversation, drain, nothingBefore, openConsole, publishEvent, type Frame } from './fixtures/console.js'
import { EVENT_LOG_CAPACITY } from '../src/console/event-log.js'

const redisUrl = process.env.REDIS_URL
const needsRedis = { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }

const ANN = { agentId: 'a-ann', displayName: 'Ann' }
const BEN = { agentId: 'a-ben', displayName: 'Ben' }

t.test('console events from the bus reach every console socket, numbered from 1 under the welcome\'s epoch', async (t) => {
  const r = await start(t)
  const ann = await openConsole(t, r, agent(ANN.agentId, ANN.displayName))
  const ben = await openConsole(t, r, agent(BEN.agentId, BEN.displayName))
  t.match(ann.welcome, { type: 'welcome', seq: 0, agent: ANN })
  t.type(ann.welcome.epoch, 'string')
  t.equal(ben.welcome.epoch, ann.welcome.epoch, 'one epoch per process')
  t.same(Object.keys(ann.welcome).sort(), ['agent', 'epoch', 'seq', 'type'], 'the welcome says nothing else')

  const first = { type: 'conversation' as const, conversation: conversation('o_1') }
  const second = { type: 'note' as const, note: { id: 'n1', openid: 'o_1', author: ANN, text: 'call back', createdAt: new Date().toISOString() } }
  await publishEvent(r.app.bus, first)
  await publishEvent(r.app.bus, second)
  for (const c of [ann.c, ben.c]) {
    t.same(await c.nextJson(), { type: 'event', seq: 1, event: first })
    t.same(await c.nextJson(), { type: 'event', seq: 2, event: second })
  }

  const late = await openConsole(t, r, agent('a-cy', 'Cy'))
  t.match(late.welcome, { epoch: ann.welcome.epoch, seq: 2 }, 'a later socket is told the latest number')
  await r.app.bus.publish(BusChannels.console, { type: 'console.event', event: { type: 'bogus' } as any })
  await publishEvent(r.app.bus, first)
  t.same(await late.c.nextJson(), { type: 'event', seq: 3, event: first }, 'what is not a console event is not relayed nor numbered')

  const other = await start(t)
  const elsewhere = await openConsole(t, other, agent(ANN.agentId, ANN.displayName))
  t.not(elsewhere.welcome.epoch, ann.welcome.epoch, 'another process has another epoch')

  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_open_sockets\{kind="console"\} 3/, 'console sockets are counted by kind')
})

t.test('hello after a reconnect replays the missed events, then live ones, in order and once', async (t) => {
  const r = await start(t)
  const ann = agent(ANN.agentId, ANN.displayName)
  const before = await openConsole(t, r, ann)
  await publishEvent(r.app.bus, { type: 'conversation', conversation: conversation('o_1', 'one') })
  t.equal((await before.c.nextJson()).seq, 1)
  before.c.ws.close()
  await before.c.closed
  await publishEvent(r.app.bus, { type: 'conversation', conversation: conversation('o_1', 'two') })
  await publishEvent(r.app.bus, { type: 'conversation', conversation: conversation('o_1', 'three') })

  const again = await openConsole(t, r, ann, null)
  t.equal(again.welcome.seq, 3)
  // An event relayed between the welcome and the hello waits for the replay, so the order holds.
  await publishEvent(r.app.bus, { type: 'conversation', conversation: conversation('o_1', 'four') })
  await new Promise((resolve) => setTimeout(resolve, 50))
  again.c.send(JSON.stringify({ type: 'hello', epoch: again.welcome.epoch, after: 1 }))
  const replayed: Frame[] = []
  for (let i = 0; i < 3; i++) replayed.push(await again.c.nextJson())
  t.same(replayed.map((f) => [f.seq, f.event.conversation.last.preview]), [[2, 'two'], [3, 'three'], [4, 'four']])
  await publishEvent(r.app.bus, { type: 'conversation', conversation: conversation('o_1', 'five') })
  t.match(await again.c.nextJson(), { type: 'event', seq: 5 })
  t.same(await drain(again.c), [], 'nothing twice')

  const silent = await openConsole(t, r, ann, null)
  await publishEvent(r.app.bus, { type: 'conversation', conversation: conversation('o_1', 'six') })
  t.match(await silent.c.nextJson(2500), { type: 'event', seq: 6 }, 'a console that sends no hello gets the events after a moment')
})

t.test('resync-required: another epoch, a range no longer held, a number never given, a half hello', async (t) => {
  const r = await start(t)
  const ann = agent(ANN.agentId, ANN.displayName)
  for (let i = 0; i < EVENT_LOG_CAPACITY + 2; i++) await publishEvent(r.app.bus, { type: 'conversation', conversation: conversation(`o_${i}`) })
  const probe = await openConsole(t, r, ann)
  // Published events are delivered asynchronously: wait until all are numbered.
  while ((await openConsole(t, r, ann, null)).welcome.seq < EVENT_LOG_CAPACITY + 2) await new Promise((resolve) => setTimeout(resolve, 20))
  const epoch = probe.welcome.epoch

  const cases = [
    ['an unknown epoch', { epoch: 'not-this-one', after: EVENT_LOG_CAPACITY }],
    ['events dropped from the ring (the 2 oldest)', { epoch, after: 1 }],
    ['after ahead of the latest', { epoch, after: EVENT_LOG_CAPACITY + 10 }],
    ['an after without its epoch', { after: 5 }],
    ['an epoch without after', { epoch }]
  ] as const
  for (const [name, hello] of cases) {
    const { c } = await openConsole(t, r, ann, hello)
    t.same(await c.nextJson(), { type: 'resync-required' }, name)
    t.same(await drain(c), [], `${name}: nothing else`)
  }
  const held = await openConsole(t, r, ann, { epoch, after: 2 })
  const first = await held.c.nextJson()
  t.match(first, { type: 'event', seq: 3 }, 'the oldest held range is still replayed')
  let last = first
  for (let i = 3; i < EVENT_LOG_CAPACITY + 2; i++) last = await held.c.nextJson()
  t.equal(last.seq, EVENT_LOG_CAPACITY + 2)
})

t.test('presence: viewing and typing reach the other agents, never the agent itself; typing expires', async (t) => {
  const clock = new RealTimeClock()
  const r = await start(t, { now: clock.nowMs })
  const ann = await openConsole(t, r, agent(ANN.agentId, ANN.displayName))
  const annTab2 = await openConsole(t, r, agent(ANN.agentId, ANN.displayName))
  const ben = await openConsole(t, r, agent(BEN.agentId, BEN.displayName))

  ann.c.send(JSON.stringify({ type: 'viewing', openid: 'o_x' }))
  t.same(await ben.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [ANN], typing: [] })
  annTab2.c.send(JSON.stringify({ type: 'viewing', openid: 'o_x' }))
  annTab2.c.send(JSON.stringify({ type: 'viewing', openid: 'o_x' }))
  // The sender's barrier first: its frames were handled (and anything they caused was sent) before the answer.
  await nothingBefore(t, annTab2.c, 'Ann\'s other tab is not told about her')
  await nothingBefore(t, ann.c, 'nor is Ann')
  await nothingBefore(t, ben.c, 'a second tab on the same conversation (or a re-announce) counts once: nothing new for Ben')

  ann.c.send(JSON.stringify({ type: 'typing', openid: 'o_x' }))
  t.same(await ben.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [ANN], typing: [ANN] })
  ben.c.send(JSON.stringify({ type: 'viewing', openid: 'o_x' }))
  t.same(await ann.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [BEN], typing: [] }, 'Ann sees Ben, not herself')
  t.same(await annTab2.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [BEN], typing: [] })

  const newcomer = await openConsole(t, r, agent('a-cy', 'Cy'))
  t.same(await newcomer.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [ANN, BEN], typing: [ANN] }, 'a new socket is told who is where')

  clock.advance(5001)
  t.same(await ben.c.nextJson(2000), { type: 'presence', openid: 'o_x', viewing: [ANN], typing: [] }, 'typing ends 5 s after the last typing frame')
  t.same(await newcomer.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [ANN, BEN], typing: [] })

  ann.c.send(JSON.stringify({ type: 'viewing', openid: null }))
  await nothingBefore(t, ann.c, 'Ann looks at nothing in one tab')
  await nothingBefore(t, ben.c, 'Ann\'s other tab still looks at o_x: nothing changes for Ben')
  annTab2.c.ws.close()
  t.same(await ben.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [], typing: [] }, 'gone when no tab of hers looks at it')

  ben.c.send(JSON.stringify({ type: 'typing', openid: 'o_y' }))
  t.same(await ann.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [], typing: [] }, 'typing elsewhere moves Ben there')
  t.same(await ann.c.nextJson(), { type: 'presence', openid: 'o_y', viewing: [BEN], typing: [BEN] })
  ben.c.ws.close()
  t.same(await ann.c.nextJson(), { type: 'presence', openid: 'o_y', viewing: [], typing: [] }, 'a closed socket views nothing')
})

t.test('only an agent identity forwarded by the gateway opens the console socket', async (t) => {
  const r = await start(t)
  const url = `${r.ws}/console/ws`
  const user = await refusal(url, gatewayHeaders(ALICE))
  t.equal(user.status, 403, 'a user session')
  t.equal(user.body.code, 'WS_AGENT_REQUIRED')
  const admin = await refusal(url, gatewayHeaders(ADMIN_KEY))
  t.equal(admin.status, 403, 'an admin key')
  t.equal(admin.body.code, 'WS_AGENT_REQUIRED')
  const none = await refusal(url)
  t.equal(none.status, 401)
  t.equal(none.body.code, 'WS_AUTH_REQUIRED')
  const forged = await refusal(url, { ...gatewayHeaders(agent(ANN.agentId, ANN.displayName)), 'x-internal-token': 'x'.repeat(48) })
  t.equal(forged.status, 401, 'a wrong internal token')
  const expired = await refusal(url, gatewayHeaders(agent(ANN.agentId, ANN.displayName, { absoluteExpiresAt: new Date(Date.now() - 1000).toISOString() })))
  t.equal(expired.status, 401, 'a console session past its absolute expiry')
  t.equal(expired.body.code, 'WS_SESSION_ENDED')

  const ticket = await issueTicket(r, ALICE)
  const ticketed = await refusal(`${url}?ticket=${ticket.ticket}`)
  t.equal(ticketed.status, 401, 'a ticket opens no console socket')
  t.equal(ticketed.body.code, 'WS_AUTH_REQUIRED')
  const ws = await Client.open(t, `${r.ws}${ticket.url}`)
  t.equal(await ws.next(), 'Server: 恭喜，小爱', 'and is not consumed by trying')

  const plain = await r.app.inject({ url: '/console/ws', headers: gatewayHeaders(agent(ANN.agentId, ANN.displayName)) })
  t.equal(plain.statusCode, 426)
  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_auth_refusals_total\{reason="not_agent"\} 2/)
})

t.test('agent.sessions.ended closes exactly the listed sessions\' sockets with 4001, at once', async (t) => {
  const r = await start(t)
  const annSession = agent(ANN.agentId, ANN.displayName)
  const annOther = agent(ANN.agentId, ANN.displayName)
  const ended = await openConsole(t, r, annSession)
  const endedTab2 = await openConsole(t, r, annSession)
  const keeps = await openConsole(t, r, annOther)
  const ben = await openConsole(t, r, agent(BEN.agentId, BEN.displayName))
  ended.c.send(JSON.stringify({ type: 'viewing', openid: 'o_x' }))
  t.match(await ben.c.nextJson(), { viewing: [ANN] })

  const at = Date.now()
  await r.app.bus.publish(BusChannels.sessions, { type: 'agent.sessions.ended', agentId: ANN.agentId, sessionIds: [annSession.sessionId], credentialHashes: ['0'.repeat(64)] })
  for (const c of [ended.c, endedTab2.c]) {
    const closed = await c.closed
    t.same(closed, { code: 4001, reason: 'session revoked' })
    t.ok(Date.now() - at < 1000, 'at once')
  }
  t.same(await ben.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [], typing: [] }, 'its presence goes with it')
  await nothingBefore(t, keeps.c, 'the same agent\'s other session keeps its socket')
  await nothingBefore(t, ben.c, 'the other agent\'s socket stays')
  const again = await refusal(`${r.ws}/console/ws`, gatewayHeaders(annSession))
  t.equal(again.status, 401, 'an upgrade the gateway resolved just before the logout is refused')
  t.equal(again.body.code, 'WS_SESSION_ENDED')
})

t.test('a console socket closes at its session\'s absolute expiry', async (t) => {
  const r = await start(t)
  const opened = Date.now()
  const { c } = await openConsole(t, r, agent(ANN.agentId, ANN.displayName, { absoluteExpiresAt: new Date(opened + 800).toISOString() }))
  const closed = await c.closed
  const ms = Date.now() - opened
  t.same(closed, { code: 4001, reason: 'session expired' })
  t.ok(ms >= 700 && ms < 1800, `closed at ${ms} ms (expiry at 800)`)
})

t.test('bad frames are answered with WS_BAD_FRAME and change nothing; the socket stays', async (t) => {
  const r = await start(t)
  const ann = await openConsole(t, r, agent(ANN.agentId, ANN.displayName))
  const ben = await openConsole(t, r, agent(BEN.agentId, BEN.displayName))
  const bad = [
    'not json',
    '[1,2]',
    JSON.stringify({ type: 'viewing' }),
    JSON.stringify({ type: 'viewing', openid: 'o'.repeat(129) }),
    JSON.stringify({ type: 'typing', openid: null }),
    JSON.stringify({ type: 'hello', after: -1 }),
    JSON.stringify({ type: 'subscribe', channel: 'x' })
  ]
  for (const frame of bad) {
    ann.c.send(frame)
    const answer = await ann.c.nextJson()
    t.equal(answer.type, 'error', frame)
    t.equal(answer.code, 'WS_BAD_FRAME', frame)
    t.type(answer.message, 'string')
  }
  await nothingBefore(t, ben.c, 'no presence came of them')
  ann.c.send(JSON.stringify({ type: 'viewing', openid: 'o_x' }))
  t.match(await ben.c.nextJson(), { type: 'presence', viewing: [ANN] }, 'the socket still works')
})

t.test('frame size and rate are bounded as on /ws', async (t) => {
  const r = await start(t, { config: testConfig({ MAX_FRAMES_PER_SEC: '5', MAX_MESSAGE_BYTES: '1024' }) })
  const big = await openConsole(t, r, agent(ANN.agentId, ANN.displayName))
  big.c.send(JSON.stringify({ type: 'viewing', openid: 'o'.repeat(2000) }))
  t.equal((await big.c.closed).code, 1009, 'a frame over MAX_MESSAGE_BYTES')
  const fast = await openConsole(t, r, agent(BEN.agentId, BEN.displayName))
  for (let i = 0; i < 20; i++) fast.c.send(JSON.stringify({ type: 'viewing', openid: `o_${i}` }))
  t.equal((await fast.c.closed).code, 4029, 'more frames than MAX_FRAMES_PER_SEC')
})

t.test('shutdown closes console sockets with 1001', async (t) => {
  const r = await start(t, { autoClose: false })
  const { c } = await openConsole(t, r, agent(ANN.agentId, ANN.displayName))
  await r.app.close()
  t.equal((await c.closed).code, 1001)
})

t.test('two instances on one Redis: both relay the events; presence is shared and expires when not refreshed', needsRedis, async (t) => {
  const clock = new RealTimeClock()
  const config = testConfig({ REDIS_URL: redisUrl! })
  const r1 = await start(t, { config, now: clock.nowMs, autoClose: false })
  let r1Closed = false
  t.teardown(async () => { if (!r1Closed) await r1.app.close() })
  const r2 = await start(t, { config, now: clock.nowMs })
  const csMessaging = new RedisBus(redisUrl!)
  t.teardown(() => csMessaging.close())

  const ann = await openConsole(t, r1, agent(ANN.agentId, ANN.displayName))
  const ben = await openConsole(t, r2, agent(BEN.agentId, BEN.displayName))
  const cy = await openConsole(t, r1, agent('a-cy', 'Cy'))
  const event = { type: 'conversation' as const, conversation: conversation('o_1') }
  await publishEvent(csMessaging, event)
  for (const c of [ann.c, ben.c, cy.c]) t.match(await c.nextJson(), { type: 'event', event }, 'relayed by both instances')

  ann.c.send(JSON.stringify({ type: 'typing', openid: 'o_x' }))
  t.same(await ben.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [ANN], typing: [ANN] }, 'Ben on instance 2 sees Ann of instance 1')
  t.same(await cy.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [ANN], typing: [ANN] }, 'Cy on instance 1 too, once')
  ben.c.send(JSON.stringify({ type: 'viewing', openid: 'o_x' }))
  t.same(await ann.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [BEN], typing: [] }, 'and the other way')
  await nothingBefore(t, ben.c, 'Ben is not told about himself through the other instance')

  clock.advance(5001)
  t.same(await ben.c.nextJson(2500), { type: 'presence', openid: 'o_x', viewing: [ANN], typing: [] }, 'typing ends on the other instance too')

  // An instance that stops without a goodbye (killed, or cut off from Redis): its entries go after 60 s.
  await csMessaging.publish(BusChannels.console, { type: 'console.presence', agent: { agentId: 'a-dee', displayName: 'Dee' }, openid: 'o_x', typing: false, at: new Date().toISOString(), instance: 'vanished' })
  t.same(await ben.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [ANN, { agentId: 'a-dee', displayName: 'Dee' }], typing: [] })
  clock.advance(20_000)
  await new Promise((resolve) => setTimeout(resolve, 1200))
  t.same(await drain(ben.c), [], 'the announcements every 20 s keep live entries and change nothing')
  clock.advance(40_001)
  t.same(await ben.c.nextJson(2500), { type: 'presence', openid: 'o_x', viewing: [ANN], typing: [] }, 'Dee expired after 60 s; Ann, re-announced, stays')

  r1Closed = true
  await r1.app.close()
  t.same(await ben.c.nextJson(), { type: 'presence', openid: 'o_x', viewing: [], typing: [] }, 'an instance that shuts down says its agents are gone')
})

t.test('two instances on one Redis: an agent\'s logout closes its console sockets on both', needsRedis, async (t) => {
  const config = testConfig({ REDIS_URL: redisUrl! })
  const r1 = await start(t, { config })
  const r2 = await start(t, { config })
  const sessionService = new RedisBus(redisUrl!)
  t.teardown(() => sessionService.close())
  const ann = agent(ANN.agentId, ANN.displayName)
  const on1 = await openConsole(t, r1, ann)
  const on2 = await openConsole(t, r2, ann)
  const ben = await openConsole(t, r2, agent(BEN.agentId, BEN.displayName))
  await sessionService.publish(BusChannels.sessions, { type: 'agent.sessions.ended', agentId: ANN.agentId, sessionIds: [ann.sessionId], credentialHashes: [] })
  t.equal((await on1.c.closed).code, 4001)
  t.equal((await on2.c.closed).code, 4001)
  await nothingBefore(t, ben.c, 'Ben stays')
})
