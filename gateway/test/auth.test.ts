import { BusChannels, InProcessBus, RedisBus, decodeIdentity } from '@weapp/common'
import t from 'tap'
import { waitFor } from '@weapp/test-kit'
import { credentialHash } from '../src/auth/credentials.js'
import { WAFER_MAGIC } from '../src/auth/refusals.js'
import { BEARER, WAFER2_SKEY, WAFER_ID, WAFER_SKEY, bearer, shapedToken, startHarness, type Harness } from './fixtures/gateway.js'

const wafer1 = { 'x-wx-id': WAFER_ID, 'x-wx-skey': WAFER_SKEY }

function forwardedIdentity (h: Harness): unknown {
  const value = h.upstream.requests.at(-1)?.headers['x-weapp-identity']
  return typeof value === 'string' ? decodeIdentity(value) : undefined
}

t.test('bearer routes (/api/*)', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)

  const ok = await h.call('/api/me', { headers: bearer() })
  t.equal(ok.status, 200)
  t.same(forwardedIdentity(h), { kind: 'user', openid: 'openid-bearer', sessionId: 'session-bearer', via: 'bearer' })
  t.same(h.upstream.resolveCalls.at(-1), { bearer: BEARER }, 'resolve body per docs/internals.md')

  const scheme = await h.call('/api/me/phone', { method: 'POST', headers: { authorization: `bearer ${BEARER}` } })
  t.equal(scheme.status, 200, 'the scheme is case-insensitive')

  const missing = await h.call('/api/me')
  t.equal(missing.status, 401)
  t.same(missing.json(), { statusCode: 401, code: 'GATEWAY_AUTH_REQUIRED', error: 'Unauthorized', message: 'Authentication required: send Authorization: Bearer <token>' })

  const basic = await h.call('/api/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } })
  t.equal(basic.status, 401)
  t.equal(basic.json().code, 'GATEWAY_AUTH_REQUIRED', 'another scheme is no credential')

  const bad = await h.call('/api/me', { headers: bearer(shapedToken('not-a-session')) })
  t.equal(bad.status, 401)
  t.same(bad.json(), { statusCode: 401, code: 'GATEWAY_SESSION_INVALID', error: 'Unauthorized', message: 'Session invalid: unknown session' })

  h.upstream.addSession({ credential: { kind: 'bearer', token: shapedToken('expired') }, expiresAt: new Date(Date.now() - 1000) })
  const expired = await h.call('/api/logout', { method: 'POST', headers: bearer(shapedToken('expired')) })
  t.equal(expired.status, 401)
  t.equal(expired.json().message, 'Session invalid: session expired', 'the session service\'s reason is passed on')

  const long = await h.call('/api/me', { headers: bearer('x'.repeat(600)) })
  t.equal(long.status, 401)
  t.equal(long.json().code, 'GATEWAY_SESSION_INVALID', 'an absurd token is refused without asking')

  const before = h.upstream.requests.length
  for (const res of [missing, basic, bad, expired, long]) t.match(res.headers['x-request-id'], /./)
  t.equal(h.upstream.requests.length, before, 'refused requests never reached the upstream')
})

t.test('wafer generation 1 (/login, /me): headers or query, names case-insensitive; refusals in the wafer shape', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)

  const viaHeaders = await h.call('/me', { headers: { 'X-WX-Id': WAFER_ID, 'X-WX-Skey': WAFER_SKEY } })
  t.equal(viaHeaders.status, 200)
  t.same(forwardedIdentity(h), { kind: 'user', openid: 'openid-wafer1', sessionId: 'session-wafer1', via: 'wafer1' })
  t.same(h.upstream.resolveCalls.at(-1), { waferId: WAFER_ID, waferSkey: WAFER_SKEY })

  for (const query of [`?X-WX-Id=${WAFER_ID}&X-WX-Skey=${WAFER_SKEY}`, `?x-wx-id=${WAFER_ID}&x-wx-skey=${WAFER_SKEY}&other=1`, `?other=2&X-Wx-ID=${WAFER_ID}&x-WX-SKEY=${WAFER_SKEY}`]) {
    const res = await h.call(`/me${query}`)
    t.equal(res.status, 200, query)
    t.same(forwardedIdentity(h), { kind: 'user', openid: 'openid-wafer1', sessionId: 'session-wafer1', via: 'wafer1' }, `identity from ${query}`)
    t.equal(h.upstream.requests.at(-1)?.url, `/me${query}`, 'the query is forwarded unchanged')
  }

  const none = await h.call('/me')
  t.equal(none.status, 200, 'no credentials: passed through')
  t.equal(h.upstream.requests.at(-1)?.headers['x-weapp-identity'], undefined, 'unauthenticated')
  const login = await h.call('/login', { headers: { 'x-wx-code': 'code', 'x-wx-encrypted-data': 'data', 'x-wx-iv': 'iv' } })
  t.equal(login.status, 200, 'a login passes through')
  t.equal(h.upstream.requests.at(-1)?.headers['x-wx-code'], 'code', 'with its wafer headers')

  const half = await h.call('/me', { headers: { 'x-wx-id': WAFER_ID } })
  t.equal(half.status, 200, 'id without skey is no credential (the client sends both or neither)')
  t.equal(h.upstream.requests.at(-1)?.headers['x-weapp-identity'], undefined)

  const before = h.upstream.requests.length
  const bad = await h.call('/me', { headers: { 'x-wx-id': WAFER_ID, 'x-wx-skey': 'd'.repeat(40) } })
  t.equal(bad.status, 200, 'wafer clients ignore the status: HTTP 200')
  t.same(bad.json(), { [WAFER_MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '会话已失效，请重新登录：unknown session' })
  const badQuery = await h.call(`/login?X-WX-Id=${WAFER_ID}&X-WX-Skey=${'d'.repeat(40)}`)
  t.same(badQuery.json(), { [WAFER_MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '会话已失效，请重新登录：unknown session' })
  const wrongShape = await h.call('/me', { headers: { 'x-wx-id': WAFER_ID, 'x-wx-skey': 'wrong' } })
  t.same(wrongShape.json(), { [WAFER_MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '会话已失效，请重新登录：malformed credential' })
  h.upstream.addSession({ credential: { kind: 'wafer1', id: 'f'.repeat(64), skey: 'e'.repeat(40) }, expiresAt: new Date(Date.now() - 1) })
  const expired = await h.call('/me', { headers: { 'x-wx-id': 'f'.repeat(64), 'x-wx-skey': 'e'.repeat(40) } })
  t.same(expired.json(), { [WAFER_MAGIC]: 1, error: 'ERR_INVALID_SESSION', message: '会话已失效，请重新登录：session expired' })
  t.equal(h.upstream.requests.length, before, 'refused requests never reached the upstream')
})

t.test('wafer generation 2 (/weapp/user): X-WX-Skey; refusals are {"code":-1,"data":{}}', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)

  const ok = await h.call('/weapp/user', { headers: { 'x-wx-skey': WAFER2_SKEY } })
  t.equal(ok.status, 200)
  t.same(forwardedIdentity(h), { kind: 'user', openid: 'openid-wafer2', sessionId: 'session-wafer2', via: 'wafer2' })
  t.same(h.upstream.resolveCalls.at(-1), { skey: WAFER2_SKEY })

  for (const headers of [{ 'x-wx-skey': 'wrong' }, {}, { 'x-wx-skey': 'z'.repeat(600) }] as Array<Record<string, string>>) {
    const res = await h.call('/weapp/user', { headers })
    t.equal(res.status, 200)
    t.same(res.json(), { code: -1, data: {} }, JSON.stringify(Object.keys(headers)))
  }
  const login = await h.call('/weapp/login', { headers: { 'x-wx-code': 'c' } })
  t.equal(login.status, 200, '/weapp/login needs no session')
})

t.test('wafer credentials are accepted on /api/* too', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  t.equal((await h.call('/api/me', { headers: wafer1 })).status, 200)
  t.match(forwardedIdentity(h), { via: 'wafer1' })
  t.equal((await h.call('/api/me', { headers: { 'x-wx-skey': WAFER2_SKEY } })).status, 200)
  t.match(forwardedIdentity(h), { via: 'wafer2' })
  t.equal((await h.call(`/api/me?X-WX-Id=${WAFER_ID}&X-WX-Skey=${WAFER_SKEY}`)).status, 401, 'but not from the query')
})

t.test('the session service down or failing is a 502, never a 401 or a wafer refusal', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  h.upstream.resolveFailStatus = 500
  const failing = await h.call('/api/me', { headers: bearer() })
  t.equal(failing.status, 502)
  t.same(failing.json(), { statusCode: 502, code: 'GATEWAY_UPSTREAM_BAD_RESPONSE', error: 'Bad Gateway', message: 'Upstream session sent an invalid response' })
  h.upstream.resolveFailStatus = null

  await h.upstream.close()
  for (const [path, headers] of [['/api/me', bearer()], ['/me', wafer1], ['/weapp/user', { 'x-wx-skey': WAFER2_SKEY }]] as const) {
    const res = await h.call(path, { headers })
    t.equal(res.status, 502, path)
    t.same(res.json(), { statusCode: 502, code: 'GATEWAY_UPSTREAM_UNAVAILABLE', error: 'Bad Gateway', message: 'Upstream session is unavailable' })
  }
})

t.test('a slow session service during resolve is a 504', async (t) => {
  const h = await startHarness({ env: { UPSTREAM_TIMEOUT_MS: '200' } })
  t.teardown(h.close)
  h.upstream.resolveDelayMs = 5000
  const res = await h.call('/api/me', { headers: bearer() })
  t.equal(res.status, 504)
  t.same(res.json(), { statusCode: 504, code: 'GATEWAY_UPSTREAM_TIMEOUT', error: 'Gateway Timeout', message: 'Upstream session did not answer in time' })
})

t.test('cache: one resolve for N requests; concurrent requests share one resolve', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  for (let i = 0; i < 20; i++) t.equal((await h.call('/api/me', { headers: bearer() })).status, 200)
  t.equal(h.upstream.resolveCalls.length, 1, '20 sequential requests, 1 resolve')

  h.upstream.resolveDelayMs = 100
  const results = await Promise.all(Array.from({ length: 20 }, async () => await h.call('/me', { headers: wafer1 })))
  t.same(results.map((r) => r.status), Array(20).fill(200))
  t.equal(h.upstream.resolveCalls.length, 2, '20 concurrent requests, 1 more resolve')

  const refusals = await Promise.all(Array.from({ length: 5 }, async () => await h.call('/api/me', { headers: bearer(shapedToken('nope')) })))
  t.same(refusals.map((r) => r.status), Array(5).fill(401))
  t.equal(h.upstream.resolveCalls.length, 3, 'concurrent bad credentials also share a resolve')
  await h.call('/api/me', { headers: bearer(shapedToken('nope')) })
  t.equal(h.upstream.resolveCalls.length, 3, 'refusals are remembered (auth-failures.test.ts)')

  const metrics = (await h.call('/metrics')).text
  t.match(metrics, /gateway_auth_cache_hits_total \d+/)
  t.match(metrics, /gateway_auth_cache_misses_total 3/)
})

t.test('cache: entries expire after AUTH_CACHE_TTL_MS; 0 disables it', async (t) => {
  const short = await startHarness({ env: { AUTH_CACHE_TTL_MS: '100' } })
  t.teardown(short.close)
  await short.call('/api/me', { headers: bearer() })
  await short.call('/api/me', { headers: bearer() })
  t.equal(short.upstream.resolveCalls.length, 1)
  await new Promise((resolve) => setTimeout(resolve, 150))
  await short.call('/api/me', { headers: bearer() })
  t.equal(short.upstream.resolveCalls.length, 2, 'resolved again after the TTL')

  const off = await startHarness({ env: { AUTH_CACHE_TTL_MS: '0' } })
  t.teardown(off.close)
  for (let i = 0; i < 3; i++) await off.call('/api/me', { headers: bearer() })
  t.equal(off.upstream.resolveCalls.length, 3, 'every request resolved')
})

t.test('cache: never trusted past the session\'s own expiry', async (t) => {
  const h = await startHarness({ env: { AUTH_CACHE_TTL_MS: '60000' } })
  t.teardown(h.close)
  h.upstream.addSession({ credential: { kind: 'bearer', token: shapedToken('short-lived') }, expiresAt: new Date(Date.now() + 150) })
  t.equal((await h.call('/api/me', { headers: bearer(shapedToken('short-lived')) })).status, 200)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const res = await h.call('/api/me', { headers: bearer(shapedToken('short-lived')) })
  t.equal(res.status, 401, 'expired session is resolved again and refused')
})

t.test('cache: bounded by AUTH_CACHE_MAX (least recently used goes first)', async (t) => {
  const h = await startHarness({ env: { AUTH_CACHE_MAX: '2' } })
  t.teardown(h.close)
  for (const label of ['t1', 't2', 't3']) h.upstream.addSession({ credential: { kind: 'bearer', token: shapedToken(label) } })
  await h.call('/api/me', { headers: bearer(shapedToken('t1')) })
  await h.call('/api/me', { headers: bearer(shapedToken('t2')) })
  await h.call('/api/me', { headers: bearer(shapedToken('t1')) }) // t1 is now the most recent
  await h.call('/api/me', { headers: bearer(shapedToken('t3')) }) // evicts t2
  t.equal(h.upstream.resolveCalls.length, 3)
  await h.call('/api/me', { headers: bearer(shapedToken('t1')) })
  t.equal(h.upstream.resolveCalls.length, 3, 't1 still cached')
  await h.call('/api/me', { headers: bearer(shapedToken('t2')) })
  t.equal(h.upstream.resolveCalls.length, 4, 't2 was evicted')
})

t.test('logout through this gateway evicts the credential at once', async (t) => {
  const h = await startHarness({ env: { AUTH_CACHE_TTL_MS: '60000' } })
  t.teardown(h.close)
  await h.call('/api/me', { headers: bearer() })
  await h.call('/api/me', { headers: bearer() })
  t.equal(h.upstream.resolveCalls.length, 1)
  const logout = await h.call('/api/logout', { method: 'POST', headers: bearer() })
  t.equal(logout.status, 200)
  t.equal(h.upstream.resolveCalls.length, 1, 'the logout itself was answered from the cache')
  h.upstream.removeSession({ kind: 'bearer', token: BEARER }) // what the session service does on logout
  const after = await h.call('/api/me', { headers: bearer() })
  t.equal(after.status, 401, 'the next request is resolved again and refused')
  t.equal(h.upstream.resolveCalls.length, 2)
})

t.test('a failed logout does not evict', async (t) => {
  const h = await startHarness({
    env: { AUTH_CACHE_TTL_MS: '60000' },
    upstream: { routes: (app) => { app.post('/api/logout', async (_req, reply) => await reply.code(500).send({ statusCode: 500 })) } }
  })
  t.teardown(h.close)
  await h.call('/api/me', { headers: bearer() })
  t.equal((await h.call('/api/logout', { method: 'POST', headers: bearer() })).status, 500)
  await h.call('/api/me', { headers: bearer() })
  t.equal(h.upstream.resolveCalls.length, 1, 'still cached')
})

t.test('session.revoked on the bus (another gateway\'s logout) evicts; other events are ignored', async (t) => {
  const bus = new InProcessBus()
  t.teardown(async () => { await bus.close() })
  const h = await startHarness({ bus, env: { AUTH_CACHE_TTL_MS: '60000' } })
  t.teardown(h.close)
  await h.call('/api/me', { headers: bearer() })
  await h.call('/me', { headers: wafer1 })
  t.equal(h.upstream.resolveCalls.length, 2)

  await bus.publish(BusChannels.sessions, { type: 'user.push', openid: 'x', event: 'e', data: null })
  await bus.publish(BusChannels.users, { type: 'session.revoked', sessionId: 's', credentialHashes: [credentialHash({ kind: 'bearer', token: BEARER })] })
  await new Promise((resolve) => setImmediate(resolve))
  await h.call('/api/me', { headers: bearer() })
  t.equal(h.upstream.resolveCalls.length, 2, 'unrelated events and channels change nothing')

  await bus.publish(BusChannels.sessions, {
    type: 'session.revoked',
    sessionId: 'session-bearer',
    credentialHashes: [credentialHash({ kind: 'bearer', token: BEARER }), credentialHash({ kind: 'wafer1', id: WAFER_ID, skey: WAFER_SKEY })]
  })
  await new Promise((resolve) => setImmediate(resolve))
  await h.call('/api/me', { headers: bearer() })
  await h.call('/me', { headers: wafer1 })
  t.equal(h.upstream.resolveCalls.length, 4, 'both credentials resolved again')
})

t.test('a revocation during a resolve keeps its answer out of the cache', async (t) => {
  const bus = new InProcessBus()
  t.teardown(async () => { await bus.close() })
  const h = await startHarness({ bus, env: { AUTH_CACHE_TTL_MS: '60000' } })
  t.teardown(h.close)
  h.upstream.resolveDelayMs = 100
  const pending = h.call('/api/me', { headers: bearer() })
  await waitFor(() => h.upstream.resolveCalls.length === 1, { timeoutMs: 2000, what: 'one resolve at the session service' })
  await bus.publish(BusChannels.sessions, { type: 'session.revoked', sessionId: 'session-bearer', credentialHashes: [credentialHash({ kind: 'bearer', token: BEARER })] })
  t.equal((await pending).status, 200, 'the request that was under way completes')
  h.upstream.resolveDelayMs = 0
  await h.call('/api/me', { headers: bearer() })
  t.equal(h.upstream.resolveCalls.length, 2, 'its answer was not cached')
})

t.test('Redis bus: a session.revoked published by another process evicts', { skip: process.env.REDIS_URL === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  const url = process.env.REDIS_URL!
  const h = await startHarness({ env: { AUTH_CACHE_TTL_MS: '60000', REDIS_URL: url } })
  t.teardown(h.close)
  const publisher = new RedisBus(url)
  t.teardown(async () => { await publisher.close() })
  await h.call('/api/me', { headers: bearer() })
  await h.call('/api/me', { headers: bearer() })
  t.equal(h.upstream.resolveCalls.length, 1)
  await publisher.publish(BusChannels.sessions, { type: 'session.revoked', sessionId: 'session-bearer', credentialHashes: [credentialHash({ kind: 'bearer', token: BEARER })] })
  const until = Date.now() + 2000
  let resolved = 1
  while (Date.now() < until && resolved === 1) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    await h.call('/api/me', { headers: bearer() })
    resolved = h.upstream.resolveCalls.length
  }
  t.equal(resolved, 2, 'resolved again after the revocation arrived')
})
