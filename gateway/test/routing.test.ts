import { SESSION_BODY_LIMIT, decodeIdentity } from '@weapp/common'
import t from 'tap'
import { UPSTREAMS, type RouteSpec } from '../src/routes-table.js'
import { routeBodyLimit } from '../src/routes/proxy.js'
import { CSRF_TOKEN, consoleCookie } from './fixtures/console.js'
import { BEARER, WAFER2_SKEY, WAFER_ID, WAFER_SKEY, bearer, startHarness } from './fixtures/gateway.js'

const h = await startHarness()
t.teardown(h.close)

function lastUpstreamRequest (): { method: string, url: string, headers: Record<string, string | string[] | undefined>, body: string } {
  const last = h.upstream.requests.at(-1)
  if (last === undefined) throw new Error('the upstream received nothing')
  return last
}

/** Credentials that satisfy each auth policy. */
const credentialsFor: Record<RouteSpec['auth'], Record<string, string>> = {
  none: {},
  user: bearer(),
  wafer1: { 'x-wx-id': WAFER_ID, 'x-wx-skey': WAFER_SKEY },
  wafer2: { 'x-wx-skey': WAFER2_SKEY },
  admin: {},
  anyUser: bearer(),
  userOrAdmin: bearer(),
  // The console cookie, with what a state-changing console request needs besides (auth/csrf.ts).
  agent: { ...consoleCookie(), origin: h.url, 'x-csrf-token': CSRF_TOKEN }
}

t.test('every route of the table reaches its upstream with its method and path', async (t) => {
  for (const spec of UPSTREAMS.session.routes as readonly RouteSpec[]) {
    const path = spec.path.endsWith('/*') ? spec.path.slice(0, -1) + 'phone' : spec.path
    const method = spec.methods?.[0] ?? 'GET'
    const before = h.upstream.requests.length
    // An Origin for all: the console login checks it.
    const res = await h.call(`${path}?q=1`, { method, headers: { origin: h.url, ...credentialsFor[spec.auth] } })
    t.equal(res.status, 200, `${method} ${path} answered`)
    t.equal(h.upstream.requests.length, before + 1, `${method} ${path} forwarded once`)
    const got = lastUpstreamRequest()
    t.equal(got.method, method)
    t.equal(got.url, `${path}?q=1`, 'path and query unchanged')
  }
})

t.test('methods: the session routes take every method the upstream serves, login only POST', async (t) => {
  for (const method of ['GET', 'PATCH', 'PUT', 'DELETE', 'OPTIONS']) {
    const res = await h.call('/api/me', { method, headers: bearer() })
    t.equal(res.status, 200, method)
    t.equal(lastUpstreamRequest().method, method)
  }
  const head = await h.call('/api/me', { method: 'HEAD', headers: bearer() })
  t.equal(head.status, 200, 'HEAD')
  t.equal(head.text, '')
  const getLogin = await h.call('/api/login')
  t.equal(getLogin.status, 404, 'GET /api/login is not a route')
})

t.test('nothing under /internal/ is reachable from outside', async (t) => {
  const before = h.upstream.requests.length
  const attempts: Array<[string, string]> = [
    ['POST', '/internal/resolve'],
    ['GET', '/internal/resolve'],
    ['POST', '/internal/resolve/'],
    ['POST', '/INTERNAL/resolve'],
    ['POST', '//internal/resolve'],
    ['POST', '/api/me/../../internal/resolve'],
    ['POST', '/api/me/..%2F..%2Finternal/resolve'],
    ['POST', '/api/me/%2e%2e/%2e%2e/internal/resolve'],
    ['POST', '/api/me/..\\..\\internal/resolve'],
    ['GET', '/api/me/./x']
  ]
  for (const [method, path] of attempts) {
    const res = await h.rawCall(path, { method, headers: { ...bearer(), 'content-type': 'application/json' }, body: method === 'POST' ? '{"bearer":"x"}' : undefined })
    t.ok(res.status === 404 || res.status === 400, `${method} ${path} → ${res.status}`)
    const body = res.json()
    t.match(body, { statusCode: res.status, code: String, error: String, message: String })
  }
  t.equal(h.upstream.requests.length, before, 'none reached the upstream')
  const unknown = await h.call('/internal/resolve', { method: 'POST' })
  t.same(unknown.json(), { statusCode: 404, code: 'COMMON_NOT_FOUND', error: 'Not Found', message: 'Route POST:/internal/resolve not found' })
})

t.test('client-supplied internal headers are stripped; the gateway asserts its own', async (t) => {
  const forged = Buffer.from(JSON.stringify({ kind: 'admin', keyId: 'forged' })).toString('base64url')
  await h.call('/api/login', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-internal-token': 'forged-token-forged-token-forged-token',
      'x-weapp-identity': forged,
      'x-forwarded-for': '6.6.6.6',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=6.6.6.6',
      'x-real-ip': '6.6.6.6',
      'x-custom': 'kept'
    },
    body: '{"code":"abc"}'
  })
  const got = lastUpstreamRequest()
  t.equal(got.headers['x-internal-token'], h.config.INTERNAL_TOKEN, 'the internal token is the gateway\'s')
  t.equal(got.headers['x-weapp-identity'], undefined, 'no identity on an unauthenticated route')
  t.equal(got.headers['x-forwarded-for'], '127.0.0.1', 'the peer, not what the client claimed')
  t.equal(got.headers['x-forwarded-proto'], 'http')
  t.match(got.headers['x-forwarded-host'], /^127\.0\.0\.1:\d+$/)
  t.equal(got.headers.forwarded, undefined)
  t.equal(got.headers['x-real-ip'], undefined)
  t.equal(got.headers['x-custom'], 'kept', 'end-to-end headers pass')
  t.equal(got.body, '{"code":"abc"}', 'body forwarded unchanged')
  t.equal(got.headers['content-type'], 'application/json')

  await h.call('/api/me', { headers: { ...bearer(), 'x-weapp-identity': forged, 'x-internal-token': 'forged' } })
  const authed = lastUpstreamRequest()
  t.equal(authed.headers['x-internal-token'], h.config.INTERNAL_TOKEN)
  t.same(decodeIdentity(String(authed.headers['x-weapp-identity'])), { kind: 'user', openid: 'openid-bearer', sessionId: 'session-bearer', via: 'bearer' }, 'the resolved identity replaces the forged one')
})

t.test('hop-by-hop headers are not forwarded, including those named by Connection', async (t) => {
  await h.rawCall('/api/me', { headers: { ...bearer(), connection: 'keep-alive, x-secret-hop', 'x-secret-hop': '1', 'keep-alive': 'timeout=5', te: 'trailers', 'proxy-connection': 'keep-alive' } })
  const got = lastUpstreamRequest()
  t.equal(got.headers['x-secret-hop'], undefined)
  t.equal(got.headers.te, undefined)
  t.equal(got.headers['keep-alive'], undefined)
  t.equal(got.headers['proxy-connection'], undefined)
})

t.test('an absolute-form request target is not forwarded', async (t) => {
  const before = h.upstream.requests.length
  const res = await h.rawCall('http://evil.example/api/me', { headers: bearer() })
  t.ok(res.status === 400 || res.status === 404, `→ ${res.status}`)
  t.equal(h.upstream.requests.length, before)
})

t.test('request ids: minted when absent or malformed, kept when well-formed, on every response', async (t) => {
  const minted = await h.call('/api/me', { headers: bearer() })
  const id = minted.headers['x-request-id']
  t.match(id, /^[0-9a-f-]{36}$/, 'a uuid was minted')
  t.equal(lastUpstreamRequest().headers['x-request-id'], id, 'and forwarded')

  const kept = await h.call('/api/me', { headers: { ...bearer(), 'x-request-id': 'client-trace.42:abc' } })
  t.equal(kept.headers['x-request-id'], 'client-trace.42:abc')
  t.equal(lastUpstreamRequest().headers['x-request-id'], 'client-trace.42:abc')

  for (const garbage of ['has spaces in it', 'x'.repeat(200), 'inject\\u0000', '<script>']) {
    const res = await h.call('/api/me', { headers: { ...bearer(), 'x-request-id': garbage } })
    t.not(res.headers['x-request-id'], garbage, `replaced: ${garbage.slice(0, 20)}`)
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/)
    t.equal(lastUpstreamRequest().headers['x-request-id'], res.headers['x-request-id'])
  }

  for (const [path, init] of [['/nowhere', {}], ['/api/me', {}], ['/healthz', {}], ['/internal/resolve', { method: 'POST' }]] as const) {
    const res = await h.call(path, init)
    t.match(res.headers['x-request-id'], /^[0-9a-f-]{36}$/, `x-request-id on ${path} (${res.status})`)
  }
  t.equal(lastUpstreamRequest().headers['x-request-id'] !== undefined, true)
})

t.test('upstream response status, headers and body come through; hop-by-hop headers do not', async (t) => {
  const res = await h.call('/api/me', { headers: bearer() })
  t.equal(res.status, 200)
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  t.match(res.json(), { openid: String, nickname: 'Bench User' })
  const missing = await h.call('/api/me/nothing-here', { method: 'POST', headers: bearer() })
  t.equal(missing.status, 200, 'the stand-in echoes unknown paths')
  t.match(missing.json(), { upstream: 'session', method: 'POST', url: '/api/me/nothing-here' })
})

t.test('bodies: any content type is forwarded as is; over BODY_LIMIT is 413 and never forwarded', async (t) => {
  const xml = '<xml><a>1</a></xml>'
  await h.call('/api/me', { method: 'PATCH', headers: { ...bearer(), 'content-type': 'text/xml' }, body: xml })
  t.equal(lastUpstreamRequest().body, xml)
  t.equal(lastUpstreamRequest().headers['content-length'], String(Buffer.byteLength(xml)))

  // The session routes take the session service's own limit (16 KiB): refused here, with our code.
  const before = h.upstream.requests.length
  const big = 'x'.repeat(SESSION_BODY_LIMIT + 1)
  const res = await h.call('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })
  t.equal(res.status, 413)
  t.same(res.json(), { statusCode: 413, code: 'GATEWAY_BODY_TOO_LARGE', error: 'Payload Too Large', message: `Request body is larger than ${SESSION_BODY_LIMIT} bytes` })
  t.equal(h.upstream.requests.length, before, 'not forwarded')
  const exact = await h.call('/api/login', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(SESSION_BODY_LIMIT, 1) })
  t.equal(exact.status, 200, 'exactly the session limit is fine')
  t.ok(SESSION_BODY_LIMIT < h.config.BODY_LIMIT, 'below the general limit')
})

t.test('routeBodyLimit: named limits resolve against the config', async (t) => {
  t.equal(routeBodyLimit({ path: '/x', auth: 'none' }, h.config), h.config.BODY_LIMIT)
  t.equal(routeBodyLimit({ path: '/x', auth: 'none', bodyLimit: 'push' }, h.config), h.config.PUSH_BODY_LIMIT)
  t.equal(routeBodyLimit({ path: '/x', auth: 'none', bodyLimit: 'session' }, h.config), SESSION_BODY_LIMIT)
  t.equal(routeBodyLimit({ path: '/x', auth: 'none', bodyLimit: 'session' }, { ...h.config, BODY_LIMIT: 4096 }), 4096, 'never above BODY_LIMIT')
  t.equal(routeBodyLimit({ path: '/x', auth: 'none', bodyLimit: 1234 }, h.config), 1234)
})

t.test('a bearer token is not needed on unauthenticated routes and is not resolved there', async (t) => {
  const calls = h.upstream.resolveCalls.length
  await h.call('/api/login', { method: 'POST', headers: { ...bearer('whatever'), 'content-type': 'application/json' }, body: '{}' })
  t.equal(h.upstream.resolveCalls.length, calls)
  t.equal(lastUpstreamRequest().headers['x-weapp-identity'], undefined)
  t.equal(BEARER.length > 0, true)
})
