import { createCipheriv, randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { MsgCrypt, msgSignature, urlSignature } from '@weapp/wechat'
import { createRedis } from '@weapp/common'
import { RealTimeClock, callPublic, waitFor, type TestClock } from '@weapp/test-kit'
import { AES_KEY, APP_ID, INTERNAL_TOKEN, PUSH_TOKEN, buildCs, callInternal, testConfig } from './fixtures/harness.js'
import { loadCsConfig } from '../src/config.js'
import { buildPush, serialize, textMessage, toWechatJson, type Fields } from './fixtures/push.js'
import type { MemoryMessagesRepository } from '../src/repositories/memory.js'

// A corpus of bad requests: each is refused with its status and stable code, and nothing is recorded
// (the MsgId they all carry is still unknown afterwards) while the service keeps serving.

const OPENID = 'o_attacker'
const MSG_ID = '9223372036854775807'

interface Case {
  name: string
  status: number
  code: string
  method?: 'GET' | 'POST'
  url: string
  payload?: string | Buffer
  contentType?: string
}

const key = Buffer.from(AES_KEY + '=', 'base64')
const qs = (q: Record<string, string>): string => new URLSearchParams(q).toString()

/** AES-256-CBC without padding handling: ciphertexts WeChat would never produce. */
function rawEncrypt (plain: Buffer): string {
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16))
  c.setAutoPadding(false)
  return Buffer.concat([c.update(plain), c.final()]).toString('base64')
}

function layout (msg: string, appId: string, msgLen?: number): Buffer {
  const body = Buffer.from(msg)
  const len = Buffer.alloc(4)
  len.writeUInt32BE(msgLen ?? body.length)
  return Buffer.concat([randomBytes(16), len, body, Buffer.from(appId)])
}

function pad (buf: Buffer, value?: number): Buffer {
  const n = 32 - (buf.length % 32)
  return Buffer.concat([buf, Buffer.alloc(n, value ?? n)])
}

function corpus (now: number, appId: string): Case[] {
  const fields = textMessage(OPENID, 'hi', now, MSG_ID)
  const json = toWechatJson(fields)
  const xml = serialize(fields, 'xml')
  const ts = String(now)
  const nonce = '123456'
  const sig = urlSignature(PUSH_TOKEN, ts, nonce)
  const plainUrl = (q: Record<string, string> = {}): string => `/wechat/callback?${qs({ signature: sig, timestamp: ts, nonce, ...q })}`
  /** A safe-mode push whose Encrypt is whatever we say, correctly msg-signed (an attacker with the Token, not the key). */
  const sealed = (encrypt: string, format: 'json' | 'xml' = 'json'): Pick<Case, 'url' | 'payload'> => ({
    url: plainUrl({ encrypt_type: 'aes', msg_signature: msgSignature(PUSH_TOKEN, ts, nonce, encrypt) }),
    payload: serialize({ ToUserName: 'gh_x', Encrypt: encrypt }, format)
  })
  const goodSafe = buildPush(fields, { mode: 'safe', format: 'json', timestamp: now, appId })
  const goodEncrypt = JSON.parse(goodSafe.payload).Encrypt as string
  const otherKey = new MsgCrypt({ token: PUSH_TOKEN, encodingAESKey: 'B'.repeat(43), appId })
  const otherApp = new MsgCrypt({ token: PUSH_TOKEN, encodingAESKey: AES_KEY, appId: 'wx0000000000000000' })
  const own = new MsgCrypt({ token: PUSH_TOKEN, encodingAESKey: AES_KEY, appId })
  const deep = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n)
  const withField = (extra: string): string => json.replace(/}$/, `,${extra}}`)
  const withoutField = (name: string): Fields => Object.fromEntries(Object.entries(fields).filter(([k]) => k !== name)) as Fields

  return [
    // ---- signatures and query ----
    { name: 'forged signature', status: 401, code: 'CS_SIGNATURE_INVALID', url: plainUrl({ signature: 'f'.repeat(40) }), payload: json },
    { name: 'signature made with another Token', status: 401, code: 'CS_SIGNATURE_INVALID', url: plainUrl({ signature: urlSignature('OtherToken', ts, nonce) }), payload: json },
    { name: 'signature of another nonce', status: 401, code: 'CS_SIGNATURE_INVALID', url: plainUrl({ nonce: '654321' }), payload: json },
    { name: 'signature missing', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: `/wechat/callback?${qs({ timestamp: ts, nonce })}`, payload: json },
    { name: 'timestamp missing', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: `/wechat/callback?${qs({ signature: sig, nonce })}`, payload: json },
    { name: 'nonce missing', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: `/wechat/callback?${qs({ signature: sig, timestamp: ts })}`, payload: json },
    { name: 'no query at all', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: '/weapp/message', payload: json },
    { name: 'timestamp not a number', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: plainUrl({ timestamp: '17x4' }), payload: json },
    { name: 'signature not hex', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: plainUrl({ signature: 'z'.repeat(40) }), payload: json },
    { name: 'nonce with markup', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: plainUrl({ nonce: ']]><x>' }), payload: json },
    { name: 'signature given twice', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: plainUrl() + `&signature=${sig}`, payload: json },
    { name: 'stale timestamp (past)', status: 401, code: 'CS_TIMESTAMP_STALE', url: `/wechat/callback?${qs({ signature: urlSignature(PUSH_TOKEN, String(now - 330), nonce), timestamp: String(now - 330), nonce })}`, payload: json },
    { name: 'stale timestamp (future)', status: 401, code: 'CS_TIMESTAMP_STALE', url: `/wechat/callback?${qs({ signature: urlSignature(PUSH_TOKEN, String(now + 330), nonce), timestamp: String(now + 330), nonce })}`, payload: json },
    { name: 'unknown encrypt_type', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: plainUrl({ encrypt_type: 'des' }), payload: json },
    // ---- encrypted pushes ----
    { name: 'wrong msg_signature', status: 401, code: 'CS_MSG_SIGNATURE_INVALID', url: goodSafe.url.replace(/msg_signature=[0-9a-f]+/, `msg_signature=${'a'.repeat(40)}`), payload: goodSafe.payload },
    { name: 'msg_signature missing', status: 401, code: 'CS_MSG_SIGNATURE_INVALID', url: goodSafe.url.replace(/&msg_signature=[0-9a-f]+/, ''), payload: goodSafe.payload },
    { name: 'msg_signature of another ciphertext', status: 401, code: 'CS_MSG_SIGNATURE_INVALID', url: goodSafe.url, payload: JSON.stringify({ ToUserName: 'gh_x', Encrypt: own.encrypt(json) }) },
    // 40 characters but more bytes (or a longer lower case): refused as a mismatch, never a 500.
    { name: 'msg_signature with a multibyte character', status: 401, code: 'CS_MSG_SIGNATURE_INVALID', url: plainUrl({ encrypt_type: 'aes', msg_signature: 'é' + 'a'.repeat(39) }), payload: goodSafe.payload },
    { name: 'msg_signature whose lower case is longer (İ)', status: 401, code: 'CS_MSG_SIGNATURE_INVALID', url: plainUrl({ encrypt_type: 'aes', msg_signature: 'İ' + 'a'.repeat(39) }), payload: goodSafe.payload },
    { name: 'msg_signature all CJK', status: 401, code: 'CS_MSG_SIGNATURE_INVALID', url: plainUrl({ encrypt_type: 'aes', msg_signature: '签'.repeat(40) }), payload: goodSafe.payload },
    { name: 'msg_signature not hex', status: 401, code: 'CS_MSG_SIGNATURE_INVALID', url: plainUrl({ encrypt_type: 'aes', msg_signature: 'z'.repeat(40) }), payload: goodSafe.payload },
    { name: 'signature with a multibyte character', status: 400, code: 'CS_PUSH_QUERY_INVALID', url: plainUrl({ signature: 'é' + sig.slice(1) }), payload: json },
    { name: 'encrypt_type=aes without Encrypt', status: 400, code: 'CS_ENCRYPT_MISSING', url: plainUrl({ encrypt_type: 'aes', msg_signature: 'a'.repeat(40) }), payload: json },
    { name: 'truncated ciphertext', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed(Buffer.from(goodEncrypt, 'base64').subarray(0, 32).toString('base64')) },
    { name: 'ciphertext not base64', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed('!!not*base64!!') },
    { name: 'ciphertext not a whole block', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed(randomBytes(40).toString('base64')) },
    { name: 'garbled ciphertext (flipped bytes)', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed(rawEncrypt(Buffer.alloc(64, 0))) },
    { name: 'bad PKCS#7 padding (pad byte 0)', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed(rawEncrypt(pad(layout(json, appId), 0))) },
    { name: 'bad PKCS#7 padding (pad byte 33)', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed(rawEncrypt(pad(layout(json, appId), 33))) },
    { name: 'msg_len beyond the plaintext', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed(rawEncrypt(pad(layout(json, appId, 100_000)))) },
    { name: 'wrong AppID inside the ciphertext', status: 400, code: 'WECHAT_APPID_MISMATCH', ...sealed(otherApp.encrypt(json)) },
    { name: 'encrypted with another key', status: 400, code: 'WECHAT_CIPHERTEXT_INVALID', ...sealed(otherKey.encrypt('{"fixed":"text"}', Buffer.alloc(16, 7))) },
    { name: 'DOCTYPE inside the ciphertext', status: 400, code: 'CS_XML_FORBIDDEN', ...sealed(own.encrypt('<!DOCTYPE x [<!ENTITY e "boom">]>' + xml.replace('hi', '&e;')), 'xml') },
    { name: 'ciphertext of garbage text', status: 400, code: 'CS_BODY_FORMAT_UNKNOWN', ...sealed(own.encrypt('not a message')) },
    { name: 'safe envelope sent as plaintext', status: 400, code: 'CS_MESSAGE_INVALID', url: plainUrl(), payload: JSON.stringify({ ToUserName: 'gh_x', Encrypt: goodEncrypt }) },
    // ---- bodies ----
    { name: 'oversized body', status: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE', url: plainUrl(), payload: withField(`"Pad":"${'x'.repeat(64 * 1024)}"`) },
    { name: 'empty body', status: 400, code: 'CS_BODY_EMPTY', url: plainUrl(), payload: '' },
    { name: 'whitespace body', status: 400, code: 'CS_BODY_EMPTY', url: plainUrl(), payload: ' \r\n\t ' },
    { name: 'neither XML nor JSON', status: 400, code: 'CS_BODY_FORMAT_UNKNOWN', url: plainUrl(), payload: 'ToUserName=gh_x&MsgType=text' },
    { name: 'JSON array', status: 400, code: 'CS_BODY_FORMAT_UNKNOWN', url: plainUrl(), payload: `[${json}]` },
    { name: 'invalid UTF-8', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: Buffer.concat([Buffer.from(json.slice(0, 20)), Buffer.from([0xc3, 0x28]), Buffer.from(json.slice(20))]) },
    { name: 'truncated JSON', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: json.slice(0, -5) },
    { name: 'JSON with trailing junk', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: json + '{}' },
    { name: 'JSON nested 200 deep', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: withField(`"Junk":${deep(200)}`) },
    { name: 'JSON __proto__ key', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: withField('"__proto__":{"polluted":true}') },
    { name: 'JSON huge exponent', status: 400, code: 'CS_JSON_NUMBER_UNSAFE', url: plainUrl(), payload: withField('"Score":1e400') },
    { name: 'JSON 5000-digit number', status: 400, code: 'CS_JSON_NUMBER_UNSAFE', url: plainUrl(), payload: withField(`"Score":${'9'.repeat(5000)}`) },
    { name: 'JSON unsafe integer outside an id', status: 400, code: 'CS_JSON_NUMBER_UNSAFE', url: plainUrl(), payload: withField('"Count":9007199254740993') },
    { name: 'JSON MsgId as a fraction', status: 400, code: 'CS_JSON_NUMBER_UNSAFE', url: plainUrl(), payload: json.replace(`"MsgId":${MSG_ID}`, '"MsgId":1.5') },
    { name: 'XML with DOCTYPE', status: 400, code: 'CS_XML_FORBIDDEN', url: plainUrl(), payload: '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "file:///etc/passwd">' + xml },
    { name: 'XML entity declaration (lower case)', status: 400, code: 'CS_XML_FORBIDDEN', url: plainUrl(), payload: xml.replace('<xml>', '<xml><!entity x "y">') },
    { name: 'XML billion laughs', status: 400, code: 'CS_XML_FORBIDDEN', url: plainUrl(), payload: '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>' + xml.replace('hi', '&lol2;') },
    { name: 'XML unclosed', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: xml.replace('</xml>', '') },
    { name: 'XML mismatched tags', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: xml.replace('</Content>', '</Contents>') },
    { name: 'XML root other than <xml>', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: xml.replace(/^<xml>/, '<root>').replace(/<\/xml>$/, '</root>') },
    { name: 'XML nested 200 deep', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: xml.replace('</xml>', '<a>'.repeat(200) + '</a>'.repeat(200) + '</xml>') },
    { name: 'XML __proto__ element', status: 400, code: 'CS_BODY_MALFORMED', url: plainUrl(), payload: xml.replace('</xml>', '<__proto__><polluted>1</polluted></__proto__></xml>') },
    // ---- messages ----
    { name: 'FromUserName missing', status: 400, code: 'CS_MESSAGE_INVALID', url: plainUrl(), payload: toWechatJson(withoutField('FromUserName')) },
    { name: 'MsgType missing (XML)', status: 400, code: 'CS_MESSAGE_INVALID', url: plainUrl(), payload: serialize(withoutField('MsgType'), 'xml') },
    { name: 'CreateTime not an integer', status: 400, code: 'CS_MESSAGE_INVALID', url: plainUrl(), payload: json.replace(`"CreateTime":${now}`, '"CreateTime":"soon"') },
    { name: 'FromUserName not a string', status: 400, code: 'CS_MESSAGE_INVALID', url: plainUrl(), payload: json.replace(`"FromUserName":"${OPENID}"`, '"FromUserName":{"$gt":""}') },
    // ---- GET verification ----
    { name: 'GET forged signature', status: 401, code: 'CS_SIGNATURE_INVALID', method: 'GET', url: `/wechat/callback?${qs({ signature: 'e'.repeat(40), timestamp: ts, nonce, echostr: '123' })}` },
    { name: 'GET echostr missing', status: 400, code: 'CS_PUSH_QUERY_INVALID', method: 'GET', url: `/wechat/callback?${qs({ signature: sig, timestamp: ts, nonce })}` },
    { name: 'GET stale timestamp', status: 401, code: 'CS_TIMESTAMP_STALE', method: 'GET', url: `/weapp/message?${qs({ signature: urlSignature(PUSH_TOKEN, '1714036504', nonce), timestamp: '1714036504', nonce, echostr: '1' })}` }
  ]
}

async function runCorpus (t: Test, app: FastifyInstance, clock: TestClock, appId = APP_ID): Promise<void> {
  const cases = corpus(clock.seconds, appId)
  t.ok(cases.length >= 30, `${cases.length} bad requests`)
  for (const c of cases) {
    const res = await callPublic(app, { method: c.method ?? 'POST', url: c.url, ...(c.payload !== undefined ? { payload: c.payload } : {}), headers: { 'content-type': c.contentType ?? 'text/plain' } })
    t.equal(res.statusCode, c.status, `${c.name}: status (${res.body.slice(0, 160)})`)
    let body: { code?: string, statusCode?: number } = {}
    try { body = res.json() } catch {}
    t.equal(body.code, c.code, `${c.name}: code`)
    t.equal(body.statusCode, c.status, `${c.name}: JSON error body`)
  }
  const stats = await app.inboundQueue.stats()
  t.equal(stats.length + stats.pending + stats.delayed + stats.deadLetters, 0, 'nothing queued')
  const metrics = await callInternal(app, { url: '/metrics' })
  t.match(metrics.body, /cs_pushes_rejected_total\{code="CS_SIGNATURE_INVALID"\} [1-9]/)
  t.notMatch(metrics.body, /cs_pushes_total\{/, 'no push counted as recorded')

  // The service still serves, and the MsgId every bad request carried was never marked as seen.
  const good = buildPush(textMessage(OPENID, 'hi', clock.seconds, MSG_ID), { mode: 'safe', format: 'xml', timestamp: clock.seconds, appId })
  const ok = await callPublic(app, { method: 'POST', url: good.url, payload: good.payload })
  t.equal(ok.statusCode, 200)
  t.equal(ok.body, 'success')
  await waitFor(async () => (await app.messagesRepository.findByKey(`msg:${MSG_ID}`)) !== null, { timeoutMs: 3000, what: 'the good push stored' })
  t.equal((await app.messagesRepository.listConversation(OPENID, { limit: 100 })).length, 1, 'only the good push stored')
}

t.test('bad requests, embedded stores', async (t) => {
  const clock = new RealTimeClock()
  const app = await buildCs(t, { config: testConfig(), clock })
  await runCorpus(t, app, clock)
  t.equal((app.messagesRepository as MemoryMessagesRepository).size, 1)
})

const redisUrl = process.env.REDIS_URL
t.test('bad requests, Redis queue', { skip: redisUrl === undefined ? 'REDIS_URL is not set' : false }, async (t) => {
  // An AppID of its own: test files run in parallel on one Redis.
  const appId = `wx${randomBytes(8).toString('hex')}`
  const clock = new RealTimeClock()
  const redis = createRedis(redisUrl!)
  const prefix = `cs:{${appId}}:`
  const clean = async (): Promise<void> => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  }
  await clean()
  t.teardown(async () => { await clean(); await redis.quit() })
  const app = await buildCs(t, { config: testConfig({ REDIS_URL: redisUrl!, APP_ID: appId }), clock })
  await runCorpus(t, app, clock, appId)
  t.same(await redis.keys(`${prefix}dedup:*`), [`${prefix}dedup:msg:${MSG_ID}`], 'only the good push left a dedup key')
})

t.test('encrypted push to a plaintext-only service; plaintext push to a safe-only service', async (t) => {
  const clock = new RealTimeClock()
  const plainOnly = await buildCs(t, { config: testConfig({ WECHAT_ENCODING_AES_KEY: '' }), clock })
  const enc = buildPush(textMessage('o1', 'x', clock.seconds), { mode: 'safe', format: 'json', timestamp: clock.seconds })
  const r1 = await callPublic(plainOnly, { method: 'POST', url: enc.url, payload: enc.payload })
  t.equal(r1.statusCode, 400)
  t.equal(r1.json().code, 'CS_ENCRYPTION_NOT_CONFIGURED')
  const compat = buildPush(textMessage('o1', 'x', clock.seconds), { mode: 'compatible', format: 'xml', timestamp: clock.seconds })
  const r2 = await callPublic(plainOnly, { method: 'POST', url: compat.url, payload: compat.payload })
  t.equal(r2.json().code, 'CS_ENCRYPTION_NOT_CONFIGURED', 'compatible mode is refused too, not read from its plaintext copy')

  const safeOnly = await buildCs(t, { config: testConfig({ PUSH_ALLOW_PLAINTEXT: 'false' }), clock })
  const plain = buildPush(textMessage('o1', 'x', clock.seconds), { mode: 'plaintext', format: 'xml', timestamp: clock.seconds })
  const r3 = await callPublic(safeOnly, { method: 'POST', url: plain.url, payload: plain.payload })
  t.equal(r3.statusCode, 400)
  t.equal(r3.json().code, 'CS_PLAINTEXT_REFUSED')
  const r4 = await callPublic(safeOnly, { method: 'POST', url: enc.url, payload: enc.payload })
  t.equal(r4.statusCode, 200, 'encrypted still accepted')

  // The default once a key is configured: plaintext refused (a leaked Token alone forges nothing).
  const byDefault = await buildCs(t, { config: loadCsConfig({ INTERNAL_TOKEN, APP_ID, WECHAT_TOKEN: PUSH_TOKEN, WECHAT_ENCODING_AES_KEY: AES_KEY, LOG_LEVEL: 'silent' }), clock })
  for (const format of ['xml', 'json'] as const) {
    const p = buildPush(textMessage('o1', 'forged', clock.seconds), { mode: 'plaintext', format, timestamp: clock.seconds })
    const res = await callPublic(byDefault, { method: 'POST', url: p.url, payload: p.payload })
    t.equal(res.statusCode, 400, `default, plaintext ${format}`)
    t.equal(res.json().code, 'CS_PLAINTEXT_REFUSED')
  }
  for (const mode of ['safe', 'compatible'] as const) {
    const p = buildPush(textMessage('o2', 'genuine', clock.seconds), { mode, format: 'xml', timestamp: clock.seconds })
    t.equal((await callPublic(byDefault, { method: 'POST', url: p.url, payload: p.payload })).statusCode, 200, `default, ${mode} accepted`)
  }
  t.equal((await byDefault.inboundQueue.stats()).length + (await byDefault.messagesRepository.listConversation('o1', { limit: 10 })).length, 0, 'the refused pushes recorded nothing')

  for (const app of [plainOnly, safeOnly]) t.equal((await app.inboundQueue.stats()).length + (await app.messagesRepository.listConversation('o1', { limit: 10 })).length <= 1, true)
})
