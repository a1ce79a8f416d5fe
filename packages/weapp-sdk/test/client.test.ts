// The SDK against the real system (simulator, session, cs-messaging, realtime-ws, gateway as processes),
// through the wx bridge: login, requests, errors, and the realtime socket including a realtime-ws restart.
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { SimControl } from '@weapp/wechat-sim'
import { BusChannels } from '@weapp/common'
import type { Teardown } from '@weapp/test-kit'
import { ApiError, createClient, equalJitter, LoginError, NetworkError, type PushEvent, type RealtimeSocket, type WeappClient } from '../src/index.js'
import { DEFAULT_STORAGE_KEY } from '../src/storage.js'
import { NEEDS_REDIS, REDIS_URL, startTestSystem } from './fixtures/system.js'
import { createWxBridge, type WxBridge } from './fixtures/wx-bridge.js'
import { collect, next, until } from './fixtures/wait.js'
import { freePort } from '../../../scripts/redis-server.js'

const MAX_SOCKETS_PER_USER = 2
const system = await startTestSystem(t, { realtime: { MAX_CONNECTIONS_PER_USER: String(MAX_SOCKETS_PER_USER) } })
const sim = new SimControl(system.urls.sim)
const gateway = system.urls.gateway

/** A fresh simulated user with its own bridge (storage, counts) and a client on it. */
function setup (t: Teardown, opts: { timeoutMs?: number, baseUrl?: string } = {}): { wx: WxBridge, client: WeappClient, user: string } {
  const user = `sdk-${randomUUID()}`
  const wx = createWxBridge({ simUrl: system.urls.sim, user })
  t.teardown(wx.closeAll)
  const client = createClient({ baseUrl: opts.baseUrl ?? gateway, wsUrl: system.wsUrl, wx, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }) })
  return { wx, client, user }
}

/** Revokes a token the way another device's logout would: straight at the gateway, not through the SDK. */
async function revoke (token: string): Promise<void> {
  const res = await fetch(`${gateway}/api/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  if (res.status !== 204) throw new Error(`logout answered ${res.status}`)
}

function socketOf (t: Teardown, client: WeappClient, options: Parameters<WeappClient['socket']>[0] = {}): RealtimeSocket {
  const socket = client.socket({ heartbeatIntervalMs: 0, backoff: { baseMs: 50, maxMs: 400 }, ...options })
  t.teardown(() => { socket.close() })
  return socket
}

t.test('login: wx.login → POST /api/login, the token stored with setStorageSync', async (t) => {
  const { wx, client } = setup(t)
  const session = await client.login()
  t.equal(session.fresh, true)
  t.match(session.token, /^[\w-]{20,}$/)
  t.match(session.user, { openid: /^o/ })
  t.same(wx.storage.get(DEFAULT_STORAGE_KEY), { token: session.token, expiresAt: session.expiresAt }, 'token and expiry stored, nothing else')
  t.equal(wx.counts.login, 1)
  t.equal(wx.counts.checkSession, 0, 'no stored token: nothing to check')
  t.equal(wx.requestCount('/api/login', 'POST'), 1)
  t.equal(client.token(), session.token)
  t.equal(await client.login(), await client.login(), 'later calls reuse the session in memory')
  t.equal(wx.counts.login, 1)
})

t.test('5 concurrent login() and request() callers share one wx.login and one POST /api/login', async (t) => {
  const { wx, client } = setup(t)
  const results = await Promise.all([
    client.login(), client.login(),
    client.request<{ openid: string }>({ path: '/api/me' }), client.me(), client.request({ path: '/api/me' })
  ])
  t.equal(wx.counts.login, 1, 'one wx.login')
  t.equal(wx.requestCount('/api/login'), 1, 'one POST /api/login')
  const token = client.token()
  t.equal(results[0].token, token)
  t.equal(results[1].token, token)
  t.equal((results[2]).openid, results[0].user?.openid)
  const me = wx.requests.filter((r) => r.path === '/api/me')
  t.equal(me.length, 3)
  t.ok(me.every((r) => r.authorization === `Bearer ${token!}` && r.status === 200), 'every request carried the one token')
})

t.test('a stored token is kept when wx.checkSession succeeds, replaced when it fails or has expired', async (t) => {
  const { wx, client, user } = setup(t)
  const first = await client.login()

  // The mini-program is launched again: a new client on the same storage.
  const again = createClient({ baseUrl: gateway, wx })
  const kept = await again.login()
  t.equal(kept.fresh, false, 'no new login')
  t.equal(kept.token, first.token)
  t.equal(wx.counts.checkSession, 1, 'checked once, as WeChat documents')
  t.equal(wx.counts.login, 1)
  t.match(await again.me(), { openid: first.user?.openid }, 'and the stored token works')
  await again.request({ path: '/api/me' })
  t.equal(wx.counts.checkSession, 1, 'not checked again in the same launch')
  t.equal(wx.requests.at(-1)?.authorization, `Bearer ${first.token}`, 'request attaches the token')

  wx.sessionValid = false
  const third = createClient({ baseUrl: gateway, wx })
  const renewed = await third.login()
  t.equal(renewed.fresh, true, 'checkSession failed: wx.login again')
  t.not(renewed.token, first.token)
  t.equal(wx.counts.checkSession, 2)
  t.equal(wx.counts.login, 2)
  t.equal((wx.storage.get(DEFAULT_STORAGE_KEY) as { token: string }).token, renewed.token)

  wx.sessionValid = true
  wx.storage.set(DEFAULT_STORAGE_KEY, { token: renewed.token, expiresAt: new Date(Date.now() - 1000).toISOString() })
  const fourth = createClient({ baseUrl: gateway, wx })
  t.equal((await fourth.login()).fresh, true, 'an expired stored token is not even checked')
  t.equal(wx.counts.checkSession, 2)
  t.equal(wx.counts.login, 3)
  t.equal(wx.user, user)
})

t.test('a revoked session: 401, one re-login, one retry, success', async (t) => {
  const { wx, client } = setup(t)
  const { token, user } = await client.login()
  await revoke(token)
  const me = await client.me()
  t.equal(me.openid, user?.openid)
  const calls = wx.requests.filter((r) => r.path === '/api/me')
  t.same(calls.map((r) => r.status), [401, 200], 'refused once, retried once')
  t.equal(calls[0]?.authorization, `Bearer ${token}`)
  t.not(client.token(), token)
  t.equal(calls[1]?.authorization, `Bearer ${client.token()!}`, 'the retry carried the new token')
  t.equal(wx.counts.login, 2)
  t.equal((wx.storage.get(DEFAULT_STORAGE_KEY) as { token: string }).token, client.token(), 'the new token is stored')

  // Five requests that all hit the revoked token share one re-login.
  await revoke(client.token()!)
  const before = wx.counts.login
  const answers = await Promise.all(Array.from({ length: 5 }, async () => await client.me()))
  t.ok(answers.every((a) => a.openid === user?.openid))
  t.equal(wx.counts.login - before, 1, 'one wx.login for five 401s')
})

t.test('a second 401 in a row surfaces as a typed error: no loop', async (t) => {
  const { wx, client } = setup(t)
  await client.login()
  // An admin route: a user session is refused whatever its token, so the retry is refused too.
  const err = await client.request({ path: '/api/cs/conversations' }).then(() => null, (e: unknown) => e)
  t.type(err, ApiError)
  t.match(err, { name: 'ApiError', statusCode: 401, code: 'GATEWAY_ADMIN_KEY_INVALID', body: { statusCode: 401, code: 'GATEWAY_ADMIN_KEY_INVALID' } })
  t.type((err as ApiError).requestId, 'string', 'the gateway request id, to find it in the logs')
  t.equal(wx.requestCount('/api/cs/conversations'), 2, 'tried twice, not more')
  t.equal(wx.counts.login, 2, 'logged in again once')
})

t.test('server error codes arrive as typed errors', async (t) => {
  const { wx, client } = setup(t)
  await client.login()
  const empty = await client.updateMe({ nickname: '' }).catch((e: unknown) => e)
  t.type(empty, ApiError)
  t.match(empty, { statusCode: 400, code: 'VALIDATION_FAILED', message: /nickname/ })
  const unknown = await client.request({ path: '/api/me', method: 'PUT', data: { role: 'admin' } }).catch((e: unknown) => e)
  t.match(unknown, { statusCode: 400, code: 'VALIDATION_FAILED' })
  const patch = await client.request({ path: '/api/me', method: 'PATCH' as 'PUT', data: { nickname: 'x' } }).catch((e: unknown) => e)
  t.match(patch, { code: 'SDK_METHOD_UNSUPPORTED' }, 'wx.request has no PATCH: refused before sending')
  t.equal(wx.requests.filter((r) => r.method === 'PATCH').length, 0)
  const missing = await client.request({ path: '/api/nowhere' }).catch((e: unknown) => e)
  t.match(missing, { statusCode: 404 })
  t.equal(wx.counts.login, 1, '4xx other than 401 never logs in again')

  // WeChat refuses the code: POST /api/login answers 401 WECHAT_CODE_INVALID, login() rejects with it.
  const other = setup(t)
  await sim.fault({ path: '/sns/jscode2session', errcode: 40029 })
  const refused = await other.client.login().catch((e: unknown) => e)
  t.type(refused, ApiError)
  t.match(refused, { statusCode: 401, code: 'WECHAT_CODE_INVALID' })
  t.equal(other.client.token(), null)
  t.equal(other.wx.storage.size, 0, 'nothing stored')
})

t.test('network failures are typed NetworkErrors with wx\'s errMsg', async (t) => {
  const port = await freePort()
  const { client } = setup(t, { baseUrl: `http://127.0.0.1:${port}` })
  const down = await client.request({ path: '/api/me', auth: false }).catch((e: unknown) => e)
  t.type(down, NetworkError)
  t.match(down, { code: 'SDK_NETWORK_ERROR', errMsg: /^request:fail / })
  const noLogin = await client.login().catch((e: unknown) => e)
  t.type(noLogin, NetworkError, 'login reaches no server either')

  // A login that WeChat answers too slowly for the client's timeout.
  const slow = setup(t, { timeoutMs: 300 })
  await sim.fault({ path: '/sns/jscode2session', delayMs: 1500 })
  const timedOut = await slow.client.login().catch((e: unknown) => e)
  t.type(timedOut, NetworkError)
  t.match(timedOut, { code: 'SDK_TIMEOUT', errMsg: 'request:fail timeout' })

  const broken = createWxBridge({ simUrl: `http://127.0.0.1:${port}`, user: 'nobody' })
  const noCode = await createClient({ baseUrl: gateway, wx: broken }).login().catch((e: unknown) => e)
  t.type(noCode, LoginError, 'wx.login itself failed')
  t.match(noCode, { code: 'SDK_WX_LOGIN_FAILED', errMsg: /^login:fail/ })
})

t.test('logout: POST /api/logout kills the token at once and the SDK forgets it', async (t) => {
  const { wx, client } = setup(t)
  const { token } = await client.login()
  await client.logout()
  t.equal(client.token(), null)
  t.equal(wx.storage.has(DEFAULT_STORAGE_KEY), false)
  t.equal(wx.requests.find((r) => r.path === '/api/logout')?.status, 204)
  const res = await fetch(`${gateway}/api/me`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 401)
  t.equal((await res.json() as { code: string }).code, 'GATEWAY_SESSION_INVALID')
  const sentBefore = wx.requests.length
  await t.resolves(client.logout(), 'a second logout resolves')
  t.equal(wx.requests.length, sentBefore, 'a second logout sends nothing (no token left)')
  t.equal(client.token(), null)
})

t.test('socket: a ticket per connection, the seed greeting, echo, app-level ping/pong', async (t) => {
  const { wx, client, user } = setup(t)
  await client.updateMe({ nickname: 'Socket Sam' })
  const socket = socketOf(t, client, { heartbeatIntervalMs: 50 })
  t.equal(socket.state, 'connecting')
  t.equal(await next(socket, 'greeting'), 'Server: 恭喜，Socket Sam', 'the nickname from the profile')
  t.equal(socket.state, 'open')
  t.equal(wx.requestCount('/api/ws/tickets', 'POST'), 1)
  t.match(wx.sockets[0]?.url, new RegExp(`^${system.wsUrl}/ws\\?ticket=[\\w-]+$`), 'connected with the ticket, no header needed')
  const echoed = next(socket, 'message')
  socket.send('hello')
  t.equal(await echoed, 'Server: Received(hello)')
  const json = next(socket, 'message')
  socket.send('{"not":"an envelope"}')
  t.equal(await json, 'Server: Received({"not":"an envelope"})', 'JSON that is no envelope is echoed too')

  const pongs = collect(socket, 'pong')
  await until(() => pongs.length >= 3, 5000, 'three heartbeat pongs')
  t.ok(pongs[1]!.id > pongs[0]!.id, 'each heartbeat has its own id')
  t.ok(pongs.every((p) => p.rttMs >= 0))
  const id = socket.ping()
  t.equal((await next(socket, 'pong', (p) => p.id === id)).id, id, 'ping() is answered by id')
  t.equal(wx.user, user)
})

t.test('socket: Authorization header instead of a ticket', async (t) => {
  const { wx, client } = setup(t)
  const socket = socketOf(t, client, { auth: 'header' })
  t.match(await next(socket, 'greeting'), /^Server: 恭喜，o/, 'no nickname yet: the openid')
  t.equal(wx.requestCount('/api/ws/tickets'), 0)
  t.equal(wx.sockets[0]?.url, `${system.wsUrl}/ws`)
  t.equal(wx.sockets[0]?.header.authorization, `Bearer ${client.token()!}`)
})

t.test('socket: channels are joined on open; a refused channel is reported and dropped', async (t) => {
  const { client } = setup(t)
  const socket = socketOf(t, client, { channels: ['public:news'] })
  t.equal(await next(socket, 'subscribed'), 'public:news')
  const me = await client.me()
  socket.subscribe(`user:${me.openid}`)
  t.equal(await next(socket, 'subscribed'), `user:${me.openid}`)
  socket.subscribe('user:somebody-else')
  const err = await next(socket, 'error')
  t.match(err, { code: 'WS_CHANNEL_FORBIDDEN' })
  t.same(socket.channels, ['public:news', `user:${me.openid}`], 'not joined again after a reconnect')
  socket.unsubscribe('public:news')
  t.equal(await next(socket, 'unsubscribed'), 'public:news')
})

t.test('socket: a pushed event reaches its handler', { skip: NEEDS_REDIS }, async (t) => {
  const { client } = setup(t)
  const redis = new Redis(REDIS_URL!)
  t.teardown(async () => { await redis.quit() })
  const socket = socketOf(t, client, { channels: ['public:sdk-test'] })
  await next(socket, 'subscribed')
  const { openid } = await client.me()
  const paid = new Promise<{ data: unknown, push: PushEvent }>((resolve) => { socket.onEvent('order.paid', (data, push) => { resolve({ data, push }) }) })
  // What another service does: publish on the bus (Redis pub/sub, packages/common RedisBus).
  await redis.publish(BusChannels.users, JSON.stringify({ type: 'user.push', openid, event: 'order.paid', data: { orderId: 42 } }))
  const got = await paid
  t.same(got.data, { orderId: 42 })
  t.same(got.push, { event: 'order.paid', data: { orderId: 42 } }, 'a user push has no channel')
  const onChannel = next(socket, 'event', (e) => e.event === 'news')
  await redis.publish(BusChannels.channels, JSON.stringify({ type: 'channel.push', channel: 'public:sdk-test', event: 'news', data: 'hi' }))
  t.same(await onChannel, { event: 'news', data: 'hi', channel: 'public:sdk-test' })
})

t.test('socket: realtime-ws restarts → 1001, backoff, a new ticket, channels joined again, echo works', async (t) => {
  const { wx, client } = setup(t)
  const channel = `public:restart-${randomUUID().slice(0, 8)}`
  const socket = socketOf(t, client, { channels: [channel], backoff: { baseMs: 50, maxMs: 400, jitter: equalJitter(() => 1) } })
  // Both frames can arrive in one TCP read and be handled in one go: listen for both before awaiting either.
  const joined = next(socket, 'subscribed')
  await next(socket, 'greeting')
  await joined
  const closes = collect(socket, 'close')
  const retries = collect(socket, 'reconnecting')
  const opens = collect(socket, 'open')
  const subscribed = collect(socket, 'subscribed')
  const greeted = next(socket, 'greeting', () => true, 30_000)

  await system.restart('realtime')
  t.equal(await greeted.then((g) => g.startsWith('Server: 恭喜，')), true, 'greeted again')
  t.match(closes[0], { code: 1001 }, 'the server said it was going away')
  t.ok(retries.length >= 1)
  const delays = retries.map((r) => r.delayMs)
  t.same(delays, delays.map((_, i) => Math.min(400, 50 * 2 ** i)), 'doubling from 50 ms, capped at 400 ms')
  t.equal(opens.at(-1)?.attempt, retries.length, 'open reports the attempts it took')
  t.ok(wx.requestCount('/api/ws/tickets') >= 2, 'a fresh ticket for the new connection')
  await until(() => subscribed.includes(channel), 5000, 'channel joined again')
  const echoed = next(socket, 'message')
  socket.send('after restart')
  t.equal(await echoed, 'Server: Received(after restart)')

  if (REDIS_URL !== undefined) {
    const redis = new Redis(REDIS_URL)
    t.teardown(async () => { await redis.quit() })
    const news = next(socket, 'event')
    await redis.publish(BusChannels.channels, JSON.stringify({ type: 'channel.push', channel, event: 'back', data: 1 }))
    t.same(await news, { event: 'back', data: 1, channel }, 'the re-joined channel delivers on the new server')
  }
})

t.test('socket: replaced by a newer connection (1008) → no reconnect fight', async (t) => {
  const { wx, client } = setup(t)
  const oldest = socketOf(t, client)
  await next(oldest, 'greeting')
  const replaced = next(oldest, 'replaced')
  const others = Array.from({ length: MAX_SOCKETS_PER_USER }, () => socketOf(t, client))
  await Promise.all(others.map(async (s) => await next(s, 'greeting')))
  t.match(await replaced, { code: 1008 })
  t.equal(oldest.state, 'closed')
  const connects = wx.counts.connectSocket
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.equal(wx.counts.connectSocket, connects, 'the replaced socket did not come back to close the newest')
  t.equal(others.filter((s) => s.state === 'open').length, MAX_SOCKETS_PER_USER)
  t.throws(() => { oldest.send('x') }, { code: 'SDK_SOCKET_NOT_OPEN' })
})

t.test('socket: close() stops for good; connect() starts again', async (t) => {
  const { wx, client } = setup(t)
  const socket = socketOf(t, client)
  await next(socket, 'greeting')
  const closed = next(socket, 'close')
  socket.close()
  t.same(await closed, { code: 1000, reason: 'client closed', reconnectInMs: null })
  t.equal(socket.state, 'closed')
  await until(() => wx.sockets.length === 0, 5000, 'the socket closed')
  socket.connect()
  t.match(await next(socket, 'greeting'), /^Server: 恭喜，/)
  t.equal(wx.counts.connectSocket, 2)
})
