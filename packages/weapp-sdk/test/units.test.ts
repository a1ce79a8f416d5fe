// The SDK's own logic where no server is needed: backoff arithmetic, the emitter, the token store, and
// the socket's heartbeat timeout and close-code handling driven through a scripted SocketTask (a server
// that stops answering cannot be produced on demand; everything else is tested against the real system).
import t from 'tap'
import { backoffDelay, equalJitter, fullJitter, DEFAULT_BACKOFF_BASE_MS, DEFAULT_BACKOFF_MAX_MS } from '../src/backoff.js'
import { Emitter } from '../src/emitter.js'
import { ApiError, NetworkError } from '../src/errors.js'
import type { Auth } from '../src/login.js'
import { resolveUrl, type Requester } from '../src/request.js'
import { RealtimeSocket, type SocketOptions } from '../src/socket.js'
import { TokenStore } from '../src/storage.js'
import type { WxApi } from '../src/wx.js'
import { collect, next, until } from './fixtures/wait.js'

t.test('backoff: doubling from base, capped, jittered by the injected function', async (t) => {
  const none = (c: number): number => c
  t.same([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, { baseMs: 100, maxMs: 1000, jitter: none })), [100, 200, 400, 800, 1000, 1000, 1000])
  t.same([0, 1, 2, 3, 4].map((a) => backoffDelay(a, { baseMs: 100, maxMs: 1000, jitter: equalJitter(() => 0) })), [50, 100, 200, 400, 500], 'equal jitter never goes below half the ceiling')
  t.same([0, 1, 2, 3, 4].map((a) => backoffDelay(a, { baseMs: 100, maxMs: 1000, jitter: equalJitter(() => 0.999999) })), [100, 200, 400, 800, 1000], 'nor above it')
  t.same([0, 3].map((a) => backoffDelay(a, { baseMs: 100, maxMs: 1000, jitter: fullJitter(() => 0.25) })), [25, 200], 'full jitter: anywhere below the ceiling')
  t.equal(backoffDelay(5000, { baseMs: 100, maxMs: 1000, jitter: none }), 1000, 'huge attempt counts do not overflow')
  t.equal(backoffDelay(3, { baseMs: 100, maxMs: 1000, jitter: () => 1e9 }), 1000, 'a jitter past the cap is clamped')
  t.equal(backoffDelay(3, { baseMs: 100, maxMs: 1000, jitter: () => -5 }), 0)
  t.equal(backoffDelay(0, { jitter: none }), DEFAULT_BACKOFF_BASE_MS)
  t.equal(backoffDelay(99, { jitter: none }), DEFAULT_BACKOFF_MAX_MS)
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, { baseMs: 100, maxMs: 10_000 })))
  t.ok(spread.size > 10, 'Math.random by default: clients spread out')
  t.ok([...spread].every((d) => d >= 800 && d <= 1600))
})

t.test('emitter: on/once/off, a throwing handler does not stop the others', async (t) => {
  const reported: unknown[] = []
  const e = new Emitter<{ x: number }>((err) => { reported.push(err) })
  const seen: number[] = []
  const off = e.on('x', (n) => { seen.push(n) })
  e.once('x', (n) => { seen.push(n * 10) })
  e.on('x', () => { throw new Error('handler bug') })
  e.on('x', (n) => { seen.push(n * 100) })
  e.emit('x', 1)
  e.emit('x', 2)
  off()
  e.emit('x', 3)
  t.same(seen, [1, 10, 100, 2, 200, 300])
  t.match(reported, [{ message: 'handler bug' }, { message: 'handler bug' }], 'reported, not swallowed (by default rethrown on a clean stack)')
  t.equal(e.listenerCount('x'), 2)
})

t.test('errors: the server body gives the code; anything else a SDK_ code', async (t) => {
  const api = new ApiError(400, { statusCode: 400, code: 'VALIDATION_FAILED', error: 'Bad Request', message: 'body/nickname ...' }, 'req-1')
  t.match(api, { name: 'ApiError', code: 'VALIDATION_FAILED', statusCode: 400, message: 'body/nickname ...', requestId: 'req-1' })
  t.ok(api instanceof Error)
  t.match(new ApiError(502, '<html>bad gateway</html>'), { code: 'SDK_HTTP_502', message: 'HTTP 502', body: '<html>bad gateway</html>' })
  t.match(new NetworkError('request:fail timeout'), { code: 'SDK_TIMEOUT' })
  t.match(new NetworkError('request:fail url not in domain list'), { code: 'SDK_NETWORK_ERROR' })
  t.equal(resolveUrl('https://a.example/', '/api/me'), 'https://a.example/api/me')
  t.equal(resolveUrl('https://a.example', 'api/me'), 'https://a.example/api/me')
  t.equal(resolveUrl('https://a.example', 'wss://b.example/ws?ticket=x'), 'wss://b.example/ws?ticket=x')
})

t.test('token store: what wx storage holds, ignoring what is missing, malformed or expired', async (t) => {
  const data = new Map<string, unknown>()
  let now = Date.parse('2030-01-01T00:00:00Z')
  const wx = {
    getStorageSync: (k: string) => data.has(k) ? data.get(k) : '',
    setStorageSync: (k: string, v: unknown) => { data.set(k, v) },
    removeStorageSync: (k: string) => { data.delete(k) }
  } as unknown as WxApi
  const store = new TokenStore(wx, 'k', () => now)
  t.equal(store.get(), null, "'' for a missing key")
  store.set({ token: 'tok', expiresAt: '2030-01-02T00:00:00Z' })
  t.same(data.get('k'), { token: 'tok', expiresAt: '2030-01-02T00:00:00Z' })
  t.same(store.get(), { token: 'tok', expiresAt: '2030-01-02T00:00:00Z' })
  now = Date.parse('2030-01-02T00:00:00Z')
  t.equal(store.get(), null, 'expired')
  data.set('k', 'a string')
  t.equal(store.get(), null)
  data.set('k', { token: 5, expiresAt: 'x' })
  t.equal(store.get(), null)
  store.clear()
  t.equal(data.has('k'), false)
  const throwing = { getStorageSync: () => { throw new Error('no storage') }, setStorageSync: () => { throw new Error('full') }, removeStorageSync: () => {} } as unknown as WxApi
  const fragile = new TokenStore(throwing)
  t.equal(fragile.get(), null)
  t.doesNotThrow(() => { fragile.set({ token: 'x', expiresAt: 'y' }) })
})

/** A SocketTask whose server side the test scripts: open it, send it frames, close it. */
class ScriptedTask {
  readonly sent: string[] = []
  closedWith: { code?: number, reason?: string } | null = null
  readonly #l: Record<'open' | 'message' | 'close' | 'error', Array<(r: any) => void>> = { open: [], message: [], close: [], error: [] }
  constructor (readonly url: string) {}
  onOpen (l: (r: any) => void): void { this.#l.open.push(l) }
  onMessage (l: (r: any) => void): void { this.#l.message.push(l) }
  onClose (l: (r: any) => void): void { this.#l.close.push(l) }
  onError (l: (r: any) => void): void { this.#l.error.push(l) }
  send (o: { data: string }): void { this.sent.push(o.data) }
  close (o: { code?: number, reason?: string }): void { this.closedWith = o }
  serverOpen (): void { for (const l of this.#l.open) l({ header: {} }) }
  serverSend (data: string): void { for (const l of this.#l.message) l({ data }) }
  serverClose (code: number, reason = ''): void { for (const l of this.#l.close) l({ code, reason }) }
  serverError (errMsg: string): void { for (const l of this.#l.error) l({ errMsg }) }
}

function scripted (t: { teardown: (fn: () => void) => void }, options: SocketOptions): { socket: RealtimeSocket, tasks: ScriptedTask[] } {
  const tasks: ScriptedTask[] = []
  let n = 0
  const wx = { connectSocket: (o: { url: string }) => { const task = new ScriptedTask(o.url); tasks.push(task); return task } } as unknown as WxApi
  const request = (async () => ({ ticket: `t${++n}`, url: `/ws?ticket=t${n}` })) as unknown as Requester
  const socket = new RealtimeSocket({ wx, auth: {} as Auth, request, wsUrl: 'wss://api.example', ticketPath: '/api/ws/tickets', wsPath: '/ws' }, options)
  t.teardown(() => { socket.close() })
  return { socket, tasks }
}

t.test('socket heartbeat: no answer within the timeout → closes (4000) and reconnects', async (t) => {
  const { socket, tasks } = scripted(t, { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 40, backoff: { baseMs: 10, maxMs: 10, jitter: (c) => c } })
  await until(() => tasks.length === 1)
  t.equal(tasks[0]!.url, 'wss://api.example/ws?ticket=t1')
  tasks[0]!.serverOpen()
  tasks[0]!.serverSend('Server: 恭喜，x')
  const errors = collect(socket, 'error')
  const reconnecting = next(socket, 'reconnecting')
  await until(() => tasks[0]!.sent.length >= 1)
  t.same(JSON.parse(tasks[0]!.sent[0]!), { type: 'ping', id: 1 })
  tasks[0]!.serverSend(JSON.stringify({ type: 'pong', id: 1 }))
  // From now on the "server" stays silent.
  t.same(await reconnecting, { attempt: 1, delayMs: 10 })
  t.match(errors, [{ code: 'SDK_SOCKET_CLOSED', message: /heartbeat/ }])
  t.same(tasks[0]!.closedWith?.code, 4000, 'the dead connection is closed by the client')
  await until(() => tasks.length === 2)
  t.equal(tasks[1]!.url, 'wss://api.example/ws?ticket=t2', 'a new ticket')
  tasks[0]!.serverClose(1006)
  t.equal(socket.state, 'connecting', 'late events of the old connection are ignored')
})

t.test('socket close codes: 1008 stops, others reconnect; maxReconnectAttempts gives up', async (t) => {
  const { socket, tasks } = scripted(t, { heartbeatIntervalMs: 0, backoff: { baseMs: 5, maxMs: 5 }, maxReconnectAttempts: 2 })
  await until(() => tasks.length === 1)
  tasks[0]!.serverOpen()
  tasks[0]!.serverSend('Server: 恭喜，x')
  const closes = collect(socket, 'close')
  tasks[0]!.serverClose(1013, 'slow consumer')
  await until(() => tasks.length === 2)
  t.match(closes[0], { code: 1013, reason: 'slow consumer' })
  t.ok(closes[0]!.reconnectInMs !== null)
  tasks[1]!.serverError('connection refused')
  await until(() => tasks.length === 3)
  tasks[2]!.serverError('connection refused')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(tasks.length, 3, 'two failed attempts in a row: gave up')
  t.equal(socket.state, 'closed')

  socket.connect()
  await until(() => tasks.length === 4)
  tasks[3]!.serverOpen()
  tasks[3]!.serverSend('Server: 恭喜，x')
  const replaced = next(socket, 'replaced')
  tasks[3]!.serverClose(1008, 'connection limit: replaced by a newer connection')
  t.same(await replaced, { code: 1008, reason: 'connection limit: replaced by a newer connection' })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(tasks.length, 4, 'no reconnect after 1008')
  t.equal(socket.state, 'closed')
})

t.test('socket connect timeout: a handshake that never completes is given up and retried', async (t) => {
  const { socket, tasks } = scripted(t, { connectTimeoutMs: 30, heartbeatIntervalMs: 0, backoff: { baseMs: 5, maxMs: 5 } })
  const error = next(socket, 'error')
  await until(() => tasks.length === 2, 2000, 'a second attempt')
  t.match(await error, { code: 'SDK_TIMEOUT', message: /not connected within 30 ms/ })
  t.equal(tasks[0]!.closedWith?.code, 1000, 'the hung attempt is closed')
  tasks[1]!.serverOpen()
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(tasks.length, 2, 'an open connection is not timed out')
  t.equal(socket.state, 'open')
})
