import { hash } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { decodeIdentity } from '@weapp/common'
import t from 'tap'
import { request as undiciRequest } from 'undici'
import { DEFAULT_ADMIN_UPLOAD_LIMIT, MULTIPART_OVERHEAD } from '../src/config.js'
import { ADMIN_API_KEYS, ADMIN_KEY, BEARER, BOT_KEY, adminBearer, bearer, startHarness, type Harness } from './fixtures/gateway.js'

// The cs-messaging upstream: WeChat's push URL (public, raw bodies, 64 KiB) and the admin API
// (admin keys, multipart uploads, streamed downloads), against a stand-in that records raw bytes.

const PUSH_LIMIT = 64 * 1024

/** Released by the streaming test: the stand-in's download holds its last chunk until then. */
let releaseStream: () => void = () => {}
const STREAM_FIRST = 300 * 1024
const STREAM_REST = 200 * 1024

const h = await startHarness({
  env: { ADMIN_API_KEYS },
  cs: {
    routes: (app) => {
      app.get('/api/cs/media/held', (_req, reply) => {
        // chunked, no content-length: the first part now, the rest when the test says so
        reply.hijack()
        reply.raw.writeHead(200, { 'content-type': 'image/png', 'content-disposition': 'attachment; filename="held.png"' })
        reply.raw.write(Buffer.alloc(STREAM_FIRST, 1))
        new Promise<void>((resolve) => { releaseStream = resolve }).then(() => { reply.raw.end(Buffer.alloc(STREAM_REST, 2)) }, () => {})
      })
      app.get('/api/cs/media/big', async (_req, reply) => {
        const body = Buffer.alloc(3 * 1024 * 1024)
        for (let i = 0; i < body.length; i++) body[i] = i % 251
        return await reply.type('image/jpeg').header('content-disposition', 'attachment; filename="big.jpg"').send(body)
      })
    }
  }
})
t.teardown(h.close)

function lastCs (h: Harness): { method: string, url: string, headers: Record<string, string | string[] | undefined>, body: Buffer } {
  const last = h.cs.requests.at(-1)
  if (last === undefined) throw new Error('cs-messaging received nothing')
  return last
}

function identityOf (h: Harness): unknown {
  const value = lastCs(h).headers['x-weapp-identity']
  return typeof value === 'string' ? decodeIdentity(value) : undefined
}

/** A request written exactly as given (raw node:http), optionally with a chunked body. */
async function rawSend (base: string, path: string, init: { method?: string, headers?: Record<string, string>, chunks?: Buffer[] }): Promise<{ status: number, text: string }> {
  const { hostname, port } = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: init.method ?? 'POST', headers: init.headers, agent: false }, (res) => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    for (const chunk of init.chunks ?? []) req.write(chunk)
    req.end()
  })
}

/** A WeChat-style push query: signatures and the rest, some values needing percent-encoding. */
const PUSH_QUERY = '?signature=4f5c0e0f6b0a3c0d1e2f3a4b5c6d7e8f90a1b2c3&timestamp=1700000000&nonce=1234567890' +
  '&openid=oUser_ABC-123&encrypt_type=aes&msg_signature=0a1b2c3d4e5f60718293a4b5c6d7e8f901234567&x=a%2Bb%20c&x=2&empty='

const SAFE_XML = '<xml>\r\n  <ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>\n' +
  '  <Encrypt><![CDATA[q1w2e3r4t5y6u7i8o9p0+/==ZmFrZSBjaXBoZXJ0ZXh0IGZvciB0aGUgdGVzdA==]]></Encrypt>\n</xml>  \n'
const PLAIN_XML = '<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oUser]]></FromUserName>' +
  '<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好 <b>&amp; "quotes" \u00e9\u{1F600}]]></Content>' +
  '<MsgId>6054768590064713728</MsgId></xml>'
// Integers past 2^53, an exponent no double holds, a decimal with more digits than a double, duplicate keys, odd spacing:
// any JSON.parse/stringify on the way would change these bytes.
const HUGE_JSON = '{"ToUserName":"gh_0123456789ab","MsgId":6054768590064713728,"CreateTime":1700000000, "Big":123456789012345678901234567890,' +
  '"Exp":1e400,"Dec":0.10000000000000000000001,"Dup":1,"Dup":2 ,"Esc":"\\u00e9\\ud83d\\ude00"}\n'

t.test('push routes: the raw body and the query reach cs-messaging byte for byte, whatever the content type', async (t) => {
  const bodies: Array<[string | undefined, Buffer]> = [
    ['text/xml', Buffer.from(SAFE_XML)],
    ['text/xml; charset=utf-8', Buffer.from(PLAIN_XML)],
    ['application/xml', Buffer.from(PLAIN_XML)],
    ['application/json', Buffer.from(HUGE_JSON)],
    ['application/json; charset=utf-8', Buffer.from(HUGE_JSON)],
    ['text/plain', Buffer.from('just text\r\n')],
    ['application/x-www-form-urlencoded', Buffer.from('a=1&b=%20&a=2')],
    ['application/octet-stream', Buffer.from([0, 255, 254, 0x80, 0xc3, 0x28, 10, 13])],
    ['text/xml; charset=gbk', Buffer.from([0x3c, 0x78, 0x3e, 0xc4, 0xe3, 0xba, 0xc3, 0x3c, 0x2f, 0x78, 0x3e])],
    [undefined, Buffer.from(PLAIN_XML)]
  ]
  for (const path of ['/wechat/callback', '/weapp/message']) {
    for (const [type, body] of bodies) {
      const headers: Record<string, string> = { 'content-length': String(body.length) }
      if (type !== undefined) headers['content-type'] = type
      const res = await rawSend(h.url, path + PUSH_QUERY, { headers, chunks: [body] })
      t.equal(res.status, 200, `${path} ${type ?? '(no content-type)'}`)
      t.equal(res.text, 'success', 'the upstream\'s answer comes back')
      const got = lastCs(h)
      t.equal(got.method, 'POST')
      t.equal(got.url, path + PUSH_QUERY, 'query intact, percent-encoding and repeats included')
      t.ok(got.body.equals(body), `body byte-identical (${type ?? 'none'})`)
      t.equal(got.headers['content-type'], type, 'content type as sent')
      t.equal(got.headers['content-length'], String(body.length))
      t.equal(got.headers['x-internal-token'], h.config.INTERNAL_TOKEN)
      t.equal(got.headers['x-weapp-identity'], undefined, 'no identity: WeChat\'s signatures are the authentication')
    }
  }
})

t.test('push routes: a chunked body arrives whole and unchanged', async (t) => {
  const body = Buffer.from(PLAIN_XML)
  const res = await rawSend(h.url, '/wechat/callback' + PUSH_QUERY, {
    headers: { 'content-type': 'text/xml', 'transfer-encoding': 'chunked' },
    chunks: [body.subarray(0, 7), body.subarray(7, 100), body.subarray(100)]
  })
  t.equal(res.status, 200)
  t.ok(lastCs(h).body.equals(body))
  t.equal(lastCs(h).headers['transfer-encoding'], undefined)
  t.equal(lastCs(h).headers['content-length'], String(body.length))
})

t.test('push routes: GET (URL verification) keeps its query; credentials are neither needed nor looked at', async (t) => {
  const resolves = h.upstream.resolveCalls.length
  const res = await h.call('/wechat/callback?signature=abc&timestamp=1700000000&nonce=42&echostr=8361049571%2B%3D', { headers: bearer('not-a-session') })
  t.equal(res.status, 200)
  t.equal(res.text, '8361049571+=', 'echostr as the upstream answered it')
  t.equal(lastCs(h).url, '/wechat/callback?signature=abc&timestamp=1700000000&nonce=42&echostr=8361049571%2B%3D')
  t.equal(lastCs(h).method, 'GET')
  t.equal(h.upstream.resolveCalls.length, resolves, 'no session lookup')
  const verify = await h.call('/weapp/message?echostr=x')
  t.equal(verify.text, 'x')
  for (const method of ['PUT', 'DELETE', 'PATCH']) {
    t.equal((await h.call('/wechat/callback', { method })).status, 404, `${method} is not a push route`)
  }
})

t.test('push routes: pipelined on few upstream connections, every answer goes back to its own push', async (t) => {
  // The stand-in finishes them in a scrambled order: pipelining must still pair answers and pushes.
  const few = await startHarness({ env: { UPSTREAM_CONNECTIONS: '2', UPSTREAM_PIPELINING: '8' }, cs: { pushDelayMs: (body) => body[body.length - 1]! % 7 } })
  t.teardown(few.close)
  const bodies = Array.from({ length: 40 }, (_, i) => Buffer.from(PLAIN_XML.replace('6054768590064713728', String(6054768590064713728n + BigInt(i))) + String.fromCharCode(48 + (i % 10))))
  const answers = await Promise.all(bodies.map(async (body, i) => await few.call(`/wechat/callback?nonce=${i}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body })))
  answers.forEach((res, i) => {
    t.equal(res.status, 200)
    t.equal(res.text, 'success')
    t.equal(res.headers['x-body-sha256'], hash('sha256', bodies[i]!, 'hex'), `answer ${i} is the answer to push ${i}`)
  })
  t.equal(few.cs.requests.length, 40, 'each push forwarded once')
  const sockets = new Set(few.cs.requests.map((r) => r.remotePort))
  t.ok(sockets.size <= 2, `on ${sockets.size} upstream connection(s)`)

  // One upstream connection, pushes that take 200 ms each: pipelined, they are handled side by side.
  const one = await startHarness({ env: { UPSTREAM_CONNECTIONS: '1', UPSTREAM_PIPELINING: '8' }, cs: { pushDelayMs: () => 200 } })
  t.teardown(one.close)
  const started = Date.now()
  const slow = await Promise.all(Array.from({ length: 8 }, async (_, i) => await one.call(`/weapp/message?nonce=${i}`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: `<xml>${i}</xml>` })))
  const elapsed = Date.now() - started
  t.ok(slow.every((r) => r.status === 200 && r.text === 'success'))
  t.ok(elapsed < 1000, `8 pushes of 200 ms on one connection took ${elapsed} ms (one after another: 1600 ms)`)
})

t.test('push routes: over 64 KiB is a 413 in the JSON error shape and never reaches cs-messaging', async (t) => {
  const exact = Buffer.alloc(PUSH_LIMIT, 0x61)
  const ok = await h.call('/wechat/callback?nonce=1', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: exact })
  t.equal(ok.status, 200, 'exactly 64 KiB passes')
  t.ok(lastCs(h).body.equals(exact))

  const before = h.cs.requests.length
  const big = await h.call('/wechat/callback?nonce=2', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: Buffer.alloc(PUSH_LIMIT + 1, 0x61) })
  t.equal(big.status, 413)
  t.same(big.json(), { statusCode: 413, code: 'GATEWAY_BODY_TOO_LARGE', error: 'Payload Too Large', message: `Request body is larger than ${PUSH_LIMIT} bytes` })
  const chunked = await rawSend(h.url, '/weapp/message?nonce=3', {
    headers: { 'content-type': 'text/xml', 'transfer-encoding': 'chunked' },
    chunks: [Buffer.alloc(40 * 1024, 0x62), Buffer.alloc(40 * 1024, 0x62)]
  })
  t.equal(chunked.status, 413, 'chunked, no length announced: cut at the limit')
  t.equal(JSON.parse(chunked.text).code, 'GATEWAY_BODY_TOO_LARGE')
  t.equal(h.cs.requests.length, before, 'nothing forwarded')
})

t.test('the push limit is its own setting, independent of BODY_LIMIT', async (t) => {
  const wide = await startHarness({ env: { BODY_LIMIT: String(256 * 1024) } })
  t.teardown(wide.close)
  const res = await wide.call('/wechat/callback', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: Buffer.alloc(PUSH_LIMIT + 1) })
  t.equal(res.status, 413, 'pushes stay at PUSH_BODY_LIMIT')
  const raised = await startHarness({ env: { PUSH_BODY_LIMIT: String(128 * 1024) } })
  t.teardown(raised.close)
  t.equal((await raised.call('/wechat/callback', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: Buffer.alloc(PUSH_LIMIT + 1) })).status, 200)
  t.equal((await raised.call('/api/login', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: Buffer.alloc(PUSH_LIMIT + 1) })).status, 413, 'other routes keep BODY_LIMIT')
})

t.test('admin routes: a configured admin key is forwarded as { kind: admin, keyId }, the key itself is not', async (t) => {
  const forged = Buffer.from(JSON.stringify({ kind: 'admin', keyId: 'forged' })).toString('base64url')
  const res = await h.call('/api/cs/conversations?limit=5&before=abc%3D%3D', { headers: { ...adminBearer(), 'x-weapp-identity': forged, 'x-internal-token': 'forged' } })
  t.equal(res.status, 200)
  const got = lastCs(h)
  t.equal(got.url, '/api/cs/conversations?limit=5&before=abc%3D%3D', 'path and query unchanged')
  t.same(identityOf(h), { kind: 'admin', keyId: 'ops' })
  t.equal(got.headers['x-internal-token'], h.config.INTERNAL_TOKEN)
  t.equal(got.headers.authorization, undefined, 'the admin key stops at the gateway')

  const bot = await h.call('/api/cs/messages', { method: 'POST', headers: { authorization: `bearer ${BOT_KEY}`, 'content-type': 'application/json' }, body: HUGE_JSON })
  t.equal(bot.status, 200, 'the scheme is case-insensitive')
  t.same(identityOf(h), { kind: 'admin', keyId: 'bot' }, 'each key its own id')
  t.ok(lastCs(h).body.equals(Buffer.from(HUGE_JSON)), 'JSON bodies are not parsed on the way')

  for (const [method, path] of [['GET', '/api/cs/conversations/oUser/messages'], ['POST', '/api/cs/typing'], ['GET', '/api/cs/dead-letters'], ['POST', '/api/cs/dead-letters/1-0/replay'], ['GET', '/api/cs/media/MEDIA_ID']] as const) {
    const r = await h.call(path, { method, headers: adminBearer(), ...(method === 'POST' ? { body: '{}' } : {}) })
    t.equal(r.status, 200, `${method} ${path}`)
    t.equal(lastCs(h).url, path)
    t.same(identityOf(h), { kind: 'admin', keyId: 'ops' })
  }
})

t.test('admin routes: no key, another scheme, a wrong key or a user\'s session token are 401 and never forwarded', async (t) => {
  const before = h.cs.requests.length
  const resolves = h.upstream.resolveCalls.length
  const missing = await h.call('/api/cs/conversations')
  t.equal(missing.status, 401)
  t.same(missing.json(), { statusCode: 401, code: 'GATEWAY_AUTH_REQUIRED', error: 'Unauthorized', message: 'Authentication required: send Authorization: Bearer <admin key>' })
  for (const headers of [{ authorization: `Basic ${Buffer.from(`ops:${ADMIN_KEY}`).toString('base64')}` }, { authorization: 'Bearer ' }, { authorization: ADMIN_KEY }, { 'x-wx-skey': 'c'.repeat(40) }] as Array<Record<string, string>>) {
    const res = await h.call('/api/cs/conversations', { headers })
    t.equal(res.status, 401, JSON.stringify(Object.keys(headers)))
    t.equal(res.json().code, 'GATEWAY_AUTH_REQUIRED')
  }
  const invalid = [
    'wrong-key-0123456789abcdef0123456789abcdef',
    ADMIN_KEY.slice(0, -1),
    ADMIN_KEY + 'x',
    ADMIN_KEY.toUpperCase(),
    `ops:${ADMIN_KEY}`,
    'k'.repeat(600),
    BEARER // a valid user session: still not an admin key
  ]
  for (const key of invalid) {
    const res = await h.call('/api/cs/messages', { method: 'POST', headers: { ...adminBearer(key), 'content-type': 'application/json' }, body: '{}' })
    t.equal(res.status, 401, key.slice(0, 12))
    t.same(res.json(), { statusCode: 401, code: 'GATEWAY_ADMIN_KEY_INVALID', error: 'Unauthorized', message: 'Admin key invalid' })
    t.notMatch(res.text, key, 'the presented key is not echoed')
  }
  t.equal(h.cs.requests.length, before, 'no refused request reached cs-messaging')
  t.equal(h.upstream.resolveCalls.length, resolves, 'admin routes never ask the session service')
  t.equal((await h.call('/api/me', { headers: bearer() })).status, 200, 'the user token is fine where it belongs')
  t.equal((await h.call('/api/me', { headers: adminBearer() })).status, 401, 'and an admin key is no user session')
})

t.test('admin routes: a refused upload is answered before its body is read', async (t) => {
  const before = h.cs.requests.length
  const res = await rawSend(h.url, '/api/cs/media', {
    headers: { 'content-type': 'multipart/form-data; boundary=x', 'content-length': String(DEFAULT_ADMIN_UPLOAD_LIMIT) },
    chunks: [Buffer.alloc(64 * 1024)] // far less than announced: a gateway reading the body would wait
  })
  t.equal(res.status, 401)
  t.equal(JSON.parse(res.text).code, 'GATEWAY_AUTH_REQUIRED')
  t.equal(h.cs.requests.length, before)
})

t.test('admin routes: other bodies keep BODY_LIMIT', async (t) => {
  const before = h.cs.requests.length
  const res = await h.call('/api/cs/messages', { method: 'POST', headers: { ...adminBearer(), 'content-type': 'application/json' }, body: Buffer.alloc(h.config.BODY_LIMIT + 1, 0x20) })
  t.equal(res.status, 413)
  t.equal(res.json().message, `Request body is larger than ${h.config.BODY_LIMIT} bytes`)
  const media = await h.call('/api/cs/media/whatever', { method: 'POST', headers: adminBearer(), body: Buffer.alloc(h.config.BODY_LIMIT + 1) })
  t.equal(media.status, 413, 'only POST /api/cs/media itself takes uploads')
  t.equal(h.cs.requests.length, before)
})

/** A multipart/form-data body with a few text fields and one file, as a browser or curl -F sends it. */
function multipart (file: Buffer, boundary = '----weappBoundary7MA4YWxkTrZu0gW'): { body: Buffer, contentType: string } {
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n` +
    `--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="photo.png"\r\nContent-Type: image/png\r\n\r\n`
  const tail = `\r\n--${boundary}--\r\n`
  return { body: Buffer.concat([Buffer.from(head), file, Buffer.from(tail)]), contentType: `multipart/form-data; boundary=${boundary}` }
}

function pngOf (size: number): Buffer {
  const file = Buffer.alloc(size)
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(file)
  for (let i = 8; i < size; i++) file[i] = (i * 31) % 256
  return file
}

t.test('POST /api/cs/media: a multipart upload up to ADMIN_UPLOAD_LIMIT passes through intact', async (t) => {
  t.equal(h.config.ADMIN_UPLOAD_LIMIT, DEFAULT_ADMIN_UPLOAD_LIMIT, '2 MiB by default')
  const { body, contentType } = multipart(pngOf(DEFAULT_ADMIN_UPLOAD_LIMIT))
  t.ok(body.length > h.config.BODY_LIMIT)
  const res = await h.call('/api/cs/media?x=1', { method: 'POST', headers: { ...adminBearer(), 'content-type': contentType }, body })
  t.equal(res.status, 200)
  t.match(res.json(), { upstream: 'cs-messaging', url: '/api/cs/media?x=1', bodyLength: body.length, bodySha256: hash('sha256', body, 'hex') })
  const got = lastCs(h)
  t.equal(got.headers['content-type'], contentType, 'the boundary is kept')
  t.ok(got.body.equals(body), 'byte-identical')
  t.same(identityOf(h), { kind: 'admin', keyId: 'ops' })

  const before = h.cs.requests.length
  const tooBig = Buffer.alloc(DEFAULT_ADMIN_UPLOAD_LIMIT + MULTIPART_OVERHEAD + 1)
  const refused = await h.call('/api/cs/media', { method: 'POST', headers: { ...adminBearer(), 'content-type': contentType }, body: tooBig })
  t.equal(refused.status, 413)
  t.same(refused.json(), { statusCode: 413, code: 'GATEWAY_BODY_TOO_LARGE', error: 'Payload Too Large', message: `Request body is larger than ${DEFAULT_ADMIN_UPLOAD_LIMIT + MULTIPART_OVERHEAD} bytes` })
  t.equal(h.cs.requests.length, before, 'not forwarded')
})

t.test('ADMIN_UPLOAD_LIMIT sets the upload route\'s limit', async (t) => {
  const small = await startHarness({ env: { ADMIN_API_KEYS, ADMIN_UPLOAD_LIMIT: String(100 * 1024) } })
  t.teardown(small.close)
  const fits = multipart(pngOf(100 * 1024))
  const ok = await small.call('/api/cs/media', { method: 'POST', headers: { ...adminBearer(), 'content-type': fits.contentType }, body: fits.body })
  t.equal(ok.status, 200)
  t.ok(small.cs.requests.at(-1)?.body.equals(fits.body))
  const over = multipart(pngOf(100 * 1024 + MULTIPART_OVERHEAD))
  const refused = await small.call('/api/cs/media', { method: 'POST', headers: { ...adminBearer(), 'content-type': over.contentType }, body: over.body })
  t.equal(refused.status, 413)
})

t.test('GET /api/cs/media/:id streams: the first bytes reach the client before the upstream has finished', async (t) => {
  const response = await undiciRequest(`${h.url}/api/cs/media/held`, { headers: adminBearer() })
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], 'image/png')
  t.equal(response.headers['content-disposition'], 'attachment; filename="held.png"')
  let received = 0
  let released = false
  for await (const chunk of response.body) {
    received += (chunk as Buffer).length
    if (!released && received >= STREAM_FIRST) {
      t.pass('the first part arrived while the upstream still held the rest')
      released = true
      releaseStream()
    }
  }
  t.ok(released)
  t.equal(received, STREAM_FIRST + STREAM_REST)

  const big = await undiciRequest(`${h.url}/api/cs/media/big`, { headers: adminBearer() })
  const data = Buffer.from(await big.body.arrayBuffer())
  t.equal(big.statusCode, 200)
  t.equal(big.headers['content-length'], String(3 * 1024 * 1024))
  t.equal(data.length, 3 * 1024 * 1024)
  t.ok(data.every((b, i) => b === i % 251), 'a large download arrives intact')
})

t.test('no ADMIN_API_KEYS: the admin API is disabled (503), the push URL keeps working', async (t) => {
  const off = await startHarness()
  t.teardown(off.close)
  for (const headers of [{}, adminBearer(), bearer()]) {
    const res = await off.call('/api/cs/conversations', { headers })
    t.equal(res.status, 503)
    t.same(res.json(), { statusCode: 503, code: 'GATEWAY_ADMIN_DISABLED', error: 'Service Unavailable', message: 'The admin API is disabled: no admin key is configured on the gateway (set ADMIN_API_KEYS)' })
  }
  t.equal(off.cs.requests.length, 0, 'nothing forwarded')
  t.equal((await off.call('/wechat/callback', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: PLAIN_XML })).text, 'success')
})

t.test('cs-messaging down: 502 for pushes and the admin API alike; /readyz names it', async (t) => {
  const down = await startHarness({ env: { ADMIN_API_KEYS } })
  t.teardown(down.close)
  await down.cs.close()
  const push = await down.call('/wechat/callback', { method: 'POST', headers: { 'content-type': 'text/xml' }, body: PLAIN_XML })
  t.equal(push.status, 502)
  t.same(push.json(), { statusCode: 502, code: 'GATEWAY_UPSTREAM_UNAVAILABLE', error: 'Bad Gateway', message: 'Upstream cs-messaging is unavailable' })
  t.equal((await down.call('/api/cs/conversations', { headers: adminBearer() })).status, 502)
  const ready = await down.call('/readyz')
  t.equal(ready.status, 503)
  t.same(ready.json(), { status: 'unavailable', down: ['cs-messaging'], upstreams: { session: 'up', 'cs-messaging': 'down', realtime: 'up' } })
})

t.test('metrics count the cs-messaging routes as their own group', async (t) => {
  const text = (await h.call('/metrics')).text
  t.match(text, /gateway_http_requests_total\{group="cs-messaging",status_class="2xx"\} \d+\n/)
  t.match(text, /gateway_http_requests_total\{group="cs-messaging",status_class="4xx"\} \d+\n/)
  t.notMatch(text, ADMIN_KEY)
})
