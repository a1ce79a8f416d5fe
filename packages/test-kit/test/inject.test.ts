import t from 'tap'
import { decodeIdentity, type Identity } from '@weapp/common'
import { callInternal, callPublic, type InjectRequest } from '../src/index.js'

/** Records what would have been injected (the kit does not depend on Fastify; its services' tests use the real one). */
function recorder (): { inject: (opts: InjectRequest) => Promise<InjectRequest>, seen: InjectRequest[] } {
  const seen: InjectRequest[] = []
  return { seen, inject: async (opts) => { seen.push(opts); return opts } }
}

const ADMIN: Identity = { kind: 'admin', keyId: 'ops' }

t.test('callInternal sends the internal token and the encoded identity, as the gateway forwards', async (t) => {
  const app = recorder()
  const sent = await callInternal(app, { token: 'the-token', identity: ADMIN, method: 'POST', url: '/api/x', payload: { a: 1 }, headers: { 'x-extra': '1' } })
  t.equal(sent.method, 'POST')
  t.equal(sent.url, '/api/x')
  t.same(sent.payload, { a: 1 })
  t.equal(sent.headers['x-internal-token'], 'the-token')
  t.equal(sent.headers['x-extra'], '1')
  t.same(decodeIdentity(sent.headers['x-weapp-identity']!), ADMIN)
})

t.test('callInternal without an identity sends the token only; a GET by default', async (t) => {
  const sent = await callInternal(recorder(), { token: 'the-token', url: '/internal/resolve' })
  t.same(sent, { method: 'GET', url: '/internal/resolve', headers: { 'x-internal-token': 'the-token' } })
})

t.test('callPublic sends only the headers given: no token, no identity', async (t) => {
  const sent = await callPublic(recorder(), { url: '/api/me', headers: { authorization: 'Bearer x' } })
  t.same(sent, { method: 'GET', url: '/api/me', headers: { authorization: 'Bearer x' } })
})
