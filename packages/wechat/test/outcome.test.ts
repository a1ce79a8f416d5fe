import { once } from 'node:events'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { Pool } from 'undici'
import { outcomeOf, WechatClient, type WechatClientOptions } from '../src/index.js'

// Every error a WechatClient call throws says whether WeChat may have acted on it (err.outcome), told
// from what happened on real sockets, never from undici's error codes.

const APP_ID = 'wx1111111111111111'
const SECRET = 'the-app-secret-0123456789abcdef'
const TOKEN = 'ACCESS_TOKEN_abcdefghijklmnopqrstuvwxyz'
const OPENID = 'oAlicexxxxxxxxxxxxxxxxxxxxxx'
const TEXT = { msgtype: 'text', text: { content: 'hello' } } as const

interface RawServer { port: number, url: string, connections: number, received: () => string }

/** A TCP server that reads whatever comes and never answers; `onRequest` runs once HTTP headers arrived. */
async function rawServer (t: Test, onRequest: (socket: Socket) => void = () => {}): Promise<RawServer> {
  const chunks: Buffer[] = []
  const sockets = new Set<Socket>()
  const state = { connections: 0 }
  const server = createServer((socket) => {
    state.connections++
    sockets.add(socket)
    let seen = ''
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      seen += chunk.toString('latin1')
      if (seen.includes('\r\n\r\n')) onRequest(socket)
    })
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get connections () { return state.connections },
    received: () => Buffer.concat(chunks).toString('latin1')
  }
}

/** Requests seen by an HTTP server answering `json` (status 200 unless told). */
async function answering (t: Test, answer: () => { status?: number, body: string, type?: string }): Promise<{ url: string, requests: () => number }> {
  let requests = 0
  const server = createHttpServer((req, res) => {
    req.resume()
    req.on('end', () => {
      requests++
      const { status = 200, body, type = 'application/json' } = answer()
      res.writeHead(status, { 'content-type': type }).end(body)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests }
}

/** A client whose back-off sleeps are counted (attempts = sleeps + 1). */
function client (t: Test, url: string, options: Partial<WechatClientOptions> = {}): { c: WechatClient, sleeps: () => number } {
  let sleeps = 0
  const c = new WechatClient({ appId: APP_ID, appSecret: SECRET, baseUrl: url, timeoutMs: 2000, sleep: async () => { sleeps++ }, ...options })
  t.teardown(() => c.close())
  return { c, sleeps: () => sleeps }
}

async function failure (t: Test, promise: Promise<unknown>): Promise<any> {
  try {
    await promise
  } catch (err) {
    return err
  }
  t.fail('expected a rejection')
  return {}
}

async function freePort (): Promise<number> {
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as AddressInfo
  await new Promise((resolve) => probe.close(resolve))
  return port
}

t.test('a port that refuses: not-sent, and even a send is repeated', async (t) => {
  const { c, sleeps } = client(t, `http://127.0.0.1:${await freePort()}`, { retries: 2 })
  const err = await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT }))
  t.match(err, { code: 'WECHAT_UNAVAILABLE', outcome: 'not-sent' })
  t.equal(outcomeOf(err), 'not-sent')
  t.equal(sleeps(), 2, 'nothing was sent, so all three attempts were made')
})

t.test('a name that does not resolve: not-sent', async (t) => {
  // Whether DNS answers at once (ENOTFOUND) or hangs until the deadline, the request never left.
  const { c } = client(t, 'http://wechat-api.invalid', { retries: 0, timeoutMs: 1500 })
  const err = await failure(t, c.code2Session('code'))
  t.match(err, { outcome: 'not-sent' })
  t.match(err.code, /^WECHAT_(UNAVAILABLE|TIMEOUT)$/)
})

t.test('a connect (TLS handshake) that never completes: a timeout, but not-sent', async (t) => {
  // A TCP server that accepts and never answers the ClientHello: the connect phase never ends.
  const server = await rawServer(t)
  const { c, sleeps } = client(t, `https://127.0.0.1:${server.port}`, { retries: 1, timeoutMs: 300 })
  const err = await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT }))
  t.match(err, { code: 'WECHAT_TIMEOUT', outcome: 'not-sent' })
  t.equal(sleeps(), 1, 'repeated: the message never left')
  t.ok(server.connections >= 1, 'the TCP connection was made')
  t.notMatch(server.received(), /POST|cgi-bin|hello/, 'no byte of the HTTP request reached the server')
})

t.test('a request still waiting for a connection when the deadline hits: not-sent', async (t) => {
  const server = await rawServer(t)
  // One connection shared by two clients: the first call holds it, the second waits in the pool's queue.
  const pool = new Pool(server.url, { connections: 1 })
  t.teardown(() => pool.destroy())
  const holder = client(t, server.url, { dispatcher: pool, retries: 0, timeoutMs: 1500 })
  const waiter = client(t, server.url, { dispatcher: pool, retries: 0, timeoutMs: 200 })
  const held = failure(t, holder.c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content: 'first' } } }))
  const started = Date.now()
  const err = await failure(t, waiter.c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content: 'second' } } }))
  t.match(err, { code: 'WECHAT_TIMEOUT', outcome: 'not-sent' })
  t.ok(Date.now() - started < 1000, 'its own deadline, not the end of the call it waited behind')
  t.match(await held, { code: 'WECHAT_TIMEOUT', outcome: 'unknown' }, 'the same error code, written: unknown')
  t.match(server.received(), /first/)
  t.notMatch(server.received(), /second/, 'the waiting request was never written')
})

t.test('a server that takes the request and never answers: unknown, and a send is not repeated', async (t) => {
  const server = await rawServer(t)
  const { c, sleeps } = client(t, server.url, { retries: 3, timeoutMs: 200 })
  const err = await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT }))
  t.match(err, { code: 'WECHAT_TIMEOUT', outcome: 'unknown' })
  t.equal(sleeps(), 0, 'never repeated: WeChat may have delivered it')
  t.equal(server.received().split('POST /cgi-bin/message/custom/send').length - 1, 1, 'written once')

  // A read may be repeated after the same failure; its outcome is the same.
  const read = await failure(t, c.getAccessToken())
  t.match(read, { code: 'WECHAT_TIMEOUT', outcome: 'unknown' })
  t.equal(sleeps(), 3)
})

t.test('a server that takes the request and drops the connection: unknown', async (t) => {
  const server = await rawServer(t, (socket) => socket.destroy())
  const { c, sleeps } = client(t, server.url, { retries: 3 })
  const err = await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT }))
  t.match(err, { code: 'WECHAT_UNAVAILABLE', outcome: 'unknown' })
  t.equal(sleeps(), 0)
  t.equal(server.connections, 1)
})

t.test('an errcode answer: answered (WeChat refused, nothing delivered)', async (t) => {
  let errcode = 45015
  const wechat = await answering(t, () => ({ body: JSON.stringify({ errcode, errmsg: 'response out of time limit' }) }))
  const { c, sleeps } = client(t, wechat.url, { retries: 2 })
  const closed = await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT }))
  t.match(closed, { code: 'WECHAT_SEND_WINDOW_CLOSED', errcode: 45015, outcome: 'answered' })
  errcode = -1
  const busy = await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT }))
  t.match(busy, { code: 'WECHAT_BUSY', errcode: -1, outcome: 'answered' })
  t.equal(sleeps(), 2, '-1 is repeated: WeChat did not act')
  errcode = 40029
  t.match(await failure(t, c.code2Session('used')), { code: 'WECHAT_CODE_INVALID', outcome: 'answered' })
})

t.test('an answer that is not WeChat\'s JSON: unknown', async (t) => {
  const wechat = await answering(t, () => ({ status: 502, body: '<html>Bad Gateway</html>', type: 'text/html' }))
  const { c } = client(t, wechat.url, { retries: 0 })
  t.match(await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT })), { code: 'WECHAT_UNAVAILABLE', outcome: 'unknown' })
  const empty = await answering(t, () => ({ body: '{"errcode":0}' }))
  t.match(await failure(t, client(t, empty.url).c.code2Session('c')), { code: 'WECHAT_RESPONSE_INVALID', outcome: 'unknown' })
})

t.test('refused before sending: not-sent', async (t) => {
  const wechat = await answering(t, () => ({ body: '{}' }))
  const { c } = client(t, wechat.url)
  t.match(await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content: '' } } })),
    { code: 'WECHAT_REQUEST_INVALID', outcome: 'not-sent' })
  t.match(await failure(t, c.code2Session('')), { code: 'WECHAT_CODE_INVALID', outcome: 'not-sent' })
  t.match(await failure(t, c.getTempMedia({ accessToken: TOKEN, mediaId: '' })), { code: 'WECHAT_REQUEST_INVALID', outcome: 'not-sent' })
  await c.close()
  t.match(await failure(t, c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: TEXT })), { code: 'WECHAT_CLOSED', outcome: 'not-sent' })
  t.equal(wechat.requests(), 0)
})

t.test('outcomeOf: only errors of the client carry one', async (t) => {
  t.equal(outcomeOf(new Error('x')), undefined)
  t.equal(outcomeOf(Object.assign(new Error('x'), { outcome: 'delivered' })), undefined)
  t.equal(outcomeOf(null), undefined)
  t.equal(outcomeOf('not-sent'), undefined)
})
