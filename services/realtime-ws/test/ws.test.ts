import t from 'tap'
import { BusChannels, InProcessBus } from '@weapp/common'
import { ManualClock, waitFor } from '@weapp/test-kit'
import { ALICE, AGENT, BOB, Client, INTERNAL_TOKEN, gatewayHeaders, issueTicket, refusal, start, testConfig } from './fixtures/harness.js'

t.test('gateway identity: greeting and echo exactly as the seed', async (t) => {
  const r = await start(t)
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  t.equal(await c.next(), 'Server: 恭喜，小爱')
  c.send('hello')
  t.equal(await c.next(), 'Server: Received(hello)')
  c.send('{"not":"an envelope"}')
  t.equal(await c.next(), 'Server: Received({"not":"an envelope"})')
  c.send('{"type":"unknown"}')
  t.equal(await c.next(), 'Server: Received({"type":"unknown"})')
})

t.test('an open socket keeps nothing of its upgrade request; a socket error still terminates it', async (t) => {
  const r = await start(t)
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  t.equal(await c.next(), 'Server: 恭喜，小爱')
  const [server] = [...r.app.websocketServer.clients]
  const tcp = (server as unknown as { _socket: { _httpMessage: unknown } })._socket
  t.equal(tcp._httpMessage, null, 'the upgrade response is detached from the TCP socket')
  t.equal(server!.listenerCount('error'), 1, 'one error listener: ours, not the one holding the request and reply')
  server!.emit('error', new Error('socket failure (test)'))
  t.equal((await c.closed).code, 1006, 'terminated')
})

t.test('ticket: issued through the gateway, opens /ws once', async (t) => {
  const r = await start(t)
  const issued = await issueTicket(r, ALICE)
  t.equal(issued.expiresIn, 60)
  t.equal(issued.url, `/ws?ticket=${issued.ticket}`)
  const c = await Client.open(t, `${r.ws}${issued.url}`)
  t.equal(await c.next(), 'Server: 恭喜，小爱')
  const again = await refusal(`${r.ws}${issued.url}`)
  t.equal(again.status, 401, 'a used ticket is refused')
  t.equal(again.body.code, 'WS_TICKET_INVALID')
  const noUser = await r.app.inject({ method: 'POST', url: '/api/ws/tickets', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.equal(noUser.statusCode, 401, 'a ticket needs an identity')
  const noToken = await r.app.inject({ method: 'POST', url: '/api/ws/tickets' })
  t.equal(noToken.statusCode, 401, 'the ticket route needs the gateway')
  // wx.request's POST without data: `content-type: application/json` and an empty body.
  const wxStyle = await r.app.inject({ method: 'POST', url: '/api/ws/tickets', headers: { ...gatewayHeaders(ALICE), 'content-type': 'application/json' }, payload: '' })
  t.equal(wxStyle.statusCode, 200, 'an empty JSON body is no body')
  const malformed = await r.app.inject({ method: 'POST', url: '/api/ws/tickets', headers: { ...gatewayHeaders(ALICE), 'content-type': 'application/json' }, payload: '{' })
  t.equal(malformed.statusCode, 400, 'a malformed one is still refused')
})

t.test('refused before the socket opens, with a readable 401', async (t) => {
  const clock = new ManualClock(Date.now())
  const r = await start(t, { now: clock.nowMs })
  const cases: Array<[string, string, Record<string, string>, string]> = [
    // Without the internal token the upgrade is a client's own: refused as the gateway refuses (direct-auth.test.ts).
    ['no credentials', '/ws', {}, 'GATEWAY_AUTH_REQUIRED'],
    ['bad ticket', '/ws?ticket=nope', {}, 'WS_TICKET_INVALID'],
    ['well-formed unknown ticket', `/ws?ticket=${'a'.repeat(43)}`, {}, 'WS_TICKET_INVALID'],
    ['identity without the internal token', '/ws', { 'x-weapp-identity': gatewayHeaders(ALICE)['x-weapp-identity']! }, 'GATEWAY_AUTH_REQUIRED'],
    ['wrong internal token', '/ws', { ...gatewayHeaders(ALICE), 'x-internal-token': 'x'.repeat(40) }, 'WS_AUTH_REQUIRED'],
    ['internal token without identity', '/ws', { 'x-internal-token': INTERNAL_TOKEN }, 'WS_AUTH_REQUIRED']
  ]
  for (const [name, path, headers, code] of cases) {
    const res = await refusal(`${r.ws}${path}`, headers)
    t.equal(res.status, 401, name)
    t.equal(res.body.code, code, name)
    t.equal(res.body.statusCode, 401)
  }
  const issued = await issueTicket(r, ALICE)
  clock.advance(61_000)
  const expired = await refusal(`${r.ws}${issued.url}`)
  t.equal(expired.status, 401, 'an expired ticket is refused')
  t.equal(expired.body.code, 'WS_TICKET_INVALID')
  const tunnelTicket = await r.app.inject({ method: 'GET', url: '/weapp/tunnel', headers: gatewayHeaders(ALICE) })
  const url = new URL(tunnelTicket.json<{ data: { connectUrl: string } }>().data.connectUrl)
  const wrongPurpose = await refusal(`${r.ws}/ws${url.search}`)
  t.equal(wrongPurpose.status, 401, 'a tunnel ticket does not open /ws')
  const plain = await fetch(`${r.http}/ws`, { headers: gatewayHeaders(ALICE) })
  t.equal(plain.status, 426, 'a plain GET is told to upgrade')
  await plain.body?.cancel()
  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_auth_refusals_total\{reason="bad_ticket"\} 4/)
  t.match(metrics.body, /ws_auth_refusals_total\{reason="no_credentials"\} 3/)
})

t.test('envelope: ping/pong, subscribe allowed and forbidden, channel push', async (t) => {
  const r = await start(t)
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await c.next()
  c.send(JSON.stringify({ type: 'ping', id: 7 }))
  t.same(await c.nextJson(), { type: 'pong', id: 7 })
  c.send(JSON.stringify({ type: 'subscribe', channel: 'user:o_alice' }))
  t.same(await c.nextJson(), { type: 'subscribed', channel: 'user:o_alice' })
  c.send(JSON.stringify({ type: 'subscribe', channel: 'public:news' }))
  t.same(await c.nextJson(), { type: 'subscribed', channel: 'public:news' })
  c.send(JSON.stringify({ type: 'subscribe', channel: 'user:o_bob' }))
  t.match(await c.nextJson(), { type: 'error', code: 'WS_CHANNEL_FORBIDDEN', channel: 'user:o_bob' })
  c.send(JSON.stringify({ type: 'subscribe', channel: 'private:x' }))
  t.match(await c.nextJson(), { type: 'error', code: 'WS_CHANNEL_FORBIDDEN' })
  c.send(JSON.stringify({ type: 'subscribe' }))
  t.match(await c.nextJson(), { type: 'error', code: 'WS_BAD_MESSAGE' })

  await r.app.bus.publish(BusChannels.channels, { type: 'channel.push', channel: 'public:news', event: 'headline', data: { n: 1 } })
  t.same(await c.nextJson(), { type: 'event', event: 'headline', data: { n: 1 }, channel: 'public:news' })
  c.send(JSON.stringify({ type: 'unsubscribe', channel: 'public:news' }))
  t.same(await c.nextJson(), { type: 'unsubscribed', channel: 'public:news' })
  await r.app.bus.publish(BusChannels.channels, { type: 'channel.push', channel: 'public:news', event: 'headline', data: { n: 2 } })
  c.send(JSON.stringify({ type: 'ping' }))
  t.same(await c.nextJson(), { type: 'pong' }, 'nothing arrived after unsubscribing')
})

t.test('user.push reaches every socket of that user only; cs events reach the user and every agent console', async (t) => {
  const r = await start(t)
  const a1 = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  const a2 = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  const b = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(BOB))
  const agent = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(AGENT))
  await Promise.all([a1.next(), a2.next(), b.next()])
  t.equal(await agent.next(), 'Server: 恭喜，ops')
  await r.app.bus.publish(BusChannels.users, { type: 'user.push', openid: ALICE.openid, event: 'order.paid', data: { id: 1 } })
  t.same(await a1.nextJson(), { type: 'event', event: 'order.paid', data: { id: 1 } })
  t.same(await a2.nextJson(), { type: 'event', event: 'order.paid', data: { id: 1 } })
  const message = { ToUserName: 'gh_x', FromUserName: ALICE.openid, CreateTime: 1, MsgType: 'text' as const, Content: 'hi', MsgId: '1' }
  await r.app.bus.publish(BusChannels.cs, { type: 'cs.inbound', openid: ALICE.openid, message, receivedAt: 'now' })
  const expected = { type: 'event', event: 'cs.inbound', data: { openid: ALICE.openid, message, receivedAt: 'now' } }
  t.same(await agent.nextJson(), expected, 'the agent console gets it')
  t.same(await a1.nextJson(), expected, 'the user gets it')
  await r.app.bus.publish(BusChannels.cs, { type: 'cs.outbound', openid: BOB.openid, message: { msgtype: 'text', text: { content: 'yo' } }, sentAt: 'now', ok: true })
  t.match(await agent.nextJson(), { event: 'cs.outbound', data: { openid: BOB.openid, ok: true } })
  t.match(await b.nextJson(), { event: 'cs.outbound' })
  t.equal(a1.received.length + a2.received.length, 1, 'alice got only her own events')
})

t.test('per-user cap: a new socket closes the oldest with 1008', async (t) => {
  const r = await start(t, { config: testConfig({ MAX_CONNECTIONS_PER_USER: '2' }) })
  const first = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await first.next()
  const second = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await second.next()
  const third = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await third.next()
  t.equal((await first.closed).code, 1008)
  second.send('still here')
  t.equal(await second.next(), 'Server: Received(still here)')
})

t.test('a frame over MAX_MESSAGE_BYTES closes with 1009', async (t) => {
  const r = await start(t, { config: testConfig({ MAX_MESSAGE_BYTES: '1024' }) })
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await c.next()
  c.send('x'.repeat(2000))
  t.equal((await c.closed).code, 1009)
})

t.test('a slow consumer is cut while others keep receiving', async (t) => {
  const r = await start(t, { config: testConfig({ MAX_BUFFERED_BYTES: '65536' }) })
  const slow = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  const fast = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(BOB))
  await slow.next()
  await fast.next()
  for (const c of [slow, fast]) {
    c.send(JSON.stringify({ type: 'subscribe', channel: 'public:firehose' }))
    await c.next()
  }
  // Stop reading: the kernel buffers fill, then the server's send buffer grows.
  ;(slow.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  const payload = 'y'.repeat(16 * 1024)
  let sent = 0
  let fastGot = 0
  fast.ws.on('message', () => { fastGot++ })
  const cut = (): boolean => r.app.wsHub.size === 1
  while (!cut() && sent < 4000) {
    await r.app.bus.publish(BusChannels.channels, { type: 'channel.push', channel: 'public:firehose', event: 'tick', data: payload })
    sent++
    if (sent % 50 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await waitFor(cut, { what: 'the slow consumer cut' })
  t.ok(sent < 4000, `cut after ${sent} events (${Math.round(sent * payload.length / 1024 / 1024)} MiB)`)
  await waitFor(() => fastGot >= sent, { timeoutMs: 10_000, what: 'every event at the fast reader' })
  t.equal(fastGot, sent, 'the fast reader got every event')
  await r.app.bus.publish(BusChannels.channels, { type: 'channel.push', channel: 'public:firehose', event: 'after', data: 1 })
  await waitFor(() => fastGot === sent + 1, { what: 'the event after the cut' })
  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_slow_consumers_total 1/)
})

t.test('heartbeat: a socket that stops answering pings is terminated', async (t) => {
  const r = await start(t, { config: testConfig({ HEARTBEAT_INTERVAL_MS: '100' }) })
  const quiet = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  const lively = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(BOB))
  await quiet.next()
  await lively.next()
  ;(quiet.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
  await waitFor(() => r.app.wsHub.size === 1, { what: 'the silent socket terminated' })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(lively.ws.readyState, lively.ws.OPEN, 'a client answering pings stays')
})

t.test('shutdown closes every socket with 1001', async (t) => {
  const r = await start(t, { autoClose: false })
  const a = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  const b = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(AGENT))
  await a.next()
  await b.next()
  await r.app.close()
  t.equal((await a.closed).code, 1001)
  t.equal((await b.closed).code, 1001)
})

t.test('two instances sharing one bus each deliver to their own sockets', async (t) => {
  const bus = new InProcessBus()
  t.teardown(() => bus.close())
  const r1 = await start(t, { bus })
  const r2 = await start(t, { bus })
  const c1 = await Client.open(t, `${r1.ws}/ws`, gatewayHeaders(ALICE))
  const c2 = await Client.open(t, `${r2.ws}/ws`, gatewayHeaders(ALICE))
  await c1.next()
  await c2.next()
  await bus.publish(BusChannels.users, { type: 'user.push', openid: ALICE.openid, event: 'e', data: null })
  t.same(await c1.nextJson(), { type: 'event', event: 'e', data: null })
  t.same(await c2.nextJson(), { type: 'event', event: 'e', data: null })
})

t.test('health is public, metrics need the internal token', async (t) => {
  const r = await start(t)
  const health = await r.app.inject({ url: '/healthz' })
  t.same(health.json(), { status: 'ok', service: 'realtime-ws', sockets: 0 })
  t.equal((await r.app.inject({ url: '/metrics' })).statusCode, 401)
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(ALICE))
  await c.next()
  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_open_sockets\{kind="ws"\} 1/)
  t.match(metrics.body, /ws_messages_out_total\{kind="ws"\} 1/)
})
