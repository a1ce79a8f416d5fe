// `/ws` upgrades straight from a client (nginx sends every one here): realtime-ws reads the session
// credential the gateway would read (bearer, wafer headers, wafer gen-1 query), resolves it through the
// session service's POST /internal/resolve (a stand-in here with fixed sessions: bench/lib/stand-ins.ts),
// caches it, refuses as the gateway refuses, limits failed lookups per client address, and forgets a
// credential the moment its logout is on the bus.
import { connect } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { BusChannels, InProcessBus, credentialHash } from '@weapp/common'
import { waitFor, type Teardown } from '@weapp/test-kit'
import { startSessionStandIn, type SessionStandIn } from '../../../bench/lib/stand-ins.js'
import { startHarness } from '../../../gateway/test/fixtures/gateway.js'
import { ALICE, Client, INTERNAL_TOKEN, gatewayHeaders, refusal, start, testConfig, type Running } from './fixtures/harness.js'

const BEARER = 'bearer-token-0123456789abcdef0123456789ABCD'
const WAFER_ID = 'a'.repeat(64)
const WAFER_SKEY = 'b'.repeat(40)
const WAFER2_SKEY = 'c'.repeat(40)
const UNKNOWN_BEARER = 'unknown-token-0123456789abcdef0123456789ABC'

async function standIn (t: Teardown): Promise<SessionStandIn> {
  const s = await startSessionStandIn({
    internalToken: INTERNAL_TOKEN,
    credentials: [
      { credential: { kind: 'bearer', token: BEARER }, openid: 'o_bearer', sessionId: 'session-bearer' },
      { credential: { kind: 'wafer1', id: WAFER_ID, skey: WAFER_SKEY }, openid: 'o_wafer1', sessionId: 'session-wafer1' },
      { credential: { kind: 'wafer2', skey: WAFER2_SKEY }, openid: 'o_wafer2', sessionId: 'session-wafer2' }
    ]
  })
  t.teardown(() => s.close())
  return s
}

async function startDirect (t: Teardown, env: Record<string, string> = {}, bus?: InProcessBus): Promise<{ r: Running, session: SessionStandIn }> {
  const session = await standIn(t)
  const r = await start(t, { config: testConfig({ SESSION_URL: session.url, ...env }), ...(bus !== undefined ? { bus } : {}) })
  return { r, session }
}

async function metricsText (r: Running): Promise<string> {
  return (await r.app.inject({ url: '/metrics', headers: { 'x-internal-token': INTERNAL_TOKEN } })).body
}

t.test('every credential the gateway takes for /ws opens it directly: bearer, wafer gen-1 query and headers, wafer gen-2', async (t) => {
  const { r, session } = await startDirect(t)
  const ways: Array<[string, string, Record<string, string>, string]> = [
    ['bearer header', '/ws', { authorization: `Bearer ${BEARER}` }, 'o_bearer'],
    ['wafer gen-1 query (names any case)', `/ws?X-WX-Id=${WAFER_ID}&x-wx-skey=${WAFER_SKEY}`, {}, 'o_wafer1'],
    ['wafer gen-1 headers', '/ws', { 'x-wx-id': WAFER_ID, 'x-wx-skey': WAFER_SKEY }, 'o_wafer1'],
    ['wafer gen-2 header', '/ws', { 'x-wx-skey': WAFER2_SKEY }, 'o_wafer2']
  ]
  for (const [name, path, headers, openid] of ways) {
    const c = await Client.open(t, `${r.ws}${path}`, headers)
    t.equal(await c.next(), `Server: 恭喜，${openid}`, name)
    c.send('hi')
    t.equal(await c.next(), 'Server: Received(hi)', `${name}: echo`)
  }
  t.equal(session.resolveCalls.length, 3, 'one lookup per credential: the second wafer gen-1 socket came from the cache')
  const again = await Client.open(t, `${r.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(await again.next(), 'Server: 恭喜，o_bearer')
  t.equal(session.resolveCalls.length, 3, 'a second bearer socket: cached, no lookup')
  const metrics = await metricsText(r)
  t.match(metrics, /ws_upgrades_total\{via="session"\} 5/, 'counted as opened with their own session')
  t.match(metrics, /ws_auth_cache_hits_total 2/)
  t.match(metrics, /ws_auth_cache_misses_total 3/)
})

t.test('refusals: the gateway\'s codes; malformed and remembered refusals cost no lookup', async (t) => {
  const { r, session } = await startDirect(t)
  const none = await refusal(`${r.ws}/ws`)
  t.equal(none.status, 401)
  t.equal(none.body.code, 'GATEWAY_AUTH_REQUIRED')
  t.equal(none.body.message, 'Authentication required: send Authorization: Bearer <token>')
  const malformed = await refusal(`${r.ws}/ws`, { authorization: 'Bearer short' })
  t.equal(malformed.status, 401)
  t.equal(malformed.body.code, 'GATEWAY_SESSION_INVALID')
  t.equal(malformed.body.message, 'Session invalid: malformed credential')
  const malformedQuery = await refusal(`${r.ws}/ws?x-wx-id=nope&x-wx-skey=nope`)
  t.equal(malformedQuery.body.code, 'GATEWAY_SESSION_INVALID')
  t.equal(session.resolveCalls.length, 0, 'malformed credentials are never looked up')
  const unknown = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${UNKNOWN_BEARER}` })
  t.equal(unknown.status, 401)
  t.equal(unknown.body.code, 'GATEWAY_SESSION_INVALID')
  t.equal(unknown.body.message, 'Session invalid: unknown session')
  const remembered = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${UNKNOWN_BEARER}` })
  t.equal(remembered.body.code, 'GATEWAY_SESSION_INVALID')
  t.equal(session.resolveCalls.length, 1, 'a refusal is remembered: asked once')
  // A forwarded identity without the internal token is no credential (only the gateway's relay asserts one).
  const forged = await refusal(`${r.ws}/ws`, { 'x-weapp-identity': gatewayHeaders(ALICE)['x-weapp-identity']! })
  t.equal(forged.body.code, 'GATEWAY_AUTH_REQUIRED')
  const metrics = await metricsText(r)
  t.match(metrics, /ws_auth_failures_total\{reason="malformed"\} 2/)
  t.match(metrics, /ws_auth_failures_total\{reason="refused"\} 1/)
  t.match(metrics, /ws_auth_failures_total\{reason="cached_refusal"\} 1/)
})

t.test('failed lookups per client address are limited: then 429 GATEWAY_AUTH_RATE_LIMITED with Retry-After, no lookup', async (t) => {
  const { r, session } = await startDirect(t, { AUTH_FAILURE_LIMIT_MAX: '2', AUTH_FAILURE_LIMIT_WINDOW_MS: '60000' })
  for (const n of [1, 2]) {
    const res = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${'x'.repeat(42)}${n}` })
    t.equal(res.body.code, 'GATEWAY_SESSION_INVALID', `bad credential ${n}`)
  }
  const limited = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${'x'.repeat(42)}3` })
  t.equal(limited.status, 429)
  t.equal(limited.body.code, 'GATEWAY_AUTH_RATE_LIMITED')
  t.match(limited.headers['retry-after'], /^\d+$/)
  t.equal(session.resolveCalls.length, 2, 'the third was not looked up')
  const good = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(good.status, 429, 'a good credential needing a lookup waits too (as at the gateway)')
})

t.test('TRUST_PROXY: the failure limit counts the client nginx names, not nginx', async (t) => {
  const { r } = await startDirect(t, { AUTH_FAILURE_LIMIT_MAX: '1', TRUST_PROXY: '127.0.0.1' })
  const from = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip })
  t.equal((await refusal(`${r.ws}/ws`, { ...from('203.0.113.1'), authorization: `Bearer ${'y'.repeat(42)}1` })).status, 401)
  t.equal((await refusal(`${r.ws}/ws`, { ...from('203.0.113.1'), authorization: `Bearer ${'y'.repeat(42)}2` })).status, 429, 'that client is limited')
  t.equal((await refusal(`${r.ws}/ws`, { ...from('203.0.113.2'), authorization: `Bearer ${'y'.repeat(42)}3` })).status, 401, 'another client behind the same proxy is not')
})

t.test('a logout on the bus closes the socket and the next upgrade is looked up again (and refused)', async (t) => {
  const bus = new InProcessBus()
  const { r, session } = await startDirect(t, {}, bus)
  const c = await Client.open(t, `${r.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(await c.next(), 'Server: 恭喜，o_bearer')
  t.equal(session.resolveCalls.length, 1)
  // What the session service does at logout: forget the session, publish its id and credential hash.
  session.removeSession({ kind: 'bearer', token: BEARER })
  await bus.publish(BusChannels.sessions, { type: 'session.revoked', sessionId: 'session-bearer', credentialHashes: [credentialHash({ kind: 'bearer', token: BEARER })] })
  const closed = await c.closed
  t.equal(closed.code, 4001, 'the open socket closes: session ended')
  const next = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(next.status, 401)
  t.equal(next.body.code, 'GATEWAY_SESSION_INVALID', 'not answered from the cache: the session service was asked')
  t.equal(session.resolveCalls.length, 2)
})

t.test('a session the session service vouches for but this instance heard was revoked opens nothing', async (t) => {
  const bus = new InProcessBus()
  const { r } = await startDirect(t, {}, bus)
  // Revoked without its credential hash (an older publisher): the session id is enough to refuse.
  await bus.publish(BusChannels.sessions, { type: 'session.revoked', sessionId: 'session-bearer', credentialHashes: [] })
  await waitFor(() => r.app.wsHub.revoked.has('session-bearer'), { what: 'the revocation heard' })
  const res = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(res.status, 401)
  t.equal(res.body.code, 'WS_SESSION_ENDED')
})

t.test('the session service unreachable or answering nonsense: 503 WS_SESSION_LOOKUP_UNAVAILABLE, never a session', async (t) => {
  const { r, session } = await startDirect(t)
  session.resolveFailStatus = 500
  const bad = await refusal(`${r.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(bad.status, 503)
  t.equal(bad.body.code, 'WS_SESSION_LOOKUP_UNAVAILABLE')
  const down = await start(t, { config: testConfig({ SESSION_URL: 'http://127.0.0.1:9' }) })
  const unreachable = await refusal(`${down.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(unreachable.status, 503)
  t.equal(unreachable.body.code, 'WS_SESSION_LOOKUP_UNAVAILABLE')
  session.resolveFailStatus = null
  const c = await Client.open(t, `${r.ws}/ws`, { authorization: `Bearer ${BEARER}` })
  t.equal(await c.next(), 'Server: 恭喜，o_bearer', 'an outage is not remembered')
})

t.test('the same refusal reads the same through the gateway\'s relay and directly', async (t) => {
  const h = await startHarness()
  t.teardown(() => h.close())
  const address = h.realtime.server.address()
  const direct = `ws://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  const cases: Array<[string, string, Record<string, string>]> = [
    ['no credential', '/ws', {}],
    ['malformed bearer', '/ws', { authorization: 'Bearer nope' }],
    ['unknown bearer', '/ws', { authorization: `Bearer ${UNKNOWN_BEARER}` }],
    ['unknown wafer gen-1 query', `/ws?x-wx-id=${'d'.repeat(64)}&x-wx-skey=${'e'.repeat(40)}`, {}],
    ['unknown wafer gen-2', '/ws', { 'x-wx-skey': 'f'.repeat(40) }],
    ['bad ticket', '/ws?ticket=nope', {}]
  ]
  for (const [name, path, headers] of cases) {
    const viaGateway = await refusal(`${h.wsUrl}${path}`, headers)
    const straight = await refusal(`${direct}${path}`, headers)
    t.same({ status: straight.status, code: straight.body.code, message: straight.body.message }, { status: viaGateway.status, code: viaGateway.body.code, message: viaGateway.body.message }, name)
  }
  // And what opens through the relay opens directly.
  const relayed = await Client.open(t, `${h.wsUrl}/ws?x-wx-id=${'a'.repeat(64)}&x-wx-skey=${'b'.repeat(40)}`)
  const straight = await Client.open(t, `${direct}/ws?x-wx-id=${'a'.repeat(64)}&x-wx-skey=${'b'.repeat(40)}`)
  t.equal(await straight.next(), await relayed.next(), 'the same greeting')
})

t.test('an upgrade refused by the internal-auth check on a non-public route: 401, and its TCP socket is closed', async (t) => {
  const r = await start(t, { autoClose: false })
  const port = Number(new URL(r.http).port)
  for (const path of ['/weapp/tunnel', '/api/ws/tickets', '/metrics']) {
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    let answer = ''
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
    let closed = false
    socket.on('close', () => { closed = true })
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
    await waitFor(() => closed, { timeoutMs: 10_000, what: `the socket of the refused ${path} upgrade closed` })
    t.match(answer, /^HTTP\/1\.1 401 /, `${path}: refused`)
    t.match(answer, /COMMON_INTERNAL_AUTH_MISSING/)
  }
  // Nothing is left open for close() to wait on (it used to wait for the idle socket, about 2 minutes).
  await r.app.close()
  t.pass('closed')
})
