import t from 'tap'
import { credentialHash } from '../src/sessions/credentials.js'
import type { MemorySessionsRepository, MemoryUsersRepository } from '../src/repositories/memory.js'
import { BODY_LIMIT } from '../src/app.js'
import { callPublic } from '@weapp/test-kit'
import { callInternal, identityOf, setup } from './fixtures/harness.js'

const JSCODE2SESSION = '/sns/jscode2session'

t.test('login: code → token and user; only the token hash is stored', async (t) => {
  const { app, sim } = await setup(t)
  const { code, openid, unionid } = await sim.control.loginCode({ user: 'alice' })
  const res = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code } })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body).sort(), ['expiresAt', 'token', 'user'])
  t.match(body.token, /^[A-Za-z0-9_-]{43}$/)
  t.ok(Buffer.from(body.token, 'base64url').length * 8 >= 128, 'at least 128 bits')
  t.same(body.user, { openid, unionid, firstSeenAt: '2025-01-01T12:00:00.000Z', lastSeenAt: '2025-01-01T12:00:00.000Z' })
  t.equal(body.expiresAt, '2025-01-08T12:00:00.000Z', 'idle TTL (7 days) from login')

  const sessions = app.sessionsRepository as MemorySessionsRepository
  t.equal(sessions.size, 1)
  const stored = await sessions.findByCredentialHash(credentialHash({ kind: 'bearer', token: body.token }))
  t.ok(stored, 'found by hash')
  t.notMatch(JSON.stringify(stored), body.token, 'the token itself is nowhere in the stored session')
  t.same(stored?.credentialHashes, [credentialHash({ kind: 'bearer', token: body.token })])
  t.equal(stored?.kind, 'bearer')
  t.equal(stored?.openid, openid)

  const identity = await identityOf(app, { bearer: body.token })
  t.same(identity, { kind: 'user', openid, unionid, sessionId: stored!.id, via: 'bearer', absoluteExpiresAt: '2025-01-31T12:00:00.000Z' }, 'with the absolute expiry (30 days)')

  const extra = await sim.control.loginCode({ user: 'alice' })
  const withExtras = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: extra.code, errMsg: 'login:ok' } })
  t.equal(withExtras.statusCode, 200, "wx.login's whole result is accepted, extras ignored")
})

t.test('a second login keeps firstSeenAt and opens a second session', async (t) => {
  const { app, sim, clock } = await setup(t)
  const a = await sim.control.loginCode({ user: 'bob' })
  const first = (await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: a.code } })).json()
  clock.advance(3_600_000)
  const b = await sim.control.loginCode({ user: 'bob' })
  const second = (await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: b.code } })).json()
  t.equal(second.user.firstSeenAt, first.user.firstSeenAt)
  t.equal(second.user.lastSeenAt, '2025-01-01T13:00:00.000Z')
  t.not(second.token, first.token)
  t.equal((app.sessionsRepository as MemorySessionsRepository).size, 2)
})

t.test('bad codes: 400 for missing or non-string, 401 WECHAT_CODE_INVALID for forged, used or expired; nothing written', async (t) => {
  const { app, sim } = await setup(t)
  const users = app.usersRepository as MemoryUsersRepository
  const sessions = app.sessionsRepository as MemorySessionsRepository
  for (const body of [{}, { code: 123 }, { code: '' }, { code: null }, { code: ['x'] }, { code: 'x'.repeat(257) }, ['code'], 'code']) {
    const res = await callInternal(app, { method: 'POST', url: '/api/login', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } })
    t.equal(res.statusCode, 400, JSON.stringify(body))
    t.equal(res.json().code, 'VALIDATION_FAILED')
  }
  const noBody = await callInternal(app, { method: 'POST', url: '/api/login' })
  t.equal(noBody.statusCode, 400)
  t.equal(noBody.json().code, 'VALIDATION_FAILED')
  const before = (await sim.control.stats()).calls[JSCODE2SESSION] ?? 0
  t.equal(before, 0, 'invalid bodies never reach WeChat')

  const forged = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: 'forged-code-0123456789abcdef' } })
  t.equal(forged.statusCode, 401)
  t.equal(forged.json().code, 'WECHAT_CODE_INVALID')

  const { code, openid } = await sim.control.loginCode({ user: 'carol' })
  t.equal((await callInternal(app, { method: 'POST', url: '/api/login', payload: { code } })).statusCode, 200)
  const sessionsAfterFirst = sessions.size
  const reused = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code } })
  t.equal(reused.statusCode, 401)
  t.equal(reused.json().code, 'WECHAT_CODE_INVALID')
  t.equal(sessions.size, sessionsAfterFirst, 'a used code creates no session')

  const expiring = await sim.control.loginCode({ user: 'dave', ttlMs: 1000 })
  await sim.control.advanceClock(5000)
  const expired = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: expiring.code } })
  t.equal(expired.statusCode, 401)
  t.equal(expired.json().code, 'WECHAT_CODE_INVALID')
  t.equal(await users.findByOpenid(expiring.openid), null, 'no user row for a failed login')
  t.ok(await users.findByOpenid(openid))
  t.equal(sessions.size, 1)
})

t.test('WeChat failures: -1 retried then success; exhausted 503; 45011 429; 40226 403; timeout 504', async (t) => {
  const { app, sim } = await setup(t, { WECHAT_TIMEOUT_MS: '300' })
  const sessions = app.sessionsRepository as MemorySessionsRepository

  await sim.control.fault({ path: JSCODE2SESSION, errcode: -1, count: 2 })
  const retried = await sim.control.loginCode({ user: 'erin' })
  const ok = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: retried.code } })
  t.equal(ok.statusCode, 200, 'two busy answers, then success')
  t.equal((await sim.control.stats()).calls[JSCODE2SESSION], 3)
  t.equal(sessions.size, 1)

  await sim.control.fault({ path: JSCODE2SESSION, errcode: -1, count: 50 })
  const busy = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: (await sim.control.loginCode({ user: 'erin' })).code } })
  t.equal(busy.statusCode, 503)
  t.equal(busy.json().code, 'WECHAT_BUSY')
  await sim.control.clearFaults()

  await sim.control.fault({ path: JSCODE2SESSION, errcode: 45011 })
  const limited = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: (await sim.control.loginCode({ user: 'erin' })).code } })
  t.equal(limited.statusCode, 429)
  t.equal(limited.json().code, 'WECHAT_RATE_LIMITED')

  await sim.control.fault({ path: JSCODE2SESSION, errcode: 40226 })
  const risky = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: (await sim.control.loginCode({ user: 'erin' })).code } })
  t.equal(risky.statusCode, 403)
  t.equal(risky.json().code, 'WECHAT_RISKY_USER')

  await sim.control.fault({ path: JSCODE2SESSION, delayMs: 2000, count: 10 })
  const slow = await callInternal(app, { method: 'POST', url: '/api/login', payload: { code: (await sim.control.loginCode({ user: 'erin' })).code } })
  t.equal(slow.statusCode, 504)
  t.equal(slow.json().code, 'WECHAT_TIMEOUT')
  await sim.control.clearFaults()

  t.equal(sessions.size, 1, 'no failure created a session')
})

t.test('transport-level bad input: malformed JSON 400, oversized body 413, wrong content type 415', async (t) => {
  const { app, sim } = await setup(t)
  const malformed = await callInternal(app, { method: 'POST', url: '/api/login', payload: '{"code": ', headers: { 'content-type': 'application/json' } })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY')
  const poisoned = await callInternal(app, { method: 'POST', url: '/api/login', payload: '{"__proto__":{"admin":true},"code":"abc"}', headers: { 'content-type': 'application/json' } })
  t.equal(poisoned.statusCode, 400, 'prototype poisoning refused')
  const big = await callInternal(app, { method: 'POST', url: '/api/login', payload: JSON.stringify({ code: 'x'.repeat(BODY_LIMIT) }), headers: { 'content-type': 'application/json' } })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')
  t.equal((await sim.control.stats()).calls['/sns/jscode2session'] ?? 0, 0, 'none of it reached WeChat')
  const text = await callInternal(app, { method: 'POST', url: '/api/login', payload: 'code=abc', headers: { 'content-type': 'application/x-www-form-urlencoded' } })
  t.equal(text.statusCode, 415)
  const health = await app.inject('/healthz')
  t.equal(health.statusCode, 200, 'the service keeps serving')
})

t.test('the internal credential is required everywhere but /healthz', async (t) => {
  const { app, sim } = await setup(t)
  const { code } = await sim.control.loginCode({ user: 'frank' })
  const missing = await callPublic(app, { method: 'POST', url: '/api/login', payload: { code } })
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().code, 'COMMON_INTERNAL_AUTH_MISSING')
  const wrong = await callPublic(app, { method: 'POST', url: '/api/login', payload: { code }, headers: { 'x-internal-token': 'w'.repeat(43) } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'COMMON_INTERNAL_AUTH_INVALID')
  for (const url of ['/api/me', '/login', '/me', '/weapp/login', '/weapp/user']) {
    t.equal((await callPublic(app, { url })).statusCode, 401, url)
  }
  t.equal((await callPublic(app, { method: 'POST', url: '/internal/resolve', payload: { bearer: 'x' } })).statusCode, 401)
  t.equal((await sim.control.stats()).calls[JSCODE2SESSION] ?? 0, 0, 'nothing reached WeChat')
  const health = await app.inject('/healthz')
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok', service: 'session' })
})
