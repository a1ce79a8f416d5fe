import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { Agent } from 'undici'
import { loginStateSignature, WechatClient, type WechatClientOptions } from '../src/index.js'

const APP_ID = 'wx1111111111111111'
const SECRET = 'the-app-secret-0123456789abcdef'
const TOKEN = 'ACCESS_TOKEN_abcdefghijklmnopqrstuvwxyz'
const SESSION_KEY = 'o0q0otL8aEzpcZL/FT9WsQ=='

interface Seen { method: string, path: string, query: URLSearchParams, body: string, headers: IncomingMessage['headers'] }
interface Answer { status?: number, json?: unknown, text?: string, contentType?: string, delayMs?: number, destroy?: boolean }
type Handler = (req: Seen, n: number) => Answer

/** A throwaway WeChat look-alike on port 0: canned answers per test, every request recorded. */
async function startWechat (t: Test, handler: Handler): Promise<{ url: string, seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const s: Seen = { method: req.method ?? '', path: url.pathname, query: url.searchParams, body: Buffer.concat(chunks).toString(), headers: req.headers }
      seen.push(s)
      const answer = handler(s, seen.length)
      const send = (): void => {
        if (answer.destroy === true) { req.socket.destroy(); return }
        if (res.destroyed) return
        const body = answer.text ?? JSON.stringify(answer.json ?? {})
        res.writeHead(answer.status ?? 200, { 'content-type': answer.contentType ?? (answer.text === undefined ? 'application/json' : 'text/html') })
        res.end(body)
      }
      if (answer.delayMs !== undefined) setTimeout(send, answer.delayMs).unref()
      else send()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }
}

function client (t: Test, url: string, options: Partial<WechatClientOptions> = {}): WechatClient {
  const c = new WechatClient({ appId: APP_ID, appSecret: SECRET, baseUrl: url, retryBaseDelayMs: 1, timeoutMs: 2000, ...options })
  t.teardown(() => c.close())
  return c
}

/** Runs fn and returns what it threw, failing the test when it did not throw. */
async function thrown (t: Test, fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  t.fail('expected a rejection')
  return {}
}

t.test('options are validated at construction', async (t) => {
  const bad: Array<Partial<WechatClientOptions>> = [
    { appId: '' }, { appSecret: undefined }, { baseUrl: 'not a url' }, { baseUrl: 'ftp://x' }, { baseUrl: 'https://x/?q=1' },
    { timeoutMs: 0 }, { retries: -1 }, { retries: 1.5 }, { retryBaseDelayMs: -5 }, { dispatcher: {} as never }
  ]
  for (const o of bad) {
    t.throws(() => new WechatClient({ appId: APP_ID, appSecret: SECRET, ...o } as WechatClientOptions), { code: 'WECHAT_OPTIONS_INVALID' }, JSON.stringify(o))
  }
  t.throws(() => new WechatClient(undefined as never), { code: 'WECHAT_OPTIONS_INVALID' })
  const c = new WechatClient({ appId: APP_ID, appSecret: SECRET })
  await c.close()
})

t.test('code2Session', async (t) => {
  const { url, seen } = await startWechat(t, (req) => req.query.get('js_code') === 'with-union'
    ? { json: { openid: 'o1', session_key: SESSION_KEY, unionid: 'u1', errcode: 0, errmsg: 'ok' } }
    : { json: { openid: 'o1', session_key: SESSION_KEY } }) // errcode absent = success
  const c = client(t, url)
  t.same(await c.code2Session('plain'), { openid: 'o1', sessionKey: SESSION_KEY })
  t.same(await c.code2Session('with-union'), { openid: 'o1', sessionKey: SESSION_KEY, unionid: 'u1' })
  const q = seen[0]!
  t.equal(q.method, 'GET')
  t.equal(q.path, '/sns/jscode2session')
  t.same(Object.fromEntries(q.query), { appid: APP_ID, secret: SECRET, js_code: 'plain', grant_type: 'authorization_code' })
  await t.rejects(c.code2Session(''), { code: 'WECHAT_CODE_INVALID' })
  t.equal(seen.length, 2, 'an empty code never reaches WeChat')
})

t.test('code2Session: an answer without openid/session_key is rejected', async (t) => {
  const { url } = await startWechat(t, () => ({ json: { errcode: 0, errmsg: 'ok' } }))
  await t.rejects(client(t, url).code2Session('c'), { code: 'WECHAT_RESPONSE_INVALID' })
})

t.test('getAccessToken and getStableAccessToken', async (t) => {
  const { url, seen } = await startWechat(t, (req) => ({ json: { access_token: req.path === '/cgi-bin/token' ? 'T-plain' : 'T-stable', expires_in: 7200 } }))
  const c = client(t, url)
  t.same(await c.getAccessToken(), { accessToken: 'T-plain', expiresIn: 7200 })
  t.same(Object.fromEntries(seen[0]!.query), { grant_type: 'client_credential', appid: APP_ID, secret: SECRET })

  t.same(await c.getStableAccessToken(), { accessToken: 'T-stable', expiresIn: 7200 })
  const s = seen[1]!
  t.equal(s.method, 'POST')
  t.equal(s.path, '/cgi-bin/stable_token')
  t.equal(s.query.toString(), '', 'the secret travels in the JSON body, not the URL')
  t.match(s.headers['content-type'], /^application\/json/)
  t.same(JSON.parse(s.body), { grant_type: 'client_credential', appid: APP_ID, secret: SECRET, force_refresh: false })
  await c.getStableAccessToken(true)
  t.equal(JSON.parse(seen[2]!.body).force_refresh, true)
})

t.test('checkSessionKey sends the login-state signature of ""', async (t) => {
  const { url, seen } = await startWechat(t, (req) => req.query.get('openid') === 'stale'
    ? { json: { errcode: 87009, errmsg: 'invalid signature rid: 1' } }
    : { json: { errcode: 0, errmsg: 'ok' } })
  const c = client(t, url)
  await c.checkSessionKey({ accessToken: TOKEN, openid: 'o1', sessionKey: SESSION_KEY })
  t.same(Object.fromEntries(seen[0]!.query), {
    access_token: TOKEN,
    openid: 'o1',
    signature: '46e043c5525c2d817c44be603d30837a808a1d930d038f6fdc3e62a201fed128',
    sig_method: 'hmac_sha256'
  })
  t.equal(seen[0]!.query.get('signature'), loginStateSignature(SESSION_KEY, ''))
  const err = await thrown(t, () => c.checkSessionKey({ accessToken: TOKEN, openid: 'stale', sessionKey: SESSION_KEY }))
  t.match(err, { code: 'WECHAT_SESSION_KEY_INVALID', statusCode: 401, errcode: 87009, errmsg: 'invalid signature rid: 1' })
})

t.test('getUserPhoneNumber', async (t) => {
  let watermarkAppId = APP_ID
  const { url, seen } = await startWechat(t, () => ({
    json: {
      errcode: 0,
      errmsg: 'ok',
      phone_info: { phoneNumber: '+86 13800000000', purePhoneNumber: '13800000000', countryCode: 86, watermark: { timestamp: 1637744274, appid: watermarkAppId } }
    }
  }))
  const c = client(t, url)
  t.same(await c.getUserPhoneNumber({ accessToken: TOKEN, code: 'pc', openid: 'o1' }), {
    phoneNumber: '+86 13800000000', purePhoneNumber: '13800000000', countryCode: '86', watermark: { appid: APP_ID, timestamp: 1637744274 }
  })
  const s = seen[0]!
  t.equal(s.method, 'POST')
  t.equal(s.path, '/wxa/business/getuserphonenumber')
  t.same(Object.fromEntries(s.query), { access_token: TOKEN })
  t.same(JSON.parse(s.body), { code: 'pc', openid: 'o1' })
  await c.getUserPhoneNumber({ accessToken: TOKEN, code: 'pc2' })
  t.same(JSON.parse(seen[1]!.body), { code: 'pc2' })

  watermarkAppId = 'wx9999999999999999'
  await t.rejects(c.getUserPhoneNumber({ accessToken: TOKEN, code: 'pc3' }), { code: 'WECHAT_WATERMARK_MISMATCH' })
})

t.test('errcodes become typed errors carrying errcode and errmsg', async (t) => {
  const { url } = await startWechat(t, (req) => {
    const errcode = Number(req.query.get('want') ?? req.query.get('js_code') ?? JSON.parse(req.body || '{}').want)
    return { json: { errcode, errmsg: `message ${errcode} rid: abc` } }
  })
  const c = client(t, url)
  const cases: Array<[string, number, string, () => Promise<unknown>]> = []
  for (const code of [40029, 40163, 45011, 40226, 40013, 40125, 41002, 41004, 40002, 40243, 40164, 87009, 48001, 41008]) {
    cases.push([`jscode2session ${code}`, code, '', () => c.code2Session(String(code))])
  }
  for (const code of [40001, 40014, 42001, 40003, 45015]) {
    cases.push([`custom/send ${code}`, code, '', () => c.callJson('POST', '/cgi-bin/message/custom/send', { accessToken: TOKEN, body: { want: code } })])
  }
  const expected: Record<number, string> = {
    40029: 'WECHAT_CODE_INVALID',
    40163: 'WECHAT_CODE_INVALID',
    45011: 'WECHAT_RATE_LIMITED',
    40226: 'WECHAT_RISKY_USER',
    40013: 'WECHAT_CREDENTIALS_INVALID',
    40125: 'WECHAT_CREDENTIALS_INVALID',
    41002: 'WECHAT_CREDENTIALS_INVALID',
    41004: 'WECHAT_CREDENTIALS_INVALID',
    40002: 'WECHAT_CREDENTIALS_INVALID',
    40243: 'WECHAT_CREDENTIALS_INVALID',
    40164: 'WECHAT_CREDENTIALS_INVALID',
    87009: 'WECHAT_SESSION_KEY_INVALID',
    48001: 'WECHAT_API_UNAUTHORIZED',
    41008: 'WECHAT_API_ERROR',
    40001: 'WECHAT_TOKEN_INVALID',
    40014: 'WECHAT_TOKEN_INVALID',
    42001: 'WECHAT_TOKEN_INVALID',
    40003: 'WECHAT_OPENID_INVALID',
    45015: 'WECHAT_SEND_WINDOW_CLOSED'
  }
  for (const [name, code, , run] of cases) {
    const err = await thrown(t, run)
    t.match(err, { code: expected[code], errcode: code, errmsg: `message ${code} rid: abc` }, name)
    t.ok(err instanceof Error, `${name} is an Error`)
  }
  const api = await thrown(t, () => c.code2Session('41008'))
  t.match(api.message, /41008/, 'ApiError names the errcode')
  t.equal(api.statusCode, 502)
})

t.test('40001 on the token endpoints means a wrong AppSecret, not a stale token', async (t) => {
  const { url } = await startWechat(t, () => ({ json: { errcode: 40001, errmsg: 'invalid credential, access_token is invalid or not latest' } }))
  const c = client(t, url)
  await t.rejects(c.getAccessToken(), { code: 'WECHAT_CREDENTIALS_INVALID', errcode: 40001 })
  await t.rejects(c.getStableAccessToken(), { code: 'WECHAT_CREDENTIALS_INVALID', errcode: 40001 })
  await t.rejects(c.checkSessionKey({ accessToken: TOKEN, openid: 'o', sessionKey: SESSION_KEY }), { code: 'WECHAT_TOKEN_INVALID', errcode: 40001 })
})

t.test('-1 is retried with back-off, then succeeds', async (t) => {
  const { url, seen } = await startWechat(t, (_req, n) => n <= 2 ? { json: { errcode: -1, errmsg: 'system error' } } : { json: { openid: 'o', session_key: SESSION_KEY } })
  const delays: number[] = []
  const c = client(t, url, { retries: 3, retryBaseDelayMs: 100, sleep: async (ms) => { delays.push(ms) } })
  // Even the single-use code is retried: -1 means WeChat did not act on the call.
  t.same(await c.code2Session('c'), { openid: 'o', sessionKey: SESSION_KEY })
  t.equal(seen.length, 3)
  t.equal(delays.length, 2)
  t.ok(delays[0]! >= 50 && delays[0]! <= 100, `first delay ${delays[0]} in [50, 100]`)
  t.ok(delays[1]! >= 100 && delays[1]! <= 200, `second delay ${delays[1]} in [100, 200]`)
})

t.test('-1 with real sleeps', async (t) => {
  const { url, seen } = await startWechat(t, (_req, n) => n === 1 ? { json: { errcode: -1, errmsg: 'busy' } } : { json: { access_token: 'T', expires_in: 7200 } })
  const c = client(t, url, { retryBaseDelayMs: 20 })
  const started = Date.now()
  t.same(await c.getStableAccessToken(), { accessToken: 'T', expiresIn: 7200 })
  t.equal(seen.length, 2)
  t.ok(Date.now() - started >= 10, 'it waited before retrying')
})

t.test('-1 exhausted becomes BusyError', async (t) => {
  const { url, seen } = await startWechat(t, () => ({ json: { errcode: -1, errmsg: 'system error' } }))
  const c = client(t, url, { retries: 2 })
  const err = await thrown(t, () => c.getAccessToken())
  t.match(err, { code: 'WECHAT_BUSY', statusCode: 503, errcode: -1, errmsg: 'system error' })
  t.equal(seen.length, 3, '1 attempt + 2 retries')
  const none = client(t, url, { retries: 0 })
  await t.rejects(none.getAccessToken(), { code: 'WECHAT_BUSY' })
  t.equal(seen.length, 4)
})

t.test('timeouts become TimeoutError; only idempotent calls repeat them', async (t) => {
  const { url, seen } = await startWechat(t, () => ({ delayMs: 1000, json: { openid: 'o', session_key: SESSION_KEY, access_token: 'T', expires_in: 1 } }))
  const c = client(t, url, { timeoutMs: 100, retries: 1 })
  const started = Date.now()
  const err = await thrown(t, () => c.getAccessToken())
  t.match(err, { code: 'WECHAT_TIMEOUT', statusCode: 504 })
  t.notOk('errcode' in err)
  t.equal(seen.length, 2, 'GET /cgi-bin/token was tried twice')
  t.ok(Date.now() - started < 900, 'each attempt gave up after timeoutMs')
  await t.rejects(c.code2Session('single-use'), { code: 'WECHAT_TIMEOUT' })
  t.equal(seen.length, 3, 'the single-use code was sent once')
})

t.test('connection refused becomes UnavailableError after retries', async (t) => {
  // A port that was just free: nothing listens there any more.
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const deadUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`
  await new Promise((resolve) => probe.close(resolve))
  let sleeps = 0
  const c = client(t, deadUrl, { retries: 2, sleep: async () => { sleeps++ } })
  const err = await thrown(t, () => c.code2Session('c'))
  t.match(err, { code: 'WECHAT_UNAVAILABLE', statusCode: 502 })
  t.match(err.message, /ECONNREFUSED/)
  t.equal(sleeps, 2, 'connect failures are retried even for single-use calls: nothing was sent')
})

t.test('a reset connection is repeated only for idempotent calls', async (t) => {
  const { url, seen } = await startWechat(t, () => ({ destroy: true }))
  const c = client(t, url, { retries: 2 })
  await t.rejects(c.getAccessToken(), { code: 'WECHAT_UNAVAILABLE' })
  t.equal(seen.length, 3)
  await t.rejects(c.getUserPhoneNumber({ accessToken: TOKEN, code: 'pc' }), { code: 'WECHAT_UNAVAILABLE' })
  t.equal(seen.length, 4)
})

t.test('non-JSON answers', async (t) => {
  const { url, seen } = await startWechat(t, (req) => req.path === '/cgi-bin/token'
    ? { status: 502, text: '<html>Bad Gateway</html>' }
    : { status: 200, text: 'hello', contentType: 'text/plain' })
  const c = client(t, url, { retries: 1 })
  const err = await thrown(t, () => c.getAccessToken())
  t.match(err, { code: 'WECHAT_UNAVAILABLE' })
  t.match(err.message, /non-JSON answer \(HTTP 502, text\/html\) from \/cgi-bin\/token/)
  t.equal(seen.length, 2)
  await t.rejects(c.getUserPhoneNumber({ accessToken: TOKEN, code: 'x' }), { code: 'WECHAT_UNAVAILABLE', message: /non-JSON answer \(HTTP 200/ })
  t.equal(seen.length, 3, 'not repeated: the phone code is single use')
})

t.test('secret, access_token and session_key never appear in errors', async (t) => {
  // The worst case: WeChat echoing the whole request back in errmsg.
  const { url } = await startWechat(t, (req) => {
    if (req.path === '/slow') return { delayMs: 500, json: {} }
    return { json: { errcode: req.path === '/sns/jscode2session' ? 40029 : req.path === '/cgi-bin/token' ? -1 : 40001, errmsg: `echo ${req.path}?${req.query.toString()} ${req.body} ${decodeURIComponent(req.query.toString())}` } }
  })
  const c = client(t, url, { retries: 1, timeoutMs: 100 })
  const errors = [
    await thrown(t, () => c.code2Session('c')),
    await thrown(t, () => c.getAccessToken()),
    await thrown(t, () => c.getStableAccessToken()),
    await thrown(t, () => c.checkSessionKey({ accessToken: TOKEN, openid: 'o', sessionKey: SESSION_KEY })),
    await thrown(t, () => c.getUserPhoneNumber({ accessToken: TOKEN, code: 'pc' })),
    await thrown(t, () => c.callJson('GET', '/slow', { accessToken: TOKEN, query: { secret: SECRET } }))
  ]
  const dead = client(t, 'http://127.0.0.1:1', { retries: 0 })
  errors.push(await thrown(t, () => dead.callJson('GET', '/cgi-bin/token', { accessToken: TOKEN, query: { secret: SECRET } })))
  for (const err of errors) {
    const text = [String(err), err.message, err.errmsg ?? '', err.stack ?? '', JSON.stringify(err), String(err.cause?.message ?? '')].join('\n')
    for (const secret of [SECRET, encodeURIComponent(SECRET), TOKEN, SESSION_KEY, encodeURIComponent(SESSION_KEY)]) {
      t.notOk(text.includes(secret), `${err.code} does not reveal ${secret.slice(0, 8)}…`)
    }
  }
  t.match(errors[0].errmsg, /\*\*\*/, 'errmsg is kept, with the secret masked')
})

t.test('callJson: base path prefix, custom paths, dispatcher handed in', async (t) => {
  const { url, seen } = await startWechat(t, () => ({ json: { errcode: 0, errmsg: 'ok', msgid: 1 } }))
  const agent = new Agent()
  t.teardown(() => agent.close())
  const c = new WechatClient({ appId: APP_ID, appSecret: SECRET, baseUrl: `${url}/wx-proxy/`, dispatcher: agent })
  t.same(await c.callJson('POST', '/cgi-bin/message/custom/send', { accessToken: TOKEN, body: { touser: 'o', msgtype: 'text', text: { content: 'hi' } } }),
    { errcode: 0, errmsg: 'ok', msgid: 1 })
  t.equal(seen[0]!.path, '/wx-proxy/cgi-bin/message/custom/send')
  t.equal(seen[0]!.query.get('access_token'), TOKEN)
  t.same(JSON.parse(seen[0]!.body), { touser: 'o', msgtype: 'text', text: { content: 'hi' } })
  await t.rejects(c.callJson('GET', 'no-slash'), TypeError)
  await t.rejects(c.callJson('GET', '/a?b=c'), TypeError)
  await c.close()
  await t.rejects(c.callJson('GET', '/x'), { code: 'WECHAT_CLOSED' })
  // The agent belongs to the test: still usable after the client closed.
  const res = await agent.request({ origin: url, path: '/still-open', method: 'GET' })
  await res.body.text()
  t.equal(res.statusCode, 200)
})

t.test('close() closes the private pool', async (t) => {
  const { url } = await startWechat(t, () => ({ json: { access_token: 'T', expires_in: 7200 } }))
  const c = new WechatClient({ appId: APP_ID, appSecret: SECRET, baseUrl: url })
  await c.getAccessToken()
  await c.close()
  await c.close() // idempotent
  await t.rejects(c.getAccessToken(), { code: 'WECHAT_CLOSED' })
})
