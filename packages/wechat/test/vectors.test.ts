import { readFileSync } from 'node:fs'
import t from 'tap'
import {
  decryptOpenData, loginStateSignature, MsgCrypt, msgSignature, rawDataSignature, signaturesEqual, urlSignature
} from '../src/index.js'

// The published vectors, used as they are (each names its source in the fixture).
const file = JSON.parse(readFileSync(new URL('./fixtures/vectors.json', import.meta.url), 'utf8'))
const v = file.vectors

t.test('every vector in the file is exercised here', async (t) => {
  t.same(Object.keys(v).sort(), [
    'message_push_encrypted_reply_json_official_doc',
    'message_push_plaintext_post_official_doc',
    'message_push_safe_mode_json_official_doc',
    'message_push_url_verification_official_doc',
    'miniprogram_login_state_hmac_official_doc',
    'miniprogram_rawdata_signature_official_doc',
    'miniprogram_userinfo_decrypt_official_demo',
    'wecom_doc_sample_decrypt_via_easywechat',
    'wxbizmsgcrypt_tencent_sample_decrypt'
  ])
})

t.test('every vector names its published source and was verified', async (t) => {
  for (const [name, x] of Object.entries(v as Record<string, { source?: unknown, verification?: { status?: unknown } }>)) {
    const sources = ([] as unknown[]).concat(x.source ?? [])
    t.ok(sources.length > 0 && sources.every((s) => typeof s === 'string' && /(https:\/\/|github:)/.test(s)), `${name}: source`)
    t.equal(x.verification?.status, 'VERIFIED', `${name}: verified`)
  }
})

t.test('URL verification (GET)', async (t) => {
  const x = v.message_push_url_verification_official_doc
  t.same([x.token, x.timestamp, x.nonce].sort(), x.expectedSortedParts)
  const sig = urlSignature(x.token, x.timestamp, x.nonce)
  t.equal(sig, x.expectedSignature)
  t.ok(signaturesEqual(sig, x.expectedSignature))
  t.ok(signaturesEqual(sig, x.expectedSignature.toUpperCase()), 'hex case does not matter')
  t.notOk(signaturesEqual(sig, x.expectedSignature.slice(0, -1) + '0'))
  t.equal(x.echostr, x.expectedResponseBody, 'the reply is echostr verbatim')
})

t.test('plaintext POST signature', async (t) => {
  const x = v.message_push_plaintext_post_official_doc
  t.same([x.token, x.timestamp, x.nonce].sort(), x.expectedSortedParts)
  t.equal(urlSignature(x.token, x.timestamp, x.nonce), x.expectedSignature)
  t.same(x.acceptedResponseBodies, ['success', ''])
})

t.test('safe-mode JSON: msg_signature and decrypt', async (t) => {
  const x = v.message_push_safe_mode_json_official_doc
  const crypt = new MsgCrypt({ token: x.token, encodingAESKey: x.encodingAESKey, appId: x.appId })
  const { timestamp, nonce } = x.query
  t.equal(urlSignature(x.token, timestamp, nonce), x.query.signature, 'the URL signature still matches')
  t.equal(msgSignature(x.token, timestamp, nonce, x.body.Encrypt), x.query.msg_signature)
  t.doesNotThrow(() => crypt.verify(timestamp, nonce, x.body.Encrypt, x.query.msg_signature))
  t.throws(() => crypt.verify(timestamp, nonce, x.body.Encrypt, x.query.signature), { code: 'WECHAT_SIGNATURE_MISMATCH' })

  // The layout, checked by hand with the same key: random16 ‖ msg_len ‖ msg ‖ appid.
  const key = Buffer.from(x.encodingAESKey + '=', 'base64')
  const ct = Buffer.from(x.body.Encrypt, 'base64')
  t.equal(ct.length, x.expected.ciphertextBytes)
  const { createDecipheriv } = await import('node:crypto')
  const d = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16))
  d.setAutoPadding(false)
  const plain = Buffer.concat([d.update(ct), d.final()])
  const unpadded = plain.subarray(0, plain.length - plain[plain.length - 1]!)
  t.equal(unpadded.length, x.expected.unpaddedPlaintextBytes)
  t.equal(unpadded.subarray(0, 16).toString('latin1'), x.expected.random16)
  t.equal(unpadded.readUInt32BE(16), x.expected.msgLen)
  t.equal(unpadded.subarray(20 + x.expected.msgLen).toString('utf8'), x.expected.appId)

  const msg = crypt.decrypt(x.body.Encrypt)
  t.equal(msg, x.expected.msg)
  t.equal(Buffer.byteLength(msg), x.expected.msgLen)
  t.equal(JSON.parse(msg).ToUserName, x.body.ToUserName)
})

t.test('encrypted reply: Encrypt byte-exact and MsgSignature', async (t) => {
  const x = v.message_push_encrypted_reply_json_official_doc
  const crypt = new MsgCrypt({ token: x.token, encodingAESKey: x.encodingAESKey, appId: x.appId })
  const random = Buffer.from(x.random16, 'latin1')
  t.equal(random.length, 16)
  t.equal(Buffer.byteLength(x.replyPlaintext), x.expected.msgLen)
  t.equal(16 + 4 + x.expected.msgLen + Buffer.byteLength(x.appId), x.expected.fullStrBytes)
  const encrypt = crypt.encrypt(x.replyPlaintext, random)
  t.equal(encrypt, x.expected.Encrypt)
  t.equal(Buffer.from(encrypt, 'base64').length, x.expected.ciphertextBytes)
  t.same([x.token, x.timestamp, x.nonce, encrypt].sort(), x.expected.sortedParts)
  const reply = crypt.encryptReply(x.replyPlaintext, x.nonce, Number(x.timestamp), random)
  t.same(reply, x.expected.responseBody)
  t.equal(reply.MsgSignature, x.expected.MsgSignature)
  t.equal(crypt.decrypt(reply.Encrypt), x.replyPlaintext, 'round trip')
})

t.test('Tencent WXBizMsgCrypt sample (XML, compatible mode)', async (t) => {
  const x = v.wxbizmsgcrypt_tencent_sample_decrypt
  const crypt = new MsgCrypt({ token: x.token, encodingAESKey: x.encodingAESKey, appId: x.appId })
  t.equal(crypt.signature(x.timestamp, x.nonce, x.Encrypt), x.msgSignature)
  t.doesNotThrow(() => crypt.verify(x.timestamp, x.nonce, x.Encrypt, x.msgSignature))
  const xml = crypt.decrypt(x.Encrypt)
  t.equal(xml, x.expected.derived_decryptedXml)
  for (const [name, value] of Object.entries(x.plaintextFieldsAlsoInPacket)) {
    t.match(xml, new RegExp(`<${name}>(<!\\[CDATA\\[)?${value}(\\]\\]>)?</${name}>`), `${name} equals the plaintext copy`)
  }
})

t.test('WeCom sample (receiveId as appId)', async (t) => {
  const x = v.wecom_doc_sample_decrypt_via_easywechat
  const crypt = new MsgCrypt({ token: x.token, encodingAESKey: x.encodingAESKey, appId: x.receiveId })
  t.equal(crypt.signature(x.timestamp, x.nonce, x.Encrypt), x.msgSignature)
  const xml = crypt.decrypt(x.Encrypt)
  t.equal(xml, x.derived_decryptedXml)
  for (const [name, value] of Object.entries(x.expectedFields)) {
    t.match(xml, new RegExp(`<${name}>(<!\\[CDATA\\[)?${value}(\\]\\]>)?</${name}>`), name)
  }
})

t.test('open-data decrypt and watermark', async (t) => {
  const x = v.miniprogram_userinfo_decrypt_official_demo
  const data = decryptOpenData({ sessionKey: x.sessionKey, encryptedData: x.encryptedData, iv: x.iv, appId: x.appId })
  t.same(data, x.expectedDecrypted)
  t.same(data, JSON.parse(x.derived_decryptedRawString))
  t.equal((data.watermark as { appid: string }).appid, x.appId)
})

t.test('rawData signature', async (t) => {
  const x = v.miniprogram_rawdata_signature_official_doc
  t.equal(rawDataSignature(x.rawData, x.sessionKey), x.expectedSignature)
})

t.test('login-state HMAC (raw session_key as key) and the checksession signature', async (t) => {
  const x = v.miniprogram_login_state_hmac_official_doc
  t.equal(loginStateSignature(x.sessionKey, x.message), x.expectedSignature)
  t.equal(loginStateSignature(x.sessionKey, ''), x.derived_checksession_signature_hmac_key_sessionKey_msg_empty)
  t.equal(loginStateSignature(x.sessionKey), x.derived_checksession_signature_hmac_key_sessionKey_msg_empty)
})
