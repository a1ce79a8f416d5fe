import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { MsgCrypt, msgSignature, urlSignature } from '@weapp/wechat'
import { buildPush, evaluateReply, sendPush, userActionForMessage, type PushFormat, type PushMode, type PushOptions } from '../src/index.js'
import { startReceiver, type Received } from './fixtures/cs.js'

const TOKEN = 'AAAAA'
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG'
const APP_ID = 'wxba5fad812f8e6fb9'
const OPENID = 'oAlicexxxxxxxxxxxxxxxxxxxxxx'
const GH = 'gh_0123456789ab'
// Beyond 2^53: a JS number would read it as 6054768590064713700.
const MSG_ID = '6054768590064713728'

const MESSAGE = { ToUserName: GH, FromUserName: OPENID, CreateTime: 1714037059, MsgType: 'text', Content: 'hello <b>]]> & 你好', MsgId: MSG_ID }
const crypt = new MsgCrypt({ token: TOKEN, encodingAESKey: AES_KEY, appId: APP_ID })

function opts (url: string, mode: PushMode, format: PushFormat, extra: Partial<PushOptions> = {}): PushOptions {
  return { url, token: TOKEN, encodingAESKey: AES_KEY, appId: APP_ID, mode, format, message: MESSAGE, timeoutMs: 2000, ...extra }
}

/** A receiver's own reading of flat WeChat XML (independent of the simulator's parser). */
function xmlFields (xml: string): Record<string, string> {
  const out: Record<string, string> = {}
  const inner = /^<xml>([\s\S]*)<\/xml>$/.exec(xml)![1]!
  for (const m of inner.matchAll(/<(\w+)>((?:<!\[CDATA\[[\s\S]*?\]\]>)+|[^<]*)<\/\1>/g)) {
    out[m[1]!] = m[2]!.startsWith('<![CDATA[') ? [...m[2]!.matchAll(/<!\[CDATA\[([\s\S]*?)\]\]>/g)].map((c) => c[1]).join('') : m[2]!
  }
  return out
}

/** What a receiver reads out of a plaintext message: every field as a string, MsgId exact. */
function readMessage (text: string, format: PushFormat): Record<string, string> {
  if (format === 'xml') return xmlFields(text)
  const msgId = /"MsgId":(\d+)/.exec(text)?.[1]
  const parsed = JSON.parse(text) as Record<string, unknown>
  const out = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]))
  if (msgId !== undefined) out.MsgId = msgId
  return out
}

const EXPECTED = Object.fromEntries(Object.entries(MESSAGE).map(([k, v]) => [k, String(v)]))

/** Verifies a delivery as a strict receiver would and returns the message inside. */
function verify (t: Test, r: Received, mode: PushMode, format: PushFormat): Record<string, string> {
  const { signature, timestamp, nonce, openid, encrypt_type: encryptType, msg_signature: msgSig } = r.query
  t.equal(signature, urlSignature(TOKEN, timestamp!, nonce!), 'signature over token, timestamp, nonce')
  t.match(nonce, /^\d+$/, 'numeric nonce')
  t.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 5, 'timestamp is now')
  t.equal(openid, OPENID)
  t.equal(r.contentType, format === 'xml' ? 'text/xml' : 'application/json')
  if (mode === 'plaintext') {
    t.equal(encryptType, undefined)
    t.equal(msgSig, undefined)
    return readMessage(r.body, format)
  }
  t.equal(encryptType, 'aes')
  const envelope = format === 'xml' ? xmlFields(r.body) : JSON.parse(r.body.replace(/"MsgId":(\d+)/, '"MsgId":"$1"'))
  const encrypt = envelope.Encrypt as string
  t.equal(msgSig, msgSignature(TOKEN, timestamp!, nonce!, encrypt), 'msg_signature over the Encrypt')
  const inner = readMessage(crypt.decrypt(encrypt), format)
  if (mode === 'safe') {
    t.same(Object.keys(envelope).sort(), ['Encrypt', 'ToUserName'], 'safe: an envelope only')
    t.equal(envelope.ToUserName, GH)
  } else {
    const { Encrypt: _, ...plain } = format === 'xml' ? xmlFields(r.body) : readMessage(r.body, format)
    t.same(plain, inner, 'compatible: the plaintext copy equals the encrypted one')
  }
  return inner
}

for (const mode of ['plaintext', 'compatible', 'safe'] as const) {
  for (const format of ['xml', 'json'] as const) {
    t.test(`${mode} × ${format}: the receiver reads back the same message, MsgId exact`, async (t) => {
      const { url, received } = await startReceiver(t)
      const result = await sendPush(opts(url, mode, format))
      t.match(result, { acceptable: true, deliveries: 1, reply: { kind: 'success' } })
      t.equal(result.attempts.length, 1)
      t.match(result.attempts[0], { attempt: 1, status: 200, body: 'success', acceptable: true })
      t.equal(received.length, 1)
      const message = verify(t, received[0]!, mode, format)
      t.same(message, EXPECTED)
      t.equal(message.MsgId, MSG_ID)
    })
  }
}

t.test('wire details: bare MsgId and CreateTime in JSON, CDATA text and bare numbers in XML', async (t) => {
  const json = buildPush(opts('http://127.0.0.1:1/push?app=1', 'plaintext', 'json'))
  t.equal(json.body, `{"ToUserName":"${GH}","FromUserName":"${OPENID}","CreateTime":1714037059,"MsgType":"text","Content":"hello <b>]]> & 你好","MsgId":${MSG_ID}}`)
  t.ok(json.url.startsWith('http://127.0.0.1:1/push?app=1&signature='), 'the URL\'s own query is kept, then signature first')
  t.same(Object.keys(json.query), ['signature', 'timestamp', 'nonce', 'openid'])
  const xml = buildPush(opts('http://127.0.0.1:1/push', 'plaintext', 'xml'))
  t.equal(xml.body, `<xml><ToUserName><![CDATA[${GH}]]></ToUserName><FromUserName><![CDATA[${OPENID}]]></FromUserName>` +
    '<CreateTime>1714037059</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello <b>]]]]><![CDATA[> & 你好]]></Content>' +
    `<MsgId>${MSG_ID}</MsgId></xml>`)
  const safe = buildPush(opts('http://127.0.0.1:1/push', 'safe', 'json'))
  t.same(Object.keys(safe.query), ['signature', 'timestamp', 'nonce', 'openid', 'encrypt_type', 'msg_signature'])

  const max = buildPush(opts('http://x/', 'plaintext', 'json', { message: { ...MESSAGE, MsgId: '18446744073709551615' } }))
  t.match(max.body, /"MsgId":18446744073709551615}$/, 'uint64 max stays bare')
  const cloud = buildPush(opts('http://x/', 'plaintext', 'json', { message: { ...MESSAGE, MsgId: '49d72d_1555684067' } }))
  t.match(cloud.body, /"MsgId":"49d72d_1555684067"}$/, 'a non-numeric MsgId is a string')
  const event = buildPush(opts('http://x/', 'plaintext', 'json', { message: { ToUserName: GH, FromUserName: OPENID, CreateTime: 1, MsgType: 'event', Event: 'user_enter_tempsession', SessionFrom: 'wxapp' } }))
  t.equal(event.body, `{"ToUserName":"${GH}","FromUserName":"${OPENID}","CreateTime":1,"MsgType":"event","Event":"user_enter_tempsession","SessionFrom":"wxapp"}`)
  t.throws(() => buildPush(opts('http://x/', 'plaintext', 'json', { message: { ...MESSAGE, MsgId: 6054768590064713728 as unknown as string } })), { code: 'SIM_PUSH_INVALID' }, 'a MsgId number past 2^53 has already lost digits')
})

t.test('a receiver that hangs the first time gets a second delivery: fresh nonce, same message', async (t) => {
  const { url, received } = await startReceiver(t, (_r, n) => n === 1 ? { delayMs: 600 } : { body: '' })
  const result = await sendPush(opts(url, 'safe', 'json', { timeoutMs: 200 }))
  t.match(result, { acceptable: true, deliveries: 2, reply: { kind: 'empty' } })
  t.match(result.attempts[0], { attempt: 1, error: 'timeout', acceptable: false, reason: /no answer within 200 ms/ })
  t.notOk('status' in result.attempts[0]!)
  t.ok(result.attempts[0]!.latencyMs >= 190 && result.attempts[0]!.latencyMs < 590, `gave up after ~200 ms (${result.attempts[0]!.latencyMs})`)
  t.match(result.attempts[1], { attempt: 2, status: 200, body: '', acceptable: true })
  t.equal(received.length, 2)
  t.not(received[0]!.query.nonce, received[1]!.query.nonce, 'each delivery is signed afresh')
  t.not(received[0]!.body, received[1]!.body, '…and encrypted afresh')
  t.same(verify(t, received[0]!, 'safe', 'json'), verify(t, received[1]!, 'safe', 'json'), 'the same message (MsgId, CreateTime) both times')
  t.equal(result.attempts[1]!.nonce, received[1]!.query.nonce, 'attempts report their nonce')
})

t.test('resignRetries: false re-sends the first delivery byte for byte', async (t) => {
  const { url, received } = await startReceiver(t, (_r, n) => n === 1 ? { delayMs: 400 } : { body: 'success' })
  const result = await sendPush(opts(url, 'compatible', 'xml', { timeoutMs: 150, resignRetries: false }))
  t.equal(result.deliveries, 2)
  t.same(received[1]!.query, received[0]!.query)
  t.equal(received[1]!.body, received[0]!.body)
})

t.test('three deliveries at most, each one after a refused answer', async (t) => {
  const hang = await startReceiver(t, () => ({ delayMs: 500 }))
  const timedOut = await sendPush(opts(hang.url, 'plaintext', 'json', { timeoutMs: 100 }))
  t.match(timedOut, { acceptable: false, deliveries: 3 })
  t.same(timedOut.attempts.map((a) => a.error), ['timeout', 'timeout', 'timeout'])
  t.notOk('reply' in timedOut)

  const failing = await startReceiver(t, () => ({ status: 500, body: 'oops' }))
  const r500 = await sendPush(opts(failing.url, 'plaintext', 'json'))
  t.match(r500, { acceptable: false, deliveries: 3 })
  t.same(r500.attempts.map((a) => [a.status, a.reason]), [[500, 'HTTP 500'], [500, 'HTTP 500'], [500, 'HTTP 500']])
  t.equal(failing.received.length, 3)

  const chatty = await startReceiver(t, (_r, n) => ({ body: n < 3 ? 'ok' : 'success' }))
  const third = await sendPush(opts(chatty.url, 'plaintext', 'json', { retryDelayMs: 20 }))
  t.match(third, { acceptable: true, deliveries: 3 })
  t.match(third.attempts[0], { body: 'ok', acceptable: false, reason: /not "success", an empty body or a JSON reply/ })

  const single = await sendPush(opts(failing.url, 'plaintext', 'json', { deliveries: 1 }))
  t.equal(single.attempts.length, 1)

  // A port that was just free: nothing listens there any more.
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const port = (probe.address() as AddressInfo).port
  await new Promise((resolve) => probe.close(resolve))
  const refused = await sendPush(opts(`http://127.0.0.1:${port}/push`, 'plaintext', 'json'))
  t.same(refused.attempts.map((a) => a.error), ['network', 'network', 'network'])
  t.match(refused.attempts[0]!.reason, /ECONNREFUSED/)
})

t.test('which answers WeChat accepts', async (t) => {
  const nonce = '415670741'
  const transfer = { ToUserName: OPENID, FromUserName: GH, CreateTime: 1399197672, MsgType: 'transfer_customer_service' }
  const transferXml = `<xml><ToUserName><![CDATA[${OPENID}]]></ToUserName><FromUserName><![CDATA[${GH}]]></FromUserName><CreateTime>1399197672</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>`
  const ctx = (mode: PushMode, format: PushFormat, message: Record<string, unknown> = MESSAGE) => ({ mode, format, token: TOKEN, nonce, message, crypt: mode === 'plaintext' ? undefined : crypt })
  const encryptedJson = (reply: string, n = nonce) => JSON.stringify(crypt.encryptReply(reply, n, 1713424427))
  const encryptedXml = (reply: string) => {
    const e = crypt.encryptReply(reply, nonce, 1713424427)
    return `<xml><Encrypt><![CDATA[${e.Encrypt}]]></Encrypt><MsgSignature><![CDATA[${e.MsgSignature}]]></MsgSignature><TimeStamp>${e.TimeStamp}</TimeStamp><Nonce><![CDATA[${e.Nonce}]]></Nonce></xml>`
  }
  const cases: Array<[string, number, string, ReturnType<typeof ctx>, boolean, RegExp?]> = [
    ['success', 200, 'success', ctx('safe', 'json'), true],
    ['empty', 200, '', ctx('safe', 'xml'), true],
    ['whitespace is not empty', 200, ' ', ctx('plaintext', 'json'), false],
    ['SUCCESS', 200, 'SUCCESS', ctx('plaintext', 'json'), false],
    ['success with a 404', 404, 'success', ctx('plaintext', 'json'), false, /HTTP 404/],
    ['204 empty', 204, '', ctx('plaintext', 'json'), true],
    ['transfer, plaintext XML', 200, transferXml, ctx('plaintext', 'xml'), true],
    ['transfer, plaintext JSON', 200, JSON.stringify(transfer), ctx('plaintext', 'json'), true],
    ['transfer, compatible, plain', 200, JSON.stringify(transfer), ctx('compatible', 'json'), true],
    ['transfer, compatible, encrypted', 200, encryptedJson(JSON.stringify(transfer)), ctx('compatible', 'json'), true],
    ['transfer, safe, encrypted JSON', 200, encryptedJson(JSON.stringify(transfer)), ctx('safe', 'json'), true],
    ['transfer, safe, encrypted XML', 200, encryptedXml(transferXml), ctx('safe', 'xml'), true],
    ['transfer, safe, plain', 200, JSON.stringify(transfer), ctx('safe', 'json'), false, /safe mode needs an encrypted reply/],
    ['XML reply to a JSON push', 200, transferXml, ctx('plaintext', 'json'), false],
    ['encrypted reply, wrong Nonce', 200, encryptedJson(JSON.stringify(transfer), '1'), ctx('safe', 'json'), false, /Nonce/],
    ['encrypted reply, bad signature', 200, encryptedJson(JSON.stringify(transfer)).replace(/"MsgSignature":"[0-9a-f]/, '"MsgSignature":"z'), ctx('safe', 'json'), false, /MsgSignature/],
    ['encrypted reply in plaintext mode', 200, encryptedJson(JSON.stringify(transfer)), ctx('plaintext', 'json'), false, /plaintext mode/],
    ['names not swapped', 200, JSON.stringify({ ...transfer, ToUserName: GH, FromUserName: OPENID }), ctx('plaintext', 'json'), false, /ToUserName/],
    ['a passive text reply', 200, JSON.stringify({ ...transfer, MsgType: 'text', Content: 'hi' }), ctx('plaintext', 'json'), false, /no passive reply/],
    ['transfer of an event', 200, JSON.stringify(transfer), ctx('plaintext', 'json', { ...MESSAGE, MsgType: 'event', Event: 'user_enter_tempsession' }), false, /not events/]
  ]
  for (const [name, status, body, c, acceptable, reason] of cases) {
    const verdict = evaluateReply(status, body, c)
    t.equal(verdict.acceptable, acceptable, name)
    if (reason !== undefined) t.match(verdict.reason, reason, `${name}: ${verdict.reason}`)
  }
  t.match(evaluateReply(200, encryptedXml(transferXml), ctx('safe', 'xml')).reply, { kind: 'transfer_customer_service', encrypted: true, message: { MsgType: 'transfer_customer_service', ToUserName: OPENID } })
})

t.test('tampered pushes: each breaks exactly one thing', async (t) => {
  const base = 'http://127.0.0.1:1/push'
  const decrypt = (p: ReturnType<typeof buildPush>, format: PushFormat = 'json') => {
    const encrypt = format === 'json' ? JSON.parse(p.body).Encrypt : xmlFields(p.body).Encrypt!
    return { encrypt, run: () => crypt.decrypt(encrypt) }
  }
  const sigOk = (p: ReturnType<typeof buildPush>) => p.query.signature === urlSignature(TOKEN, p.timestamp, p.nonce)

  const forged = buildPush(opts(base, 'safe', 'json', { tamper: 'forged-signature' }))
  t.notOk(sigOk(forged), 'forged signature')
  t.equal(forged.query.msg_signature, msgSignature(TOKEN, forged.timestamp, forged.nonce, decrypt(forged).encrypt), 'msg_signature still right')

  const missing = buildPush(opts(base, 'safe', 'json', { tamper: 'missing-signature' }))
  t.notOk('signature' in missing.query)
  t.notOk('msg_signature' in missing.query)
  t.equal(missing.query.encrypt_type, 'aes')

  const wrongMsg = buildPush(opts(base, 'compatible', 'xml', { tamper: 'wrong-msg-signature' }))
  t.ok(sigOk(wrongMsg))
  t.throws(() => crypt.verify(wrongMsg.timestamp, wrongMsg.nonce, decrypt(wrongMsg, 'xml').encrypt, wrongMsg.query.msg_signature), { code: 'WECHAT_SIGNATURE_MISMATCH' })

  const stale = buildPush(opts(base, 'plaintext', 'json', { tamper: 'stale-timestamp' }))
  t.ok(sigOk(stale), 'correctly signed')
  t.ok(Date.now() / 1000 - Number(stale.timestamp) >= 3599, 'an hour old')

  const truncated = buildPush(opts(base, 'safe', 'json', { tamper: 'truncated-ciphertext' }))
  const tr = decrypt(truncated)
  t.equal(truncated.query.msg_signature, msgSignature(TOKEN, truncated.timestamp, truncated.nonce, tr.encrypt), 'signed over the truncated text')
  t.throws(tr.run, { code: 'WECHAT_CIPHERTEXT_INVALID' })

  t.throws(decrypt(buildPush(opts(base, 'safe', 'json', { tamper: 'wrong-appid' }))).run, { code: 'WECHAT_APPID_MISMATCH' })
  t.throws(decrypt(buildPush(opts(base, 'safe', 'json', { tamper: 'wrong-aes-key' }))).run, /Ciphertext is invalid|AppID/)

  const mismatched = buildPush(opts(base, 'compatible', 'json', { tamper: 'mismatched-plaintext' }))
  const shown = readMessage(mismatched.body, 'json')
  const inner = readMessage(decrypt(mismatched).run(), 'json')
  t.not(shown.FromUserName, inner.FromUserName, 'the plaintext copy lies about the sender')
  t.match(shown.Content, /^\[tampered\] /)
  t.same(inner, EXPECTED, 'the encrypted copy is genuine')

  const malformed = buildPush(opts(base, 'plaintext', 'json', { tamper: 'malformed-body' }))
  t.ok(sigOk(malformed))
  t.throws(() => JSON.parse(malformed.body))

  t.throws(() => buildPush(opts(base, 'plaintext', 'json', { tamper: 'truncated-ciphertext' })), { code: 'SIM_PUSH_INVALID', message: /compatible or safe/ })
  t.throws(() => buildPush(opts(base, 'safe', 'json', { tamper: 'mismatched-plaintext' })), { code: 'SIM_PUSH_INVALID' })
  t.throws(() => buildPush(opts(base, 'safe', 'json', { tamper: 'nope' as never })), { code: 'SIM_PUSH_INVALID' })
})

t.test('options are checked before anything is sent', async (t) => {
  const bad: Array<Partial<PushOptions>> = [
    { url: 'not a url' }, { url: 'ftp://x/' }, { token: '' }, { appId: '' }, { mode: 'secret' as never }, { format: 'yaml' as never },
    { encodingAESKey: 'short' }, { message: null as never }, { message: { Content: 'no type' } }, { timeoutMs: 0 }, { deliveries: 0 }, { retryDelayMs: -1 }
  ]
  for (const o of bad) await t.rejects(sendPush(opts('http://127.0.0.1:1/push', 'safe', 'json', o)), { code: 'SIM_PUSH_INVALID' }, JSON.stringify(o))
  t.ok(buildPush(opts('http://x/', 'plaintext', 'json', { encodingAESKey: undefined as never })), 'plaintext needs no key')
})

t.test('userActionForMessage', async (t) => {
  t.equal(userActionForMessage({ MsgType: 'text' }), 'message')
  t.equal(userActionForMessage({ MsgType: 'image' }), 'message')
  t.equal(userActionForMessage({ MsgType: 'miniprogrampage' }), 'message')
  t.equal(userActionForMessage({ MsgType: 'event', Event: 'user_enter_tempsession' }), 'enter_session')
  t.equal(userActionForMessage({ MsgType: 'event', Event: 'debug_demo' }), undefined)
  t.equal(userActionForMessage({}), undefined)
})
