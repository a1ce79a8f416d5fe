import t from 'tap'
import Fastify from 'fastify'
import { encodeIdentity, installErrorHandling, internalAuthPlugin, requireAdmin, requireUser, type Identity } from '@weapp/common'

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
