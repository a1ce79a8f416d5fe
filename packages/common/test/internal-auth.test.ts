import t from 'tap'
import Fastify from 'fastify'
import { IdentityDecoder, encodeIdentity, installErrorHandling, internalAuthPlugin, internalTokenCheck, requireAdmin, requireUser, type Identity } from '@weapp/common'

const internalToken = 'i'.repeat(40)

async function build () {
  const app = Fastify()
  installErrorHandling(app)
  await app.register(internalAuthPlugin, { internalToken })
  app.get('/healthz', { config: { public: true } }, async () => ({ status: 'ok' }))
  app.get('/who', async (request) => ({ identity: request.identity }))
  app.get('/me', async (request) => requireUser(request))
  return app
}

t.test('rejects bad options at registration', async (t) => {
  const app = Fastify()
  void app.register(internalAuthPlugin, { internalToken: 'short' })
  await t.rejects(async () => { await app.ready() }, /at least 32/)
})

t.test('public routes need no credential', async (t) => {
  const app = await build()
  t.teardown(() => app.close())
  const res = await app.inject('/healthz')
  t.equal(res.statusCode, 200)
})

t.test('missing and wrong credentials are 401 with stable codes', async (t) => {
  const app = await build()
  t.teardown(() => app.close())
  const missing = await app.inject('/who')
  t.equal(missing.statusCode, 401)
  t.equal(missing.json().code, 'COMMON_INTERNAL_AUTH_MISSING')
  const wrong = await app.inject({ url: '/who', headers: { 'x-internal-token': 'j'.repeat(40) } })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'COMMON_INTERNAL_AUTH_INVALID')
  const shorter = await app.inject({ url: '/who', headers: { 'x-internal-token': 'i' } })
  t.equal(shorter.json().code, 'COMMON_INTERNAL_AUTH_INVALID')
})

t.test('the forwarded identity is decoded only behind the credential', async (t) => {
  const app = await build()
  t.teardown(() => app.close())
  const identity: Identity = { kind: 'user', openid: 'o1', sessionId: 's1', via: 'bearer' }
  const ok = await app.inject({ url: '/who', headers: { 'x-internal-token': internalToken, 'x-weapp-identity': encodeIdentity(identity) } })
  t.same(ok.json(), { identity })
  const anonymous = await app.inject({ url: '/me', headers: { 'x-internal-token': internalToken } })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'COMMON_AUTH_REQUIRED')
  const garbage = await app.inject({ url: '/who', headers: { 'x-internal-token': internalToken, 'x-weapp-identity': 'not-json' } })
  t.equal(garbage.statusCode, 400)
  t.equal(garbage.json().code, 'COMMON_IDENTITY_MALFORMED')
  const incomplete = await app.inject({ url: '/who', headers: { 'x-internal-token': internalToken, 'x-weapp-identity': encodeIdentity({ kind: 'user' } as unknown as Identity) } })
  t.equal(incomplete.json().code, 'COMMON_IDENTITY_MALFORMED')
})

t.test('requireAdmin: 401 without identity, 403 for users, the admin otherwise', async (t) => {
  const app = Fastify()
  installErrorHandling(app)
  await app.register(internalAuthPlugin, { internalToken })
  app.get('/admin', async (request) => requireAdmin(request))
  t.teardown(() => app.close())
  const headers = (identity?: Identity) => ({ 'x-internal-token': internalToken, ...(identity === undefined ? {} : { 'x-weapp-identity': encodeIdentity(identity) }) })
  t.equal((await app.inject({ url: '/admin', headers: headers() })).statusCode, 401)
  const user = await app.inject({ url: '/admin', headers: headers({ kind: 'user', openid: 'o', sessionId: 's', via: 'bearer' }) })
  t.equal(user.statusCode, 403)
  t.equal(user.json().code, 'COMMON_FORBIDDEN')
  const admin = await app.inject({ url: '/admin', headers: headers({ kind: 'admin', keyId: 'ops' }) })
  t.same(admin.json(), { kind: 'admin', keyId: 'ops' })
})

t.test('internalTokenCheck: the token itself only', async (t) => {
  const check = internalTokenCheck(internalToken)
  t.equal(check(internalToken), 'ok')
  t.equal(check(undefined), 'missing')
  t.equal(check(['a']), 'missing')
  t.equal(check(internalToken + 'x'), 'invalid')
  t.equal(check(internalToken.slice(1)), 'invalid')
  t.equal(check(''), 'invalid')
})

t.test('IdentityDecoder: one decode per header value, frozen, bounded, malformed values refused every time', async (t) => {
  const decoder = new IdentityDecoder(2)
  const a: Identity = { kind: 'user', openid: 'oA', sessionId: 'sA', via: 'wafer1' }
  const first = decoder.decode(encodeIdentity(a))
  t.same(first, a)
  t.ok(Object.isFrozen(first))
  t.equal(decoder.decode(encodeIdentity(a)), first, 'the same value gives the identity decoded the first time')
  t.throws(() => { (first as { openid: string }).openid = 'other' }, TypeError, 'nobody can change it for the next request')
  t.throws(() => decoder.decode('not-json'), { code: 'COMMON_IDENTITY_MALFORMED' })
  t.throws(() => decoder.decode('not-json'), { code: 'COMMON_IDENTITY_MALFORMED' })
  t.equal(decoder.size, 1, 'malformed values are not kept')
  decoder.decode(encodeIdentity({ kind: 'admin', keyId: 'k1' }))
  decoder.decode(encodeIdentity({ kind: 'admin', keyId: 'k2' }))
  t.equal(decoder.size, 2, 'never more than max')
  const again = decoder.decode(encodeIdentity(a))
  t.not(again, first, 'the oldest value was forgotten and is decoded again')
  t.same(again, a)
  t.throws(() => new IdentityDecoder(0), /positive integer/)
})

t.test('the hook hands every request of a session the same frozen identity', async (t) => {
  const app = await build()
  app.get('/frozen', async (request) => ({ frozen: Object.isFrozen(request.identity) }))
  t.teardown(() => app.close())
  const headers = { 'x-internal-token': internalToken, 'x-weapp-identity': encodeIdentity({ kind: 'user', openid: 'o2', sessionId: 's2', via: 'bearer' }) }
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ url: '/frozen', headers })
    t.same(res.json(), { frozen: true })
  }
  const wrong = await app.inject({ url: '/who', headers: { ...headers, 'x-internal-token': 'j'.repeat(40) } })
  t.equal(wrong.statusCode, 401, 'a remembered identity is still only read behind the credential')
})
