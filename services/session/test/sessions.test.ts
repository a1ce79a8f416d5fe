import t from 'tap'
import { BusChannels, type BusEvent } from '@weapp/common'
import { credentialHash } from '../src/sessions/credentials.js'
import type { MemorySessionsRepository } from '../src/repositories/memory.js'
import { callInternal, loginBearer, resolve, setup } from './fixtures/harness.js'

const MINUTE = 60_000
const DAY = 24 * 3_600_000

t.test('/internal/resolve: body is exactly one credential form', async (t) => {
  const { app } = await setup(t)
  for (const body of [{}, { bearer: 'a', skey: 'b' }, { waferId: 'a' }, { waferSkey: 'b' }, { waferId: 'a', waferSkey: 'b', skey: 'c' },
    { bearer: 1 }, { bearer: '' }, { other: 'x' }, { bearer: 'a', extra: 'x' }, ['bearer']]) {
    const res = await callInternal(app, { method: 'POST', url: '/internal/resolve', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  for (const body of [{ bearer: 'nope' }, { waferId: 'a'.repeat(64), waferSkey: 'b'.repeat(40) }, { skey: 'c'.repeat(40) }]) {
    const res = await resolve(app, body)
    t.equal(res.statusCode, 401)
    t.same(res.json(), { statusCode: 401, code: 'SESSION_INVALID', error: 'Unauthorized', message: 'Session invalid: unknown session' })
  }
})

t.test('credential forms do not cross: a bearer token is not a wafer skey', async (t) => {
  const { app, sim } = await setup(t)
  const { token } = await loginBearer(app, sim, 'alice')
  t.equal((await resolve(app, { skey: token })).statusCode, 401)
  t.equal((await resolve(app, { bearer: token })).statusCode, 200)
})

t.test('sliding idle expiry, written at most once a minute, capped by the absolute lifetime', async (t) => {
  const { app, sim, clock } = await setup(t, { SESSION_IDLE_TTL_SEC: String(3600), SESSION_MAX_TTL_SEC: String(3 * 3600) })
  const sessions = app.sessionsRepository as MemorySessionsRepository
  const login = clock.ms
  const { token, body } = await loginBearer(app, sim, 'alice')
  t.equal(body.expiresAt, new Date(login + 3_600_000).toISOString())
  const hash = credentialHash({ kind: 'bearer', token })

  clock.advance(30_000)
  const early = await resolve(app, { bearer: token })
  t.equal(early.json().expiresAt, new Date(login + 3_600_000).toISOString(), 'within a minute: not slid, not written')
  t.equal(early.json().identity.absoluteExpiresAt, new Date(login + 3 * 3_600_000).toISOString(), 'the identity carries the absolute expiry (realtime-ws ends sockets then)')
  t.same((await sessions.findByCredentialHash(hash))?.lastSeenAt, new Date(login))

  clock.advance(30_000)
  const slid = await resolve(app, { bearer: token })
  t.equal(slid.json().expiresAt, new Date(clock.ms + 3_600_000).toISOString(), 'a minute later: slid and written')
  t.same((await sessions.findByCredentialHash(hash))?.lastSeenAt, new Date(clock.ms))

  // Keep using it every 50 minutes: it never idles out, but stops at login + 3 h.
  for (let i = 0; i < 3; i++) {
    clock.advance(50 * MINUTE)
    const res = await resolve(app, { bearer: token })
    t.equal(res.statusCode, 200)
    t.ok(new Date(res.json().expiresAt).getTime() <= login + 3 * 3_600_000, 'never past the cap')
  }
  clock.ms = login + 3 * 3_600_000 - 1
  const last = await resolve(app, { bearer: token })
  t.equal(last.json().expiresAt, new Date(login + 3 * 3_600_000).toISOString(), 'capped')
  clock.advance(1)
  const capped = await resolve(app, { bearer: token })
  t.equal(capped.statusCode, 401)
  t.equal(capped.json().message, 'Session invalid: session reached its maximum lifetime')
  t.equal(await sessions.findByCredentialHash(hash), null, 'expired sessions are deleted')
  t.equal((await resolve(app, { bearer: token })).json().message, 'Session invalid: unknown session')
})

t.test('idle expiry: unused for the idle TTL → 401 expired, and deleted', async (t) => {
  const { app, sim, clock } = await setup(t)
  const { token } = await loginBearer(app, sim, 'alice')
  clock.advance(7 * DAY - 1)
  t.equal((await resolve(app, { bearer: token })).statusCode, 200, 'used just in time: slides another 7 days')
  clock.advance(7 * DAY - 1)
  t.equal((await resolve(app, { bearer: token })).statusCode, 200)
  clock.advance(7 * DAY)
  const idle = await resolve(app, { bearer: token })
  t.equal(idle.statusCode, 401)
  t.equal(idle.json().code, 'SESSION_INVALID')
  t.match(idle.json().message, /expired after inactivity/)
  t.equal((app.sessionsRepository as MemorySessionsRepository).size, 0)
})

t.test('logout deletes the session now, publishes session.revoked, and later resolves are 401', async (t) => {
  const { app, sim } = await setup(t)
  const { token, identity } = await loginBearer(app, sim, 'alice')
  const other = await loginBearer(app, sim, 'alice')
  const events: BusEvent[] = []
  const unsubscribe = await app.bus.subscribe(BusChannels.sessions, (e) => { events.push(e) })
  t.teardown(unsubscribe)

  const res = await callInternal(app, { method: 'POST', url: '/api/logout', identity })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '')
  await new Promise((resolve) => setImmediate(resolve))
  t.same(events, [{ type: 'session.revoked', sessionId: identity.sessionId, credentialHashes: [credentialHash({ kind: 'bearer', token })] }])

  const after = await resolve(app, { bearer: token })
  t.equal(after.statusCode, 401)
  t.equal(after.json().code, 'SESSION_INVALID')
  t.equal((await resolve(app, { bearer: other.token })).statusCode, 200, "the user's other session lives on")

  const again = await callInternal(app, { method: 'POST', url: '/api/logout', identity })
  t.equal(again.statusCode, 204, 'logging out twice is fine')
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(events.length, 1, 'nothing more to revoke')
  t.equal((await callInternal(app, { method: 'POST', url: '/api/logout' })).statusCode, 401, 'needs a session')
  const jsonEmpty = await callInternal(app, { method: 'POST', url: '/api/logout', identity: other.identity, headers: { 'content-type': 'application/json' }, payload: '' })
  t.equal(jsonEmpty.statusCode, 204, 'an empty JSON body (wx.request POST without data) is accepted')
})
