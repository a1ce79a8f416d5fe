import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { dispositionFilename, errorFromErrcode, WechatClient, type CustomMessage } from '../src/index.js'

const APP_ID = 'wx1111111111111111'
const SECRET = 'the-app-secret-0123456789abcdef'
const TOKEN = 'ACCESS_TOKEN_abcdefghijklmnopqrstuvwxyz'
const OPENID = 'oAlicexxxxxxxxxxxxxxxxxxxxxx'

interface Seen { method: string, path: string, query: URLSearchParams, body: Buffer, headers: IncomingMessage['headers'] }
interface Answer { status?: number, body?: string | Buffer, headers?: Record<string, string>, delayMs?: number, destroy?: boolean }

/** A canned WeChat on port 0: raw bodies both ways (multipart in, files out). */
async function startWechat (t: Test, handler: (req: Seen, n: number) => Answer): Promise<{ url: string, seen: Seen[] }> {
  const seen: Seen[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x')
      const s: Seen = { method: req.method ?? '', path: url.pathname, query: url.searchParams, body: Buffer.concat(chunks), headers: req.headers }
      seen.push(s)
      const a = handler(s, seen.length)
      const send = (): void => {
        if (a.destroy === true) { req.socket.destroy(); return }
        if (res.destroyed) return
        res.writeHead(a.status ?? 200, a.headers ?? { 'content-type': 'application/json' })
        res.end(a.body ?? '{"errcode":0,"errmsg":"ok"}')
      }
      if (a.delayMs !== undefined) setTimeout(send, a.delayMs).unref()
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

function client (t: Test, url: string, options: { timeoutMs?: number, retries?: number } = {}): WechatClient {
  const c = new WechatClient({ appId: APP_ID, appSecret: SECRET, baseUrl: url, retryBaseDelayMs: 1, timeoutMs: 2000, ...options })
  t.teardown(() => c.close())
  return c
}

const json = (value: unknown): Answer => ({ body: JSON.stringify(value) })

t.test('sendCustomMessage: body per msgtype, business path with businessid', async (t) => {
  const { url, seen } = await startWechat(t, () => json({ errcode: 0, errmsg: 'ok' }))
  const c = client(t, url)
  const messages: CustomMessage[] = [
    { msgtype: 'text', text: { content: 'hi <a href="https://e.com">x</a>' } },
    { msgtype: 'image', image: { media_id: 'M1' } },
    { msgtype: 'link', link: { title: 'T', description: 'D', url: 'https://e.com', thumb_url: 'https://e.com/t.png' } },
    { msgtype: 'miniprogrampage', miniprogrampage: { title: 'T', pagepath: 'pages/index/index?foo=bar', thumb_media_id: 'M2' } }
  ]
  for (const message of messages) t.equal(await c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message }), undefined)
  for (const [i, message] of messages.entries()) {
    const s = seen[i]!
    t.equal(s.method, 'POST')
    t.equal(s.path, '/cgi-bin/message/custom/send')
    t.same(Object.fromEntries(s.query), { access_token: TOKEN })
    t.match(s.headers['content-type'], /^application\/json/)
    t.same(JSON.parse(s.body.toString()), { touser: OPENID, ...message })
  }
  // Extra keys are not forwarded: only what WeChat defines for the msgtype.
  await c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content: 'x', extra: 1 }, other: 2 } as never, businessId: 'shop-1' })
  const b = seen[4]!
  t.equal(b.path, '/cgi-bin/message/custom/business/send')
  t.same(JSON.parse(b.body.toString()), { touser: OPENID, msgtype: 'text', text: { content: 'x' }, businessid: 'shop-1' })
  await c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: messages[0]!, businessId: 12 })
  t.equal(JSON.parse(seen[5]!.body.toString()).businessid, 12)
})

t.test('invalid messages are refused before anything is sent', async (t) => {
  const { url, seen } = await startWechat(t, () => json({ errcode: 0 }))
  const c = client(t, url)
  const bad: Array<[string, unknown, unknown?]> = [
    ['no touser', { msgtype: 'text', text: { content: 'x' } }, ''],
    ['unknown msgtype', { msgtype: 'voice', voice: { media_id: 'x' } }],
    ['no msgtype', {}],
    ['null message', null],
    ['empty content', { msgtype: 'text', text: { content: '' } }],
    ['missing content object', { msgtype: 'image' }],
    ['link without thumb_url', { msgtype: 'link', link: { title: 'T', description: 'D', url: 'u' } }],
    ['page with a numeric title', { msgtype: 'miniprogrampage', miniprogrampage: { title: 1, pagepath: 'p', thumb_media_id: 'm' } }]
  ]
  for (const [name, message, touser] of bad) {
    await t.rejects(c.sendCustomMessage({ accessToken: TOKEN, touser: (touser ?? OPENID) as string, message: message as CustomMessage }), { code: 'WECHAT_REQUEST_INVALID', statusCode: 400 }, name)
  }
  await t.rejects(c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content: 'x' } }, businessId: '' }), { code: 'WECHAT_REQUEST_INVALID' })
  await t.rejects(c.setTyping({ accessToken: TOKEN, touser: '', command: 'Typing' }), { code: 'WECHAT_REQUEST_INVALID' })
  t.equal(seen.length, 0)
})

t.test('customer-service errcodes become their typed errors', async (t) => {
  const { url } = await startWechat(t, (req) => {
    const want = Number(JSON.parse(req.body.toString()).text.content)
    return json({ errcode: want, errmsg: `message ${want} rid: abc` })
  })
  const c = client(t, url)
  const expected: Array<[number, string, number]> = [
    [45015, 'WECHAT_SEND_WINDOW_CLOSED', 409],
    [45047, 'WECHAT_SEND_QUOTA_EXCEEDED', 429],
    [40003, 'WECHAT_OPENID_INVALID', 400],
    [48001, 'WECHAT_API_UNAUTHORIZED', 502],
    [45080, 'WECHAT_TYPING_NO_INTERACTION', 409],
    [45081, 'WECHAT_TYPING_ALREADY_ACTIVE', 409],
    [45072, 'WECHAT_TYPING_COMMAND_INVALID', 400],
    [40007, 'WECHAT_MEDIA_INVALID', 400],
    [40004, 'WECHAT_MEDIA_TYPE_INVALID', 400],
    [40101, 'WECHAT_API_ERROR', 502],
    [40001, 'WECHAT_TOKEN_INVALID', 502]
  ]
  for (const [errcode, code, statusCode] of expected) {
    const err = await c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content: String(errcode) } } }).catch((e: unknown) => e)
    t.match(err, { code, statusCode, errcode, errmsg: `message ${errcode} rid: abc` }, `${errcode} → ${code}`)
    t.match((err as Error).message, new RegExp(`message ${errcode} rid: abc \\(/cgi-bin/message/custom/send\\)`), 'the message carries errmsg and path')
  }
  t.match(errorFromErrcode(45015, 'x', '/p').message, /No customer-service send window is open/)
})

t.test('sends are not repeated after a timeout or a reset; -1 and refused connections are', async (t) => {
  let busy = 0
  const { url, seen } = await startWechat(t, (req) => {
    const content = JSON.parse(req.body.toString()).text?.content as string | undefined
    if (content === 'slow') return { delayMs: 500 }
    if (content === 'reset') return { destroy: true }
    if (content === 'busy' && ++busy === 1) return json({ errcode: -1, errmsg: 'system error' })
    return json({ errcode: 0, errmsg: 'ok' })
  })
  const c = client(t, url, { timeoutMs: 100, retries: 3 })
  const send = (content: string) => c.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content } } })
  await t.rejects(send('slow'), { code: 'WECHAT_TIMEOUT' })
  t.equal(seen.length, 1, 'sent once')
  await t.rejects(send('reset'), { code: 'WECHAT_UNAVAILABLE' })
  t.equal(seen.length, 2, 'sent once')
  await send('busy')
  t.equal(seen.length, 4, '-1 retried once, then ok')
  await t.rejects(c.setTyping({ accessToken: TOKEN, touser: OPENID, command: 'Typing' }).then(() => send('slow')), { code: 'WECHAT_TIMEOUT' })
  const typing = seen[4]!
  t.equal(typing.path, '/cgi-bin/message/custom/business/typing')
  t.same(JSON.parse(typing.body.toString()), { touser: OPENID, command: 'Typing' })

  const dead = client(t, 'http://127.0.0.1:1', { retries: 2 })
  await t.rejects(dead.sendCustomMessage({ accessToken: TOKEN, touser: OPENID, message: { msgtype: 'text', text: { content: 'x' } } }), { code: 'WECHAT_UNAVAILABLE', message: /ECONNREFUSED/ })
})

t.test('uploadTempMedia sends multipart with the file part "media"', async (t) => {
  let createdAt: unknown = 1672500000
  const { url, seen } = await startWechat(t, () => json({ errcode: 0, errmsg: 'ok', type: 'image', media_id: 'MEDIA_1', created_at: createdAt }))
  const c = client(t, url)
  const data = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 255])
  t.same(await c.uploadTempMedia({ accessToken: TOKEN, filename: 'pixel.png', contentType: 'image/png', data }), { type: 'image', mediaId: 'MEDIA_1', createdAt: 1672500000 })
  const s = seen[0]!
  t.equal(s.path, '/cgi-bin/media/upload')
  t.same(Object.fromEntries(s.query), { access_token: TOKEN, type: 'image' })
  const contentType = String(s.headers['content-type'])
  t.match(contentType, /^multipart\/form-data; boundary=/)
  const form = await new Response(s.body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': contentType } }).formData()
  const file = form.get('media') as File
  t.equal(file.name, 'pixel.png')
  t.equal(file.type, 'image/png')
  t.ok(Buffer.from(await file.arrayBuffer()).equals(data), 'the bytes, unchanged')

  createdAt = '1672500001'
  t.equal((await c.uploadTempMedia({ accessToken: TOKEN, filename: 'a.png', contentType: 'image/png', data })).createdAt, 1672500001, 'created_at as a string')
  createdAt = undefined
  await t.rejects(c.uploadTempMedia({ accessToken: TOKEN, filename: 'a.png', contentType: 'image/png', data }), { code: 'WECHAT_RESPONSE_INVALID' })
  for (const bad of [{ filename: '' }, { filename: 'a"b.png' }, { contentType: 'png' }, { data: Buffer.alloc(0) }, { data: 'text' as never }]) {
    await t.rejects(c.uploadTempMedia({ accessToken: TOKEN, filename: 'a.png', contentType: 'image/png', data, ...bad }), { code: 'WECHAT_REQUEST_INVALID' }, JSON.stringify(bad))
  }
  t.equal(seen.length, 3)
})

t.test('getTempMedia: a file by Content-Type, JSON failures as typed errors', async (t) => {
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x7b, 0x00, 0xff, 0xd9])
  let busy = 0
  const { url, seen } = await startWechat(t, (req) => {
    switch (req.query.get('media_id')) {
      case 'jpeg': return { body: jpeg, headers: { 'content-type': 'image/jpeg', 'content-disposition': 'attachment; filename="jpeg.jpg"' } }
      case 'utf8': return { body: jpeg, headers: { 'content-type': 'image/jpeg', 'content-disposition': 'attachment; filename*=UTF-8\'\'%E5%9B%BE.jpg' } }
      case 'untyped': return { body: jpeg, headers: {} }
      case 'json': return json({ errcode: 40007, errmsg: 'invalid media_id rid: r1' })
      case 'text-json': return { body: '{"errcode":40007,"errmsg":"invalid media_id"}', headers: { 'content-type': 'text/plain' } }
      case 'sniffed': return { body: '{"errcode":40001,"errmsg":"invalid credential"}', headers: { 'content-type': 'application/octet-stream' } }
      case 'ok-json': return json({ errcode: 0, errmsg: 'ok' })
      case 'html': return { status: 502, body: '<html>bad gateway</html>', headers: { 'content-type': 'text/html' } }
      case 'busy': return ++busy === 1 ? json({ errcode: -1, errmsg: 'system error' }) : { body: jpeg, headers: { 'content-type': 'image/jpeg' } }
      case 'gateway': return { status: 503, body: jpeg, headers: { 'content-type': 'image/jpeg' } }
      default: return { body: Buffer.alloc(5000, 1), headers: { 'content-type': 'image/png' } }
    }
  })
  const c = client(t, url, { retries: 1 })
  const got = await c.getTempMedia({ accessToken: TOKEN, mediaId: 'jpeg' })
  t.same({ ...got, body: got.body.toString('hex') }, { contentType: 'image/jpeg', filename: 'jpeg.jpg', body: jpeg.toString('hex') })
  t.equal(seen[0]!.path, '/cgi-bin/media/get')
  t.same(Object.fromEntries(seen[0]!.query), { access_token: TOKEN, media_id: 'jpeg' })
  t.equal((await c.getTempMedia({ accessToken: TOKEN, mediaId: 'utf8' })).filename, '图.jpg')
  const untyped = await c.getTempMedia({ accessToken: TOKEN, mediaId: 'untyped' })
  t.match(untyped, { contentType: 'application/octet-stream' })
  t.notOk('filename' in untyped)

  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'json' }), { code: 'WECHAT_MEDIA_INVALID', errcode: 40007, errmsg: 'invalid media_id rid: r1' })
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'text-json' }), { code: 'WECHAT_MEDIA_INVALID' })
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'sniffed' }), { code: 'WECHAT_TOKEN_INVALID', errcode: 40001 })
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'ok-json' }), { code: 'WECHAT_RESPONSE_INVALID', message: /JSON without an errcode/ })
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'html' }), { code: 'WECHAT_UNAVAILABLE', message: /non-JSON answer \(HTTP 502/ })
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'gateway' }), { code: 'WECHAT_UNAVAILABLE', message: /HTTP 503/ })
  const before = seen.length
  t.ok((await c.getTempMedia({ accessToken: TOKEN, mediaId: 'busy' })).body.equals(jpeg), '-1 retried')
  t.equal(seen.length, before + 2)
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'big', maxBytes: 4096 }), { code: 'WECHAT_RESPONSE_INVALID', message: /larger than 4096 bytes/ })
  t.equal((await c.getTempMedia({ accessToken: TOKEN, mediaId: 'big', maxBytes: 5000 })).body.length, 5000)
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: '' }), { code: 'WECHAT_REQUEST_INVALID' })
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'x', maxBytes: 0 }), { code: 'WECHAT_REQUEST_INVALID' })
  await c.close()
  await t.rejects(c.getTempMedia({ accessToken: TOKEN, mediaId: 'jpeg' }), { code: 'WECHAT_CLOSED' })
})

t.test('getTempMedia is repeated after a timeout (a read)', async (t) => {
  const { url, seen } = await startWechat(t, (_req, n) => n === 1 ? { delayMs: 400 } : { body: Buffer.from('GIF89a'), headers: { 'content-type': 'image/gif' } })
  const c = client(t, url, { timeoutMs: 100, retries: 1 })
  t.equal((await c.getTempMedia({ accessToken: TOKEN, mediaId: 'm' })).body.toString(), 'GIF89a')
  t.equal(seen.length, 2)
})

t.test('dispositionFilename', async (t) => {
  t.equal(dispositionFilename('attachment; filename="a b.jpg"'), 'a b.jpg')
  t.equal(dispositionFilename('attachment; filename="a\\"b.jpg"'), 'a"b.jpg')
  t.equal(dispositionFilename('attachment; filename=plain.png; size=3'), 'plain.png')
  t.equal(dispositionFilename(['attachment; filename="first.jpg"']), 'first.jpg')
  t.equal(dispositionFilename('attachment; filename="fallback.jpg"; filename*=UTF-8\'\'%E5%9B%BE.jpg'), '图.jpg')
  t.equal(dispositionFilename('attachment; filename*=UTF-8\'\'%E5%9B; filename="ok.jpg"'), 'ok.jpg', 'a broken extended value falls back')
  t.equal(dispositionFilename('attachment'), undefined)
  t.equal(dispositionFilename(undefined), undefined)
})
