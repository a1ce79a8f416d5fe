import t from 'tap'
import { BusChannels, type BusEvent, type ConsoleEvent, type Conversation } from '@weapp/common'
import { RealTimeClock, callPublic, waitFor } from '@weapp/test-kit'
import { ADMIN, buildCs, busSubscribed, callInternal, RecordingSender, testConfig } from './fixtures/harness.js'
import { enterSession, textMessage } from './fixtures/push.js'
import { BACKENDS } from './fixtures/backends.js'
import { agent, consoleCall, pushFields, userWrites } from './fixtures/console.js'

const ANN = agent('ann')
const BOB = agent('bob')
const BOSS = agent('boss', 'admin')

for (const backend of BACKENDS) {
  t.test(`${backend.name}: a signed push updates the conversation once, even redelivered; events on the bus in order; a resolved conversation reopens`, { skip: backend.skip }, async (t) => {
    const clock = new RealTimeClock()
    const env = backend.env(t)
    const app = await buildCs(t, { config: testConfig(env), clock })
    const events: ConsoleEvent[] = []
    await app.bus.subscribe(BusChannels.console, (e: BusEvent) => { if (e.type === 'console.event') events.push(e.event) })
    await busSubscribed(app, BusChannels.console)
    const cs: BusEvent[] = []
    await app.bus.subscribe(BusChannels.cs, (e: BusEvent) => { cs.push(e) })
    await busSubscribed(app, BusChannels.cs)

    const fields = textMessage('o_conv', 'hello $1', clock.seconds)
    // WeChat's retries of one message, in several modes and formats, some at once.
    await pushFields(app, clock, fields, 'plaintext', 'xml')
    await pushFields(app, clock, fields, 'safe', 'json', env.APP_ID)
    await Promise.all([pushFields(app, clock, fields, 'compatible', 'xml', env.APP_ID), pushFields(app, clock, fields, 'plaintext', 'json')])
    await waitFor(() => events.length >= 2, { timeoutMs: 5000, what: 'console events' })
    await waitFor(async () => { const s = await app.inboundQueue.stats(); return s.length === 0 && s.pending === 0 && s.delayed === 0 }, { timeoutMs: 5000, what: 'drained' })
    await new Promise((resolve) => setTimeout(resolve, 100))
    const res = await consoleCall(app, ANN, 'GET', '/conversations/o_conv')
    t.equal(res.statusCode, 200)
    const body = res.json() as { conversation: Conversation, window: { kind: string, remaining: number } | null, typingUntil: string | null }
    t.equal(body.conversation.inboundCount, 1, 'counted once')
    t.same(body.conversation.last, { direction: 'in', msgType: 'text', preview: 'hello $1' })
    t.equal(body.conversation.status, 'open')
    t.same([body.window?.kind, body.window?.remaining], ['message', 5], 'the window, read live')
    t.equal(body.typingUntil, new Date((Number(fields.CreateTime) + 30) * 1000).toISOString(), 'typing allowed until 30 s after the message')
    t.same(events.map((e) => e.type), ['message', 'conversation'], 'one message event and one conversation event')
    t.equal(events[0]?.type === 'message' && events[0].message.id, `msg:${String(fields.MsgId)}`)
    t.equal(events[0]?.type === 'message' && events[0].message.direction, 'in')
    t.equal(cs.filter((e) => e.type === 'cs.inbound').length, 1, 'cs.inbound unchanged: once')

    const resolved = await consoleCall(app, ANN, 'POST', '/conversations/o_conv/resolve')
    t.equal(resolved.statusCode, 200)
    t.equal(resolved.json().conversation.status, 'resolved')
    const listed = await consoleCall(app, ANN, 'GET', '/conversations?status=resolved')
    t.same(listed.json().items.map((c: Conversation) => c.openid), ['o_conv'])
    const reopened = await userWrites(app, clock, 'o_conv', 'one more thing')
    t.equal(reopened.status, 'open', 'the user wrote again: open')
    t.equal(reopened.inboundCount, 2)
    await waitFor(() => events.length >= 5, { timeoutMs: 3000, what: 'events' })
    t.same(events.map((e) => e.type === 'conversation' ? `conversation:${e.conversation.status}:${e.conversation.inboundCount}` : `message:${e.type === 'message' ? String(e.message.message.Content) : ''}`), [
      'message:hello $1', 'conversation:open:1', 'conversation:resolved:1', 'message:one more thing', 'conversation:open:2'
    ], 'in order')
    t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_conv/reopen')).json().conversation.status, 'open')

    // Entering the session is an interaction too; its preview names where the user came from.
    await pushFields(app, clock, enterSession('o_conv', clock.seconds + 1, 'from-cart'))
    await waitFor(async () => (await app.conversationsRepository.get('o_conv'))?.inboundCount === 3, { timeoutMs: 5000, what: 'event counted' })
    t.same((await app.conversationsRepository.get('o_conv'))?.last, { direction: 'in', msgType: 'event', preview: '[entered: from-cart]' })
  })
}

t.test('list: mine / unassigned / all × open / resolved, paged; claim race; release; read per agent; 404s', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  const users = ['o_a', 'o_b', 'o_c', 'o_d', 'o_e']
  for (const [i, openid] of users.entries()) {
    clock.advance(1000)
    await userWrites(app, clock, openid, `message ${i}`)
  }
  const list = async (who = ANN, query = ''): Promise<string[]> => {
    const res = await consoleCall(app, who, 'GET', `/conversations${query}`)
    t.equal(res.statusCode, 200, query)
    return res.json().items.map((c: Conversation) => c.openid)
  }
  t.same(await list(), ['o_e', 'o_d', 'o_c', 'o_b', 'o_a'], 'default: all open, most recent first')

  // Ten agents claim one conversation at once: exactly one gets it.
  const agents = Array.from({ length: 10 }, (_, i) => agent(`agent${i}`))
  const claims = await Promise.all(agents.map(async (a) => await consoleCall(app, a, 'POST', '/conversations/o_c/claim')))
  t.equal(claims.filter((r) => r.statusCode === 200).length, 1, 'one claim wins')
  t.ok(claims.filter((r) => r.statusCode !== 200).every((r) => r.statusCode === 409 && r.json().code === 'CS_CONSOLE_CLAIMED'), 'the others: 409 CS_CONSOLE_CLAIMED')
  const winner = agents[claims.findIndex((r) => r.statusCode === 200)]!
  t.equal((await app.conversationsRepository.get('o_c'))?.assignee?.agentId, winner.agentId)

  t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_a/claim', {})).statusCode, 200)
  t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_b/claim')).json().conversation.assignee.displayName, 'Ann')
  t.equal((await consoleCall(app, BOB, 'POST', '/conversations/o_d/claim')).statusCode, 200)
  t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_b/resolve')).statusCode, 200)
  t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_e/resolve')).statusCode, 200)

  t.same(await list(ANN, '?view=mine'), ['o_a'])
  t.same(await list(ANN, '?view=mine&status=resolved'), ['o_b'])
  t.same(await list(BOB, '?view=mine&status=open'), ['o_d'])
  t.same(await list(ANN, '?view=unassigned'), [])
  t.same(await list(ANN, '?view=unassigned&status=resolved'), ['o_e'])
  t.same(await list(ANN, '?view=all&status=open'), ['o_d', 'o_c', 'o_a'])
  t.same(await list(ANN, '?view=all&status=resolved'), ['o_e', 'o_b'])
  const seen: string[] = []
  let next: string | null = null
  do {
    const res = await consoleCall(app, ANN, 'GET', `/conversations?status=open&limit=1${next === null ? '' : `&before=${next}`}`)
    seen.push(...res.json().items.map((c: Conversation) => c.openid))
    next = res.json().next
  } while (next !== null && seen.length < 10)
  t.same(seen, ['o_d', 'o_c', 'o_a'], 'pages of one: each once, in order')
  for (const bad of ['?limit=101', '?limit=0', '?view=theirs', '?status=closed', '?before=!!']) {
    t.equal((await consoleCall(app, ANN, 'GET', `/conversations${bad}`)).statusCode, 400, `${bad}: 400`)
  }
  t.equal((await consoleCall(app, ANN, 'GET', '/conversations?before=bm90LWEtY3Vyc29y')).json().code, 'CS_CURSOR_INVALID')

  // Release: only the assignee, or a console admin.
  const refused = await consoleCall(app, ANN, 'POST', '/conversations/o_d/release')
  t.equal(refused.statusCode, 409)
  t.equal(refused.json().code, 'CS_CONSOLE_CLAIMED')
  t.match(refused.json().message, /Bob/)
  t.equal((await app.conversationsRepository.get('o_d'))?.assignee?.agentId, BOB.agentId, 'unchanged')
  t.equal((await consoleCall(app, BOB, 'POST', '/conversations/o_d/release')).json().conversation.assignee, null)
  t.equal((await consoleCall(app, BOB, 'POST', '/conversations/o_d/claim')).statusCode, 200)
  t.equal((await consoleCall(app, BOSS, 'POST', '/conversations/o_d/release')).statusCode, 200, 'a console admin releases anyone\'s')
  // Forcing a claim: console admins only.
  const notAdmin = await consoleCall(app, ANN, 'POST', '/conversations/o_c/claim', { force: true })
  t.equal(notAdmin.statusCode, 403)
  t.equal((await app.conversationsRepository.get('o_c'))?.assignee?.agentId, winner.agentId, 'unchanged')
  const forced = await consoleCall(app, BOSS, 'POST', '/conversations/o_c/claim', { force: true })
  t.equal(forced.statusCode, 200)
  t.equal(forced.json().conversation.assignee.agentId, BOSS.agentId)
  t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_c/claim', { force: 'yes' })).statusCode, 400)
  t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_c/claim', { other: 1 })).statusCode, 400)

  // Read: that agent's unread count only.
  await userWrites(app, clock, 'o_a', 'second')
  const read = await consoleCall(app, ANN, 'POST', '/conversations/o_a/read')
  t.equal(read.statusCode, 200)
  const c = read.json().conversation as Conversation
  t.equal(c.inboundCount - (c.readCounts[ANN.agentId] ?? 0), 0, 'Ann: nothing unread')
  t.equal(c.inboundCount - (c.readCounts[BOB.agentId] ?? 0), 2, 'Bob: both unread')
  await userWrites(app, clock, 'o_a', 'third')
  const after = (await consoleCall(app, BOB, 'GET', '/conversations/o_a')).json().conversation as Conversation
  t.equal(after.inboundCount - (after.readCounts[ANN.agentId] ?? 0), 1, 'Ann: the new one')

  for (const path of ['read', 'claim', 'release', 'resolve', 'reopen', 'typing']) {
    const res = await consoleCall(app, ANN, 'POST', `/conversations/o_none/${path}`)
    t.equal(res.statusCode, 404, `${path}: 404`)
    t.equal(res.json().code, 'CS_CONSOLE_NOT_FOUND')
  }
  t.equal((await consoleCall(app, ANN, 'GET', '/conversations/o_none')).json().code, 'CS_CONSOLE_NOT_FOUND')
  t.equal((await consoleCall(app, ANN, 'GET', '/conversations/o%20x')).statusCode, 400)
})

t.test('the console routes refuse non-agent identities (401/403), before reading a body', async (t) => {
  const app = await buildCs(t, { config: testConfig(), clock: new RealTimeClock() })
  const user = { kind: 'user' as const, openid: 'o1', sessionId: 's', via: 'bearer' as const }
  const routes: Array<['GET' | 'POST', string]> = [
    ['GET', '/conversations'], ['GET', '/conversations/o1'], ['GET', '/conversations/o1/messages'], ['POST', '/conversations/o1/read'],
    ['POST', '/conversations/o1/claim'], ['POST', '/conversations/o1/release'], ['POST', '/conversations/o1/resolve'],
    ['POST', '/conversations/o1/reopen'], ['POST', '/conversations/o1/messages'], ['POST', '/conversations/o1/typing']
  ]
  for (const [method, path] of routes) {
    const url = `/api/console${path}`
    const none = await callInternal(app, { method, url, payload: method === 'POST' ? { type: 'text', text: 'x' } : undefined })
    t.same([none.statusCode, none.json().code], [401, 'COMMON_AUTH_REQUIRED'], `${method} ${path}: no identity`)
    t.same((await callInternal(app, { method, url, identity: ADMIN })).statusCode, 403, `${method} ${path}: an admin key`)
    t.same((await callInternal(app, { method, url, identity: user })).statusCode, 403, `${method} ${path}: a user`)
    t.equal((await callPublic(app, { method, url })).statusCode, 401, `${method} ${path}: without the internal credential`)
  }
})

t.test('auto-replies are in the conversation and its events like any send: pending, then sent', async (t) => {
  const clock = new RealTimeClock()
  const sender = new RecordingSender()
  const app = await buildCs(t, { config: testConfig({ WELCOME_TEXT: 'Welcome! How can we help?' }), clock, sender })
  const events: ConsoleEvent[] = []
  await app.bus.subscribe(BusChannels.console, (e: BusEvent) => { if (e.type === 'console.event') events.push(e.event) })
  await busSubscribed(app, BusChannels.console)
  await pushFields(app, clock, enterSession('o_auto', clock.seconds, 'menu'))
  await waitFor(() => sender.sent.length === 1, { timeoutMs: 5000, what: 'welcome sent' })
  await waitFor(() => events.filter((e) => e.type === 'message' && e.message.direction === 'out').length === 2, { timeoutMs: 3000, what: 'reply events' })
  const replies = events.filter((e) => e.type === 'message' && e.message.direction === 'out')
  t.same(replies.map((e) => e.type === 'message' ? [e.message.sentBy, e.message.outcome] : []), [['auto:welcome', 'pending'], ['auto:welcome', 'sent']])
  const conversation = await app.conversationsRepository.get('o_auto')
  t.same(conversation?.last, { direction: 'out', msgType: 'text', preview: 'Welcome! How can we help?' })
  t.equal(conversation?.inboundCount, 1)
})

t.test('read publishes a conversation event only when it changed something (no frame to every console for nothing)', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  await userWrites(app, clock, 'o_read', 'one')
  await userWrites(app, clock, 'o_read', 'two')
  const events: ConsoleEvent[] = []
  await app.bus.subscribe(BusChannels.console, (e: BusEvent) => { if (e.type === 'console.event') events.push(e.event) })
  await busSubscribed(app, BusChannels.console)
  // The pushes' own events may still be on their way: the reads' are those with a read count.
  const reads = (): number[][] => events.flatMap((e) => e.type === 'conversation' && Object.keys(e.conversation.readCounts).length > 0 ? [[e.conversation.readCounts[ANN.agentId] ?? 0, e.conversation.readCounts[BOB.agentId] ?? 0]] : [])

  const first = await consoleCall(app, ANN, 'POST', '/conversations/o_read/read')
  t.equal(first.statusCode, 200)
  const again = await consoleCall(app, ANN, 'POST', '/conversations/o_read/read')
  t.equal(again.statusCode, 200, 'an idle read still answers')
  t.same(again.json(), first.json(), 'with the same conversation')
  // Bob's read changes his count: published. It goes out after Ann's second read, in order, so once it is
  // here Ann's second would be too.
  t.equal((await consoleCall(app, BOB, 'POST', '/conversations/o_read/read')).statusCode, 200)
  await waitFor(() => events.some((e) => e.type === 'conversation' && (e.conversation.readCounts[BOB.agentId] ?? 0) === 2), { timeoutMs: 5000, what: 'Bob\'s read event' })
  t.same(reads(), [[2, 0], [2, 2]], 'Ann\'s first read and Bob\'s: two events, none for Ann\'s second')
  t.equal((await consoleCall(app, ANN, 'POST', '/conversations/o_none/read')).statusCode, 404, 'still 404 for an unknown conversation')
})
