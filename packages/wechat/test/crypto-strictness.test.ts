import { createCipheriv } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { decryptOpenData, encryptOpenData, MsgCrypt } from '../src/index.js'

const { vectors: v } = JSON.parse(readFileSync(new URL('./fixtures/vectors.json', import.meta.url), 'utf8'))
const safe = v.message_push_safe_mode_json_official_doc
const demo = v.miniprogram_userinfo_decrypt_official_demo

const crypt = new MsgCrypt({ token: safe.token, encodingAESKey: safe.encodingAESKey, appId: safe.appId })
const key = Buffer.from(safe.encodingAESKey + '=', 'base64')

/** Encrypts an arbitrary, already padded buffer with the vector's key: lets tests forge bad layouts. */
function forge (plain: Buffer): string {
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16))
  c.setAutoPadding(false)
  return Buffer.concat([c.update(plain), c.final()]).toString('base64')
}

function pad32 (buf: Buffer): Buffer {
  const n = 32 - (buf.length % 32)
  return Buffer.concat([buf, Buffer.alloc(n, n)])
}

function layout (msg: string, appId: string, msgLen = Buffer.byteLength(msg)): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(msgLen)
  return Buffer.concat([Buffer.alloc(16, 7), len, Buffer.from(msg), Buffer.from(appId)])
}

t.test('MsgCrypt rejects a bad EncodingAESKey at construction', async (t) => {
  for (const encodingAESKey of ['', 'A'.repeat(42), 'A'.repeat(44), '!'.repeat(43)]) {
    t.throws(() => new MsgCrypt({ token: 't', encodingAESKey, appId: 'wx' }), { code: 'WECHAT_AES_KEY_INVALID' }, JSON.stringify(encodingAESKey))
  }
})

t.test('MsgCrypt.decrypt strictness', async (t) => {
  const good = safe.body.Encrypt as string
  t.equal(crypt.decrypt(forge(pad32(layout('hi', safe.appId)))), 'hi', 'the forging helper itself is sound')

  t.throws(() => crypt.decrypt('not base64!'), { code: 'WECHAT_CIPHERTEXT_INVALID', message: /base64/ }, 'bad base64')
  t.throws(() => crypt.decrypt(''), { code: 'WECHAT_CIPHERTEXT_INVALID' }, 'empty')
  t.throws(() => crypt.decrypt(Buffer.from(good, 'base64').subarray(0, 100).toString('base64')),
    { code: 'WECHAT_CIPHERTEXT_INVALID', message: /multiple/ }, 'truncated mid-block')
  t.throws(() => crypt.decrypt(Buffer.from(good, 'base64').subarray(0, 192).toString('base64')),
    { code: 'WECHAT_CIPHERTEXT_INVALID', message: /padding/ }, 'truncated on a block boundary')

  const body = layout('hello', safe.appId)
  const n = 32 - (body.length % 32)
  t.throws(() => crypt.decrypt(forge(Buffer.concat([body, Buffer.alloc(n - 1, n), Buffer.from([n + 1])]))),
    { code: 'WECHAT_CIPHERTEXT_INVALID', message: /padding/ }, 'inconsistent padding bytes')
  t.throws(() => crypt.decrypt(forge(Buffer.concat([body, Buffer.alloc(n - 1, 0), Buffer.from([0])]))),
    { code: 'WECHAT_CIPHERTEXT_INVALID', message: /padding/ }, 'zero padding byte')
  t.throws(() => crypt.decrypt(forge(Buffer.concat([layout('x'.repeat(26), safe.appId), Buffer.alloc(32, 33)]))),
    { code: 'WECHAT_CIPHERTEXT_INVALID', message: /padding/ }, 'padding value above 32')

  t.throws(() => crypt.decrypt(forge(pad32(layout('hello', 'wx0000000000000000')))), { code: 'WECHAT_APPID_MISMATCH' }, 'other AppID')
  t.throws(() => crypt.decrypt(forge(pad32(layout('hello', '')))), { code: 'WECHAT_APPID_MISMATCH' }, 'no AppID')
  const other = new MsgCrypt({ token: safe.token, encodingAESKey: safe.encodingAESKey, appId: 'wx0000000000000000' })
  t.throws(() => other.decrypt(good), { code: 'WECHAT_APPID_MISMATCH' }, 'official vector under another AppID')

  const wrongKey = new MsgCrypt({ token: safe.token, encodingAESKey: 'B'.repeat(43), appId: safe.appId })
  t.throws(() => wrongKey.decrypt(good), { code: 'WECHAT_CIPHERTEXT_INVALID' }, 'wrong key')

  t.throws(() => crypt.decrypt(forge(pad32(layout('hello', safe.appId, 5000)))),
    { code: 'WECHAT_CIPHERTEXT_INVALID', message: /length/ }, 'msg_len beyond the buffer')
  t.throws(() => crypt.decrypt(forge(pad32(layout('hello', safe.appId, 3)))), { code: 'WECHAT_APPID_MISMATCH' },
    'msg_len too short leaves message bytes in the AppID tail')
  t.throws(() => crypt.decrypt(forge(pad32(Buffer.alloc(18, 1)))), { code: 'WECHAT_CIPHERTEXT_INVALID', message: /short/ }, 'shorter than the header')
  t.throws(() => crypt.decrypt(forge(pad32(Buffer.concat([layout('', safe.appId, 2).subarray(0, 20), Buffer.from([0xff, 0xfe]), Buffer.from(safe.appId)])))),
    { code: 'WECHAT_CIPHERTEXT_INVALID', message: /UTF-8/ }, 'message that is not UTF-8')
})

t.test('MsgCrypt.decrypt takes canonical base64 only', async (t) => {
  const good = safe.body.Encrypt as string
  const urlSafe = good.replace(/\+/g, '-').replace(/\//g, '_')
  t.not(urlSafe, good, 'the vector has + or / to swap')
  t.throws(() => crypt.decrypt(urlSafe), { code: 'WECHAT_CIPHERTEXT_INVALID', message: /base64/ }, 'base64url alphabet')
  const padded = forge(pad32(layout('x'.repeat(11), safe.appId)))
  t.match(padded, /=$/, 'a ciphertext that needs padding')
  t.throws(() => crypt.decrypt(padded.replace(/=+$/, '')), { code: 'WECHAT_CIPHERTEXT_INVALID', message: /base64/ }, 'padding left out')
  t.throws(() => crypt.decrypt(good.slice(0, 40) + ' ' + good.slice(40)), { code: 'WECHAT_CIPHERTEXT_INVALID', message: /base64/ }, 'a space inside')
  t.throws(() => crypt.decrypt(good + '\n'), { code: 'WECHAT_CIPHERTEXT_INVALID', message: /base64/ }, 'a trailing newline')
  // Same bytes, non-canonical spare bits in the last character: decoders differ on these, so we refuse.
  const data = padded.replace(/=+$/, '')
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  const tweaked = data.slice(0, -1) + alphabet[alphabet.indexOf(data.at(-1)!) + 1]! + padded.slice(data.length)
  t.same(Buffer.from(tweaked, 'base64'), Buffer.from(padded, 'base64'), 'the tweak changes no decoded byte')
  t.throws(() => crypt.decrypt(tweaked), { code: 'WECHAT_CIPHERTEXT_INVALID', message: /base64/ }, 'non-canonical spare bits')
  t.equal(crypt.decrypt(padded), 'x'.repeat(11), 'the canonical form decrypts')
})

t.test('MsgCrypt.decrypt: one decipher serves every message, whatever came before', async (t) => {
  // The AES context is kept across calls (msg-crypt.ts): a refused ciphertext must leave nothing behind,
  // and every message must come out as it went in, whatever its length and order.
  const messages = Array.from({ length: 40 }, (_, i) => `message ${i} ` + '好'.repeat(i * 7) + 'z'.repeat(i % 5))
  const refused = [
    forge(Buffer.concat([layout('hello', safe.appId), Buffer.alloc(5, 0)]).subarray(0, 32)),
    Buffer.from(safe.body.Encrypt as string, 'base64').subarray(0, 100).toString('base64'),
    forge(pad32(layout('hello', 'wx0000000000000000')))
  ]
  for (let round = 0; round < 3; round++) {
    for (const [i, message] of messages.entries()) {
      const sealed = crypt.encrypt(message)
      t.equal(crypt.decrypt(sealed), message, `round ${round}, message ${i}`)
      t.throws(() => crypt.decrypt(refused[i % refused.length]!), 'the next one is refused')
    }
  }
  t.equal(crypt.decrypt(safe.body.Encrypt as string), crypt.decrypt(safe.body.Encrypt as string), 'the official vector twice over')
})

t.test('MsgCrypt.verify rejects a tampered ciphertext or signature', async (t) => {
  const { timestamp, nonce, msg_signature: sig } = safe.query
  const tampered = 'A' + (safe.body.Encrypt as string).slice(1)
  t.throws(() => crypt.verify(timestamp, nonce, tampered, sig), { code: 'WECHAT_SIGNATURE_MISMATCH' })
  t.throws(() => crypt.verify(timestamp, String(Number(nonce) + 1), safe.body.Encrypt, sig), { code: 'WECHAT_SIGNATURE_MISMATCH' })
  t.throws(() => crypt.verify(timestamp, nonce, safe.body.Encrypt, undefined), { code: 'WECHAT_SIGNATURE_MISMATCH' })
  t.throws(() => crypt.verify(timestamp, nonce, safe.body.Encrypt, sig.slice(1)), { code: 'WECHAT_SIGNATURE_MISMATCH' })
})

t.test('decryptOpenData strictness', async (t) => {
  const base = { sessionKey: demo.sessionKey, encryptedData: demo.encryptedData, iv: demo.iv, appId: demo.appId }
  t.ok(decryptOpenData(base))

  t.throws(() => decryptOpenData({ ...base, encryptedData: 'not base64!' }), { code: 'WECHAT_OPEN_DATA_INVALID', message: /base64/ }, 'bad base64 data')
  t.throws(() => decryptOpenData({ ...base, sessionKey: '***' }), { code: 'WECHAT_OPEN_DATA_INVALID', message: /session_key/ }, 'bad base64 session_key')
  t.throws(() => decryptOpenData({ ...base, sessionKey: 'AAAA' }), { code: 'WECHAT_OPEN_DATA_INVALID', message: /session_key/ }, 'session_key not 16 bytes')
  t.throws(() => decryptOpenData({ ...base, iv: 'AAAAAAAA' }), { code: 'WECHAT_OPEN_DATA_INVALID', message: /iv/ }, 'iv not 16 bytes')

  const ct = Buffer.from(demo.encryptedData, 'base64')
  t.throws(() => decryptOpenData({ ...base, encryptedData: ct.subarray(0, ct.length - 5).toString('base64') }),
    { code: 'WECHAT_OPEN_DATA_INVALID', message: /multiple of 16/ }, 'truncated mid-block')
  t.throws(() => decryptOpenData({ ...base, encryptedData: ct.subarray(0, ct.length - 16).toString('base64') }),
    { code: 'WECHAT_OPEN_DATA_INVALID' }, 'truncated on a block boundary')
  t.throws(() => decryptOpenData({ ...base, encryptedData: '' }), { code: 'WECHAT_OPEN_DATA_INVALID' }, 'empty')

  t.throws(() => decryptOpenData({ ...base, sessionKey: 'HyVFkGl5F5OQWJZZaNzBBg==' }), { code: 'WECHAT_OPEN_DATA_INVALID' }, 'wrong (rotated) key')

  // Bad padding with the right key: a last block whose pad bytes disagree.
  const k = Buffer.from(demo.sessionKey, 'base64')
  const iv = Buffer.from(demo.iv, 'base64')
  const c = createCipheriv('aes-128-cbc', k, iv)
  c.setAutoPadding(false)
  const badPad = Buffer.concat([c.update(Buffer.concat([Buffer.from('{"a":1}'), Buffer.from([1, 2, 3, 4, 5, 6, 7, 9, 9])])), c.final()])
  t.throws(() => decryptOpenData({ ...base, encryptedData: badPad.toString('base64') }), { code: 'WECHAT_OPEN_DATA_INVALID', message: /padding/ }, 'bad padding')

  t.throws(() => decryptOpenData({ ...base, appId: 'wx0000000000000000' }), { code: 'WECHAT_WATERMARK_MISMATCH' }, 'wrong watermark AppID')
  const noWatermark = encryptOpenData(demo.sessionKey, { openId: 'x' })
  t.throws(() => decryptOpenData({ ...base, ...noWatermark }), { code: 'WECHAT_WATERMARK_MISMATCH' }, 'no watermark')
  const notJson = (() => {
    const e = createCipheriv('aes-128-cbc', k, iv)
    return Buffer.concat([e.update('not json'), e.final()]).toString('base64')
  })()
  t.throws(() => decryptOpenData({ ...base, encryptedData: notJson }), { code: 'WECHAT_OPEN_DATA_INVALID', message: /JSON/ }, 'plaintext not JSON')

  const roundTrip = encryptOpenData(demo.sessionKey, { phoneNumber: '+1 555', watermark: { appid: demo.appId, timestamp: 1 } })
  t.same(decryptOpenData({ ...base, ...roundTrip }), { phoneNumber: '+1 555', watermark: { appid: demo.appId, timestamp: 1 } })
})
