import { readFileSync } from 'node:fs'
import t from 'tap'
import { MsgCrypt, urlSignature } from '@weapp/wechat'
import { RealTimeClock, callPublic, waitFor, type TestClock } from '@weapp/test-kit'
import { buildCs, callInternal, testConfig } from './fixtures/harness.js'
import type { MemoryMessagesRepository } from '../src/repositories/memory.js'
import type { CsConfig } from '../src/config.js'

// The published vectors, used as they are. They are old, so each test's clock is set to the vector's
// own time (the same effect as a widened timestamp window, without weakening the configuration).
const v = JSON.parse(readFileSync(new URL('../../../packages/wechat/test/fixtures/vectors.json', import.meta.url), 'utf8')).vectors

const atVector = (timestamp: string): TestClock => new RealTimeClock(Number(timestamp) * 1000 + 30_000)
const qs = (q: Record<string, string>): string => new URLSearchParams(q).toString()
/** The vectors' Token and EncodingAESKey are published, so the boot check refuses them (packages/common/src/secrets.ts): they go into a config validated with good ones. */
const vectorConfig = (secrets: { WECHAT_TOKEN: string, WECHAT_ENCODING_AES_KEY?: string }, env: Record<string, string> = {}): CsConfig => ({ ...testConfig(env), ...secrets })

t.test('URL verification vector: echostr verbatim', async (t) => {
  const x = v.message_push_url_verification_official_doc
  const app = await buildCs(t, { config: vectorConfig({ WECHAT_TOKEN: x.token }), clock: atVector(x.timestamp) })
  const res = await callPublic(app, { url: `/wechat/callback?${qs({ signature: x.expectedSignature, timestamp: x.timestamp, nonce: x.nonce, echostr: x.echostr })}` })
  t.equal(res.statusCode, 200)
  t.equal(res.body, x.expectedResponseBody)
  const stale = await buildCs(t, { config: vectorConfig({ WECHAT_TOKEN: x.token }), clock: new RealTimeClock() })
  const late = await callPublic(stale, { url: `/wechat/callback?${qs({ signature: x.expectedSignature, timestamp: x.timestamp, nonce: x.nonce, echostr: x.echostr })}` })
  t.equal(late.statusCode, 401, 'the same vector today is stale')
  t.equal(late.json().code, 'CS_TIMESTAMP_STALE')
})

t.test('plaintext JSON vector', async (t) => {
  const x = v.message_push_plaintext_post_official_doc
  const app = await buildCs(t, { config: vectorConfig({ WECHAT_TOKEN: x.token }), clock: atVector(x.timestamp) })
  const res = await callPublic(app, { method: 'POST', url: `/wechat/callback?${qs({ signature: x.expectedSignature, timestamp: x.timestamp, nonce: x.nonce })}`, payload: JSON.stringify(x.body), headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 200)
  t.ok(x.acceptedResponseBodies.includes(res.body))
  const repo = app.messagesRepository as MemoryMessagesRepository
  const key = `evt:${x.body.FromUserName}:${x.body.CreateTime}:debug_demo`
  await waitFor(async () => (await repo.findByKey(key)) !== null)
  t.same((await repo.findByKey(key))?.message, x.body)
})

t.test('safe-mode JSON vector: msg_signature, AES, AppID', async (t) => {
  const x = v.message_push_safe_mode_json_official_doc
  const app = await buildCs(t, { config: vectorConfig({ WECHAT_TOKEN: x.token, WECHAT_ENCODING_AES_KEY: x.encodingAESKey }, { APP_ID: x.appId }), clock: atVector(x.query.timestamp) })
  const res = await callPublic(app, { method: 'POST', url: `/weapp/message?${qs(x.query)}`, payload: JSON.stringify(x.body), headers: { 'content-type': 'application/json' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.body, 'success')
  const repo = app.messagesRepository as MemoryMessagesRepository
  const expected = JSON.parse(x.expected.msg)
  const key = `evt:${expected.FromUserName}:${expected.CreateTime}:debug_demo`
  await waitFor(async () => (await repo.findByKey(key)) !== null)
  t.same((await repo.findByKey(key))?.message, expected)

  // The same vector against another AppID: the ciphertext names the vector's AppID, so it is refused.
  const other = await buildCs(t, { config: vectorConfig({ WECHAT_TOKEN: x.token, WECHAT_ENCODING_AES_KEY: x.encodingAESKey }, { APP_ID: 'wx0000000000000000' }), clock: atVector(x.query.timestamp) })
  const refused = await callPublic(other, { method: 'POST', url: `/weapp/message?${qs(x.query)}`, payload: JSON.stringify(x.body) })
  t.equal(refused.statusCode, 400)
  t.equal(refused.json().code, 'WECHAT_APPID_MISMATCH')
  t.equal((await other.inboundQueue.stats()).length, 0)
  // The signature parameter in place of msg_signature is refused (the doc: do not rely on signature here).
  const swapped = await callPublic(app, { method: 'POST', url: `/weapp/message?${qs({ ...x.query, msg_signature: x.query.signature })}`, payload: JSON.stringify(x.body) })
  t.equal(swapped.statusCode, 401)
  t.equal(swapped.json().code, 'CS_MSG_SIGNATURE_INVALID')
})

t.test('Tencent WXBizMsgCrypt XML sample (compatible mode): the decrypted copy wins, MsgId exact', async (t) => {
  const x = v.wxbizmsgcrypt_tencent_sample_decrypt
  const app = await buildCs(t, { config: vectorConfig({ WECHAT_TOKEN: x.token, WECHAT_ENCODING_AES_KEY: x.encodingAESKey }, { APP_ID: x.appId }), clock: atVector(x.timestamp) })
  const f = x.plaintextFieldsAlsoInPacket
  const payload = `<xml><ToUserName><![CDATA[${f.ToUserName}]]></ToUserName>\n<FromUserName><![CDATA[${f.FromUserName}]]></FromUserName>\n` +
    `<CreateTime>${f.CreateTime}</CreateTime>\n<MsgType><![CDATA[${f.MsgType}]]></MsgType>\n<Content><![CDATA[${f.Content}]]></Content>\n` +
    `<MsgId>${f.MsgId}</MsgId>\n<Encrypt><![CDATA[${x.Encrypt}]]></Encrypt>\n</xml>`
  // The sample publishes no URL signature: it is computed from the vector's Token, timestamp and nonce.
  const query = { signature: urlSignature(x.token, x.timestamp, x.nonce), timestamp: x.timestamp, nonce: x.nonce, encrypt_type: 'aes', msg_signature: x.msgSignature }
  const res = await callPublic(app, { method: 'POST', url: `/wechat/callback?${qs(query)}`, payload, headers: { 'content-type': 'text/xml' } })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.body, 'success')
  const repo = app.messagesRepository as MemoryMessagesRepository
  const key = `msg:${f.MsgId}`
  await waitFor(async () => (await repo.findByKey(key)) !== null)
  const stored = await repo.findByKey(key)
  t.equal((stored?.message as { MsgId?: string } | undefined)?.MsgId, '6054768590064713728', 'the 64-bit MsgId kept exactly')
  t.same(stored?.message, { ToUserName: f.ToUserName, FromUserName: f.FromUserName, CreateTime: Number(f.CreateTime), MsgType: 'text', Content: f.Content, MsgId: f.MsgId })
  const metrics = await callInternal(app, { url: '/metrics' })
  t.match(metrics.body, /cs_pushes_total\{mode="compatible",format="xml",type="text"\} 1/)

  // A tampered plaintext copy changes nothing: only the verified ciphertext is trusted.
  const app2 = await buildCs(t, { config: vectorConfig({ WECHAT_TOKEN: x.token, WECHAT_ENCODING_AES_KEY: x.encodingAESKey }, { APP_ID: x.appId }), clock: atVector(x.timestamp) })
  await callPublic(app2, { method: 'POST', url: `/wechat/callback?${qs(query)}`, payload: payload.replace('abcdteT', 'FORGED'), headers: { 'content-type': 'text/xml' } })
  const repo2 = app2.messagesRepository as MemoryMessagesRepository
  await waitFor(async () => (await repo2.findByKey(key)) !== null)
  t.equal(((await repo2.findByKey(key))?.message as { Content?: string }).Content, 'abcdteT')
})

t.test('encrypted transfer reply with the vector key: decryptable, signed, nonce echoed', async (t) => {
  const x = v.message_push_safe_mode_json_official_doc
  const app = await buildCs(t, {
    config: vectorConfig({ WECHAT_TOKEN: x.token, WECHAT_ENCODING_AES_KEY: x.encodingAESKey }, { APP_ID: x.appId, TRANSFER_TO_CS: 'true' }),
    clock: atVector(x.query.timestamp)
  })
  const crypt = new MsgCrypt({ token: x.token, encodingAESKey: x.encodingAESKey, appId: x.appId })
  const message = { ToUserName: 'gh_97417a04a28d', FromUserName: 'o9AgO5Kd5ggOC-bXrbNODIiE3bGY', CreateTime: Number(x.query.timestamp), MsgType: 'text', Content: '人工', MsgId: '22923519871373703' }
  const inner = JSON.stringify(message).replace('"22923519871373703"', '22923519871373703')
  const encrypt = crypt.encrypt(inner)
  const query = { signature: urlSignature(x.token, x.query.timestamp, x.query.nonce), timestamp: x.query.timestamp, nonce: x.query.nonce, encrypt_type: 'aes', msg_signature: crypt.signature(x.query.timestamp, x.query.nonce, encrypt) }
  const res = await callPublic(app, { method: 'POST', url: `/wechat/callback?${qs(query)}`, payload: JSON.stringify({ ToUserName: message.ToUserName, Encrypt: encrypt }) })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.same(Object.keys(body), ['Encrypt', 'MsgSignature', 'TimeStamp', 'Nonce'], 'the documented casing')
  t.equal(body.Nonce, x.query.nonce, 'nonce echoed')
  t.equal(body.MsgSignature, crypt.signature(String(body.TimeStamp), body.Nonce, body.Encrypt))
  const reply = JSON.parse(crypt.decrypt(body.Encrypt))
  t.same(reply, { ToUserName: message.FromUserName, FromUserName: message.ToUserName, CreateTime: body.TimeStamp, MsgType: 'transfer_customer_service' })
})
