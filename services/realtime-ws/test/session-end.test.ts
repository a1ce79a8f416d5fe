// Sockets end when their login ends: a logout or revocation (`session.revoked` on the bus, as the session
// service publishes it) closes every socket of that session with 4001 on every instance and kills its unused
// tickets; a session reaching its absolute expiry closes its sockets then. Admin-key sockets are untouched.
import t, { type Test } from 'tap'
import { BusChannels, RedisBus, type Bus, type Identity, type UserIdentity } from '@weapp/common'
import { AGENT, ALICE, Client, INTERNAL_TOKEN, gatewayHeaders, issueTicket, refusal, start, testConfig, tableNicknames, type Running } from './fixtures/harness.js'

const redisUrl = process.env.REDIS_URL
const needsRedis = { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }

let nextSession = 0
/** Alice on a session of her own (each test revokes its own). */
function session (extra: Partial<UserIdentity> = {}): UserIdentity {
  return { ...ALICE, sessionId: `sess-${process.pid}-${++nextSession}-${Date.now()}`, ...extra }
}

const inMs = (ms: number): string => new Date(Date.now() + ms).toISOString()

/** What the session service publishes at logout (services/session/src/sessions/session-service.ts). */
async function logout (bus: Bus, identity: UserIdentity): Promise<number> {
  const at = Date.now()
  await bus.publish(BusChannels.sessions, { type: 'session.revoked', sessionId: identity.sessionId, credentialHashes: ['0'.repeat(64)] })
  return at
}

async function openWs (t: Test, r: Running, identity: Identity): Promise<Client> {
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(identity))
  await c.next()
  return c
}

async function tunnelUrl (r: Running, identity: Identity): Promise<string> {
  const res = await r.app.inject({ url: '/weapp/tunnel', headers: gatewayHeaders(identity) })
  if (res.statusCode !== 200) throw new Error(`tunnel: ${res.statusCode} ${res.body}`)
  const url = new URL(res.json<{ data: { connectUrl: string } }>().data.connectUrl)
  return `${url.pathname}${url.search}`
}

async function openTunnel (t: Test, r: Running, identity: Identity, at = r): Promise<Client> {
  const c = await Client.open(t, `${at.ws}${await tunnelUrl(r, identity)}`)
  t.equal(await c.next(), 'timeout:15')
  return c
}

/** The socket answers: an echo on /ws, a pong on a tunnel. */
async function answers (c: Client, kind: 'ws' | 'tunnel'): Promise<boolean> {
  c.send(kind === 'ws' ? 'still there?' : 'ping')
  return await c.next() === (kind === 'ws' ? 'Server: Received(still there?)' : 'pong')
}

async function closedWithin (c: Client, since: number): Promise<{ code: number, reason: string, ms: number }> {
  const closed = await c.closed
  return { ...closed, ms: Date.now() - since }
}

t.test('logout: every socket of the session closes with 4001 within 1 s; its tickets die; other sessions and admin keys stay', async (t) => {
  const r = await start(t)
  const alice = session()
  const otherAlice = session()
  const viaGateway = await openWs(t, r, alice)
  const viaTicket = await Client.open(t, `${r.ws}${(await issueTicket(r, alice)).url}`)
  await viaTicket.next()
  const tunnel = await openTunnel(t, r, alice)
  const unusedTicket = await issueTicket(r, alice)
  const unusedTunnel = await tunnelUrl(r, alice)
  const sameUserOtherSession = await openWs(t, r, otherAlice)
  const agent = await openWs(t, r, AGENT)

  const at = await logout(r.app.bus, alice)
  for (const [name, c] of [['/ws through the gateway', viaGateway], ['/ws with a ticket', viaTicket], ['tunnel', tunnel]] as const) {
    const closed = await closedWithin(c, at)
    t.equal(closed.code, 4001, `${name}: 4001`)
    t.equal(closed.reason, 'session revoked', `${name}: with a reason`)
    t.ok(closed.ms < 1000, `${name}: closed ${closed.ms} ms after the logout`)
  }
  t.equal(tunnel.received.at(-1), 'close', 'the tunnel client is told `close` first (no wafer reconnect)')

  t.ok(await answers(sameUserOtherSession, 'ws'), "the user's other session keeps its socket")
  t.ok(await answers(agent, 'ws'), 'an admin-key socket is unaffected')

  const ticket = await refusal(`${r.ws}${unusedTicket.url}`)
  t.equal(ticket.status, 401, 'a /ws ticket issued before the logout is refused')
  t.equal(ticket.body.code, 'WS_TICKET_INVALID')
  t.equal((await refusal(`${r.ws}${unusedTunnel}`)).status, 401, 'so is a tunnel ticket')
  const upgrade = await refusal(`${r.ws}/ws`, gatewayHeaders(alice))
  t.equal(upgrade.status, 401, 'an upgrade the gateway resolved just before the logout is refused')
  t.equal(upgrade.body.code, 'WS_SESSION_ENDED')
  const newTicket = await r.app.inject({ method: 'POST', url: '/api/ws/tickets', headers: gatewayHeaders(alice) })
  t.equal(newTicket.statusCode, 401, 'no new ticket for it')
  t.equal(newTicket.json().code, 'WS_SESSION_ENDED')
  t.equal((await r.app.inject({ url: '/weapp/tunnel', headers: gatewayHeaders(alice) })).statusCode, 401, 'no new tunnel for it')

  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_session_ended_closes_total\{reason="revoked"\} 3/)
})

t.test('a socket still opening when its session is revoked is closed as it registers', async (t) => {
  let release!: () => void
  const lookupStarted = new Promise<void>((resolve) => {
    release = resolve
  })
  let unblock!: () => void
  const blocked = new Promise<void>((resolve) => { unblock = resolve })
  const r = await start(t, {
    nickname: async (identity, requestId) => {
      release()
      await blocked
      return await tableNicknames(identity, requestId)
    }
  })
  const alice = session()
  const c = await Client.open(t, `${r.ws}/ws`, gatewayHeaders(alice))
  await lookupStarted
  await logout(r.app.bus, alice)
  await new Promise((resolve) => setTimeout(resolve, 50))
  unblock()
  const closed = await c.closed
  t.equal(closed.code, 4001)
  t.equal(r.app.wsHub.size, 0, 'never registered for delivery')
})

t.test('absolute expiry: the session\'s sockets close when it is reached, not before', async (t) => {
  const r = await start(t)
  const expiring = session({ absoluteExpiresAt: inMs(1200) })
  const opened = Date.now()
  const ws = await openWs(t, r, expiring)
  const tunnel = await openTunnel(t, r, expiring)
  const byTicket = await Client.open(t, `${r.ws}${(await issueTicket(r, expiring)).url}`)
  await byTicket.next()
  const later = await openWs(t, r, session({ absoluteExpiresAt: inMs(60_000) }))
  t.ok(await answers(ws, 'ws'), 'open before its expiry')
  for (const [name, c] of [['/ws', ws], ['tunnel', tunnel], ['/ws by ticket', byTicket]] as const) {
    const closed = await c.closed
    const ms = Date.now() - opened
    t.equal(closed.code, 4001, `${name}: 4001`)
    t.equal(closed.reason, 'session expired', name)
    t.ok(ms >= 1100 && ms < 2200, `${name}: closed at ${ms} ms (expiry at 1200)`)
  }
  t.ok(await answers(later, 'ws'), 'a session expiring later keeps its socket')
  const metrics = await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })
  t.match(metrics.body, /ws_session_ended_closes_total\{reason="expired"\} 3/)
})

t.test('absolute expiry further away than a heartbeat: armed by a later heartbeat, still on time', async (t) => {
  const r = await start(t, { config: testConfig({ HEARTBEAT_INTERVAL_MS: '200' }) })
  const opened = Date.now()
  const ws = await openWs(t, r, session({ absoluteExpiresAt: inMs(900) }))
  const closed = await ws.closed
  const ms = Date.now() - opened
  t.equal(closed.code, 4001)
  t.ok(ms >= 800 && ms < 1500, `closed at ${ms} ms (expiry at 900)`)
})

t.test('an expired or malformed session expiry opens nothing', async (t) => {
  const r = await start(t)
  const expired = session({ absoluteExpiresAt: inMs(-1) })
  const upgrade = await refusal(`${r.ws}/ws`, gatewayHeaders(expired))
  t.equal(upgrade.status, 401)
  t.equal(upgrade.body.code, 'WS_SESSION_ENDED')
  t.match(upgrade.body.message, /expired/)
  const ticket = await r.app.inject({ method: 'POST', url: '/api/ws/tickets', headers: gatewayHeaders(expired) })
  t.equal(ticket.statusCode, 401)
  t.equal(ticket.json().code, 'WS_SESSION_ENDED')

  const nearly = session({ absoluteExpiresAt: inMs(300) })
  const issued = await issueTicket(r, nearly)
  await new Promise((resolve) => setTimeout(resolve, 400))
  const late = await refusal(`${r.ws}${issued.url}`)
  t.equal(late.status, 401, 'a ticket used after its session expired is refused')
  t.equal(late.body.code, 'WS_TICKET_INVALID')

  const malformed = session({ absoluteExpiresAt: 'next tuesday' })
  const bad = await refusal(`${r.ws}/ws`, gatewayHeaders(malformed))
  t.equal(bad.status, 401)
  t.equal(bad.body.message, 'Authentication required: forwarded identity is malformed')
  const badTicket = await r.app.inject({ method: 'POST', url: '/api/ws/tickets', headers: gatewayHeaders(malformed) })
  t.equal(badTicket.statusCode, 400)
  t.equal(badTicket.json().code, 'COMMON_IDENTITY_MALFORMED')
})

t.test('two instances on one Redis: a logout closes the session\'s sockets on both within 1 s and kills its tickets everywhere', needsRedis, async (t) => {
  const config = testConfig({ REDIS_URL: redisUrl! })
  const r1 = await start(t, { config })
  const r2 = await start(t, { config })
  // The session service's side of the bus: a process of its own on the same Redis.
  const sessionService = new RedisBus(redisUrl!)
  t.teardown(() => sessionService.close())

  const alice = session()
  const ws1 = await openWs(t, r1, alice)
  const ws2 = await openWs(t, r2, alice)
  const tunnel1 = await openTunnel(t, r1, alice)
  const tunnel2 = await openTunnel(t, r1, alice, r2)
  const ticketed2 = await Client.open(t, `${r2.ws}${(await issueTicket(r1, alice)).url}`)
  await ticketed2.next()
  const unused = await issueTicket(r1, alice)
  const unusedLater = await issueTicket(r2, alice)
  const unusedTunnel = await tunnelUrl(r1, alice)
  const other = session()
  const keeps = await openWs(t, r2, other)
  const agent = await openWs(t, r1, AGENT)

  const at = await logout(sessionService, alice)
  const sockets = [['/ws on 1', ws1], ['/ws on 2', ws2], ['tunnel on 1', tunnel1], ['tunnel on 2', tunnel2], ['/ws by ticket on 2', ticketed2]] as const
  for (const [name, c] of sockets) {
    const closed = await closedWithin(c, at)
    t.equal(closed.code, 4001, name)
    t.ok(closed.ms < 1000, `${name}: closed ${closed.ms} ms after the logout`)
  }
  t.ok(await answers(keeps, 'ws'), 'another session stays')
  t.ok(await answers(agent, 'ws'), 'the admin socket stays')

  const onOther = await refusal(`${r2.ws}${unused.url}`)
  t.equal(onOther.status, 401, 'a ticket issued on instance 1 before the logout is refused on instance 2')
  t.equal(onOther.body.code, 'WS_TICKET_INVALID')
  t.equal((await refusal(`${r2.ws}${unusedTunnel}`)).status, 401, 'and a tunnel ticket')

  // An instance that started after the logout never heard it: the ticket store's mark refuses it there too.
  const r3 = await start(t, { config })
  t.equal((await refusal(`${r3.ws}${unusedLater.url}`)).status, 401, 'refused on an instance started after the logout')
  const fresh = await issueTicket(r1, other)
  const ok = await Client.open(t, `${r3.ws}${fresh.url}`)
  t.equal(await ok.next(), 'Server: 恭喜，小爱', 'tickets of live sessions still work there')
})
