import type { AddressInfo } from 'node:net'
import { BusChannels, InProcessBus, decodeIdentity } from '@weapp/common'
import t from 'tap'
import { WebSocketServer, WebSocket } from 'ws'
import type { IncomingHttpHeaders } from 'node:http'
import { refusal } from '../../services/realtime-ws/test/fixtures/ws-client.js'
import { CONSOLE_TOKEN, CSRF_TOKEN, agentIdentity, consoleCookie, consoleHash } from './fixtures/console.js'
import { ADMIN_API_KEYS, ADMIN_KEY, INTERNAL_TOKEN, adminBearer, bearer, startHarness, type Harness } from './fixtures/gateway.js'

// The `agent` policy (docs/console.md#sessions): the console cookie resolved through the session service's
// agent route, the CSRF checks, and what is forwarded. Real sockets; the session and cs-messaging stand-ins
// record what reaches them.

function identityOf (headers: IncomingHttpHeaders | undefined): unknown {
  const value = headers?.['x-weapp-identity']
  return typeof value === 'string' ? decodeIdentity(value) : undefined
}

/** What a state-changing console request from the console itself sends. */
function fromConsole (h: Harness, token = CONSOLE_TOKEN): Record<string, string> {
  return { ...consoleCookie(token), origin: h.url, 'x-csrf-token': CSRF_TOKEN }
}

t.test('the cookie is the credential: agent identity forwarded, Cookie and Authorization not', async (t) => {
  const h = await startHarness({ env: { ADMIN_API_KEYS } })
  t.teardown(h.close)

  const me = await h.call('/api/console/me', { headers: { ...consoleCookie(), authorization: `Bearer ${ADMIN_KEY}`, 'x-other': 'kept' } })
  t.equal(me.status, 200)
  const atSession = h.upstream.requests.at(-1)!
  t.equal(atSession.url, '/api/console/me')
  t.same(identityOf(atSession.headers), agentIdentity(), 'the agent identity, as the session service resolved it')
  t.equal(atSession.headers.cookie, undefined, 'the cookie stops at the gateway')
  t.equal(atSession.headers.authorization, undefined, 'Authorization is not forwarded on console routes')
  t.equal(atSession.headers['x-other'], 'kept', 'other headers go through')
  t.same(h.console.resolveCalls, [{ token: CONSOLE_TOKEN }], 'resolved by POST /internal/agent-sessions/resolve {token}')

  const list = await h.call('/api/console/conversations?view=mine', { headers: consoleCookie() })
  t.equal(list.status, 200)
  const atCs = h.cs.requests.at(-1)!
  t.equal(atCs.url, '/api/console/conversations?view=mine', 'cs-messaging serves the inbox')
  t.match(identityOf(atCs.headers), { kind: 'agent', agentId: 'agent-ana' })
  t.equal(atCs.headers.cookie, undefined)
  t.equal(h.console.resolveCalls.length, 1, 'cached: one lookup for both')

  const send = await h.call('/api/console/conversations/o1/notes', { method: 'POST', headers: { ...fromConsole(h), 'content-type': 'application/json' }, body: '{"text":"hi"}' })
  t.equal(send.status, 200, 'a state-changing request with Origin and token goes through')
  t.equal(h.cs.requests.at(-1)!.body.toString(), '{"text":"hi"}')
  t.equal(h.cs.requests.at(-1)!.headers['x-csrf-token'], CSRF_TOKEN, 'the token itself is harmless to forward')
})

t.test('no cookie, a bad one, an expired one', async (t) => {
  const h = await startHarness()
  t.teardown(h.close)
  const before = { session: h.upstream.requests.length, cs: h.cs.requests.length }

  const none = await h.call('/api/console/me')
  t.equal(none.status, 401)
  t.same(none.json(), { statusCode: 401, code: 'GATEWAY_AUTH_REQUIRED', error: 'Unauthorized', message: 'Authentication required: log in to the console (no console session cookie)' })
  const malformed = await h.call('/api/console/me', { headers: { cookie: 'weapp_console=short' } })
  t.equal(malformed.json().code, 'GATEWAY_AUTH_REQUIRED', 'a value that cannot be a token is no cookie')
  const otherCookies = await h.call('/api/console/conversations', { headers: { cookie: 'a=1; b=2' } })
  t.equal(otherCookies.json().code, 'GATEWAY_AUTH_REQUIRED')

  const unknown = await h.call('/api/console/me', { headers: consoleCookie('x'.repeat(43)) })
  t.equal(unknown.status, 401)
  t.same(unknown.json(), { statusCode: 401, code: 'GATEWAY_CONSOLE_SESSION_INVALID', error: 'Unauthorized', message: 'Console session invalid: unknown session' })

  h.console.add({ token: 'e'.repeat(43), csrfToken: CSRF_TOKEN, identity: agentIdentity('old'), expiresAt: new Date(Date.now() - 1000) })
  const expired = await h.call('/api/console/conversations', { headers: consoleCookie('e'.repeat(43)) })
  t.equal(expired.status, 401)
  t.equal(expired.json().message, 'Console session invalid: session expired')

  t.equal(h.upstream.requests.length, before.session, 'nothing reached the session service\'s routes')
  t.equal(h.cs.requests.length, before.cs, 'nothing reached cs-messaging')
})

t.test('credentials do not cross policies: bearer and admin keys on console routes, the cookie elsewhere', async (t) => {
  const h = await startHarness({ env: { ADMIN_API_KEYS } })
  t.teardown(h.close)
  const admin = await h.call('/api/console/conversations', { headers: adminBearer() })
  t.equal(admin.status, 401, 'an admin key does nothing on a console route')
  t.equal(admin.json().code, 'GATEWAY_AUTH_REQUIRED')
  const user = await h.call('/api/console/me', { headers: bearer() })
  t.equal(user.json().code, 'GATEWAY_AUTH_REQUIRED', 'neither does a user session')

  const onAdmin = await h.call('/api/cs/conversations', { headers: consoleCookie() })
  t.equal(onAdmin.status, 401, 'the cookie does nothing on an admin route')
  t.equal(onAdmin.json().code, 'GATEWAY_AUTH_REQUIRED')
  const onUser = await h.call('/api/me', { headers: consoleCookie() })
  t.equal(onUser.status, 401, 'nor on a user route')
  t.equal(h.console.resolveCalls.length, 0, 'and was never looked up')
})

t.test('CSRF: state-changing requests need an allowed Origin and the session\'s token; refused unforwarded, body unread', async (t) => {
  const h = await startHarness({ env: { CONSOLE_ORIGINS: 'https://console.example.com, http://localhost:5173' } })
  t.teardown(h.close)
  const path = '/api/console/conversations/o1/claim'
  const json = { 'content-type': 'application/json' }
  const before = h.cs.requests.length
  const cases: Array<[string, Record<string, string>]> = [
    ['no Origin', { ...consoleCookie(), 'x-csrf-token': CSRF_TOKEN }],
    ['another Origin', { ...fromConsole(h), origin: 'https://evil.example' }],
    ['Origin "null"', { ...fromConsole(h), origin: 'null' }],
    ['https for an http gateway', { ...fromConsole(h), origin: h.url.replace('http:', 'https:') }],
    ['no token', { ...consoleCookie(), origin: h.url }],
    ['a wrong token', { ...fromConsole(h), 'x-csrf-token': CSRF_TOKEN.slice(0, -1) + 'x' }],
    ['a token of another length', { ...fromConsole(h), 'x-csrf-token': 'short' }]
  ]
  for (const [what, headers] of cases) {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const res = await h.call(path, { method, headers: { ...headers, ...json }, body: '{}' })
      t.equal(res.status, 403, `${what}, ${method}`)
      t.equal(res.json().code, 'GATEWAY_CSRF_REJECTED', `${what}, ${method}`)
    }
  }
  t.equal(h.cs.requests.length, before, 'the upstream was never called')

  const big = await h.call(path, { method: 'POST', headers: { ...consoleCookie(), ...json }, body: 'x'.repeat(200 * 1024) })
  t.equal(big.status, 403, 'refused before the body is read (a read body would be a 413)')

  for (const origin of [h.url, 'https://console.example.com', 'http://localhost:5173']) {
    const ok = await h.call(path, { method: 'POST', headers: { ...fromConsole(h), origin, ...json }, body: '{}' })
    t.equal(ok.status, 200, `Origin ${origin}`)
  }
  for (const method of ['GET', 'HEAD', 'OPTIONS']) {
    const read = await h.call('/api/console/conversations', { method, headers: consoleCookie() })
    t.equal(read.status, 200, `${method} needs neither Origin nor token`)
  }
})

t.test('CONSOLE_ORIGINS must be origins', async (t) => {
  const { loadGatewayConfig } = await import('../src/config.js')
  for (const bad of ['console.example.com', 'ftp://x.example', 'https://x.example/path', 'https://x.example/', 'https://u:p@x.example', 'https://x.example?q', 'https://a.example,']) {
    t.throws(() => loadGatewayConfig({ INTERNAL_TOKEN, CONSOLE_ORIGINS: bad }), { code: 'COMMON_CONFIG_INVALID', message: /CONSOLE_ORIGINS entry/ }, bad)
  }
  t.doesNotThrow(() => loadGatewayConfig({ INTERNAL_TOKEN, CONSOLE_ORIGINS: 'https://a.example, http://127.0.0.1:5173' }))
})

t.test('the console login: Origin checked (login CSRF), no session needed, Set-Cookie passed back', async (t) => {
  const h = await startHarness({
    upstream: {
      routes: (app) => {
        app.post('/api/console/login', async (_req, reply) => await reply.header('set-cookie', `weapp_console=${CONSOLE_TOKEN}; Path=/; HttpOnly; SameSite=Strict`).send({ ok: true }))
      }
    }
  })
  t.teardown(h.close)
  const before = h.upstream.requests.length
  for (const headers of [{}, { origin: 'https://evil.example' }, { origin: 'null' }] as Array<Record<string, string>>) {
    const res = await h.call('/api/console/login', { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"login":"a","password":"b"}' })
    t.equal(res.status, 403, JSON.stringify(headers))
    t.same(res.json(), { statusCode: 403, code: 'GATEWAY_CSRF_REJECTED', error: 'Forbidden', message: 'Request refused (cross-site request forgery check): the Origin header is missing or not an allowed origin' })
  }
  t.equal(h.upstream.requests.length, before, 'not forwarded')
  const ok = await h.call('/api/console/login', { method: 'POST', headers: { origin: h.url, 'content-type': 'application/json' }, body: '{"login":"a","password":"b"}' })
  t.equal(ok.status, 200)
  t.equal(ok.headers['set-cookie'], `weapp_console=${CONSOLE_TOKEN}; Path=/; HttpOnly; SameSite=Strict`)
  t.equal(h.upstream.requests.at(-1)!.body, '{"login":"a","password":"b"}')
})

t.test('eviction: agent.sessions.ended on the bus, and a logout through this gateway', async (t) => {
  const bus = new InProcessBus()
  t.teardown(async () => { await bus.close() })
  const h = await startHarness({ bus, env: { AUTH_CACHE_TTL_MS: '60000' } })
  t.teardown(h.close)
  const other = 'o'.repeat(43)
  h.console.add({ token: other, csrfToken: CSRF_TOKEN, identity: agentIdentity('bo') })

  await h.call('/api/console/me', { headers: consoleCookie() })
  await h.call('/api/console/me', { headers: consoleCookie() })
  t.equal(h.console.resolveCalls.length, 1, 'cached')
  h.console.remove(CONSOLE_TOKEN) // the session service ended it (an admin disabled the agent)
  await bus.publish(BusChannels.sessions, { type: 'agent.sessions.ended', agentId: 'agent-ana', sessionIds: ['agent-session-ana'], credentialHashes: [consoleHash()] })
  await new Promise((resolve) => setImmediate(resolve))
  const after = await h.call('/api/console/me', { headers: consoleCookie() })
  t.equal(after.status, 401, 'looked up again at once, and refused')
  t.equal(after.json().code, 'GATEWAY_CONSOLE_SESSION_INVALID')

  await h.call('/api/console/me', { headers: consoleCookie(other) })
  const logout = await h.call('/api/console/logout', { method: 'POST', headers: fromConsole(h, other) })
  t.equal(logout.status, 200)
  const calls = h.console.resolveCalls.length
  h.console.remove(other)
  const gone = await h.call('/api/console/me', { headers: consoleCookie(other) })
  t.equal(gone.status, 401, 'the logout evicted the cookie here')
  t.equal(h.console.resolveCalls.length, calls + 1)
})

t.test('the session service\'s answers: a contract-breaking 200 is a 502; refusals are remembered and counted', async (t) => {
  const h = await startHarness({ env: { AUTH_FAILURE_LIMIT_MAX: '3' } })
  t.teardown(h.close)
  h.console.answerWith = { status: 200, body: { identity: { kind: 'user', openid: 'o', sessionId: 's', via: 'bearer' }, csrfToken: 'x', expiresAt: new Date().toISOString() } }
  const broken = await h.call('/api/console/me', { headers: consoleCookie() })
  t.equal(broken.status, 502)
  t.same(broken.json(), { statusCode: 502, code: 'GATEWAY_UPSTREAM_BAD_RESPONSE', error: 'Bad Gateway', message: 'Upstream session sent an invalid response' })
  h.console.answerWith = null

  const tokens = ['1', '2', '3', '4'].map((c) => c.repeat(43))
  for (const token of tokens.slice(0, 3)) t.equal((await h.call('/api/console/me', { headers: consoleCookie(token) })).status, 401)
  const calls = h.console.resolveCalls.length
  t.equal((await h.call('/api/console/me', { headers: consoleCookie(tokens[0]) })).status, 401, 'a remembered refusal')
  const limited = await h.call('/api/console/me', { headers: consoleCookie(tokens[3]) })
  t.equal(limited.status, 429, 'the failed-lookup budget is shared with the other credentials')
  t.equal(limited.json().code, 'GATEWAY_AUTH_RATE_LIMITED')
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.equal(h.console.resolveCalls.length, calls, 'no lookup for either')
})

t.test('CONSOLE_COOKIE_SECURE: only __Host-weapp_console counts, and the gateway\'s own origin is https', async (t) => {
  const h = await startHarness({ env: { CONSOLE_COOKIE_SECURE: 'true' } })
  t.teardown(h.close)
  const plain = await h.call('/api/console/me', { headers: consoleCookie(CONSOLE_TOKEN, false) })
  t.equal(plain.status, 401, 'the plain name is ignored over https')
  t.equal(plain.json().code, 'GATEWAY_AUTH_REQUIRED')
  const secure = await h.call('/api/console/me', { headers: consoleCookie(CONSOLE_TOKEN, true) })
  t.equal(secure.status, 200)
  t.equal(h.upstream.requests.at(-1)!.headers.cookie, undefined)

  const https = h.url.replace('http:', 'https:')
  const post = async (origin: string): Promise<number> => (await h.call('/api/console/conversations/o1/read', { method: 'POST', headers: { ...consoleCookie(CONSOLE_TOKEN, true), origin, 'x-csrf-token': CSRF_TOKEN } })).status
  t.equal(await post(https), 200, `Origin ${https}`)
  t.equal(await post(h.url), 403, 'http is not the gateway\'s origin when it is served over https')
})

t.test('/console/ws: the upgrade needs the cookie and an allowed Origin; relayed with the agent identity', async (t) => {
  // A stand-in realtime-ws that accepts any upgrade and says what it received.
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => wss.once('listening', resolve))
  t.teardown(async () => { await new Promise((resolve) => { wss.close(resolve) }) })
  const upgrades: IncomingHttpHeaders[] = []
  wss.on('connection', (socket, req) => {
    upgrades.push(req.headers)
    socket.send(`hello ${req.url ?? ''}`)
  })
  const h = await startHarness({ env: { REALTIME_WS_URL: `http://127.0.0.1:${(wss.address() as AddressInfo).port}` } })
  t.teardown(h.close)
  const url = `${h.wsUrl}/console/ws`

  const noOrigin = await refusal(url, consoleCookie())
  t.equal(noOrigin.status, 403)
  t.equal(noOrigin.body.code, 'GATEWAY_CSRF_REJECTED')
  const evil = await refusal(url, { ...consoleCookie(), origin: 'https://evil.example' })
  t.equal(evil.status, 403)
  const noCookie = await refusal(url, { origin: h.url })
  t.equal(noCookie.status, 401)
  t.equal(noCookie.body.code, 'GATEWAY_AUTH_REQUIRED')
  const badCookie = await refusal(url, { ...consoleCookie('z'.repeat(43)), origin: h.url })
  t.equal(badCookie.body.code, 'GATEWAY_CONSOLE_SESSION_INVALID')
  t.equal(upgrades.length, 0, 'no refused upgrade reached realtime-ws')

  const ws = new WebSocket(url, { headers: { ...consoleCookie(), authorization: 'Bearer whatever' }, origin: h.url })
  t.teardown(() => { ws.terminate() })
  const first = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data) => { resolve(String(data)) })
    ws.once('error', reject)
  })
  t.equal(first, 'hello /console/ws', 'relayed both ways')
  t.equal(upgrades.length, 1)
  t.same(identityOf(upgrades[0]), agentIdentity())
  t.equal(upgrades[0]!.cookie, undefined, 'the cookie is not forwarded')
  t.equal(upgrades[0]!.authorization, undefined, 'nor Authorization')
  t.equal(upgrades[0]!.origin, h.url, 'the Origin is (realtime-ws may check it again)')
})
