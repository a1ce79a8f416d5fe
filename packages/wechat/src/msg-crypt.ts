import { createCipheriv, createDecipheriv, randomBytes, type Decipher } from 'node:crypto'
import { AesKeyInvalidError, AppIdMismatchError, CiphertextInvalidError, SignatureMismatchError } from './errors.js'
import { msgSignature, signaturesEqual } from './signatures.js'

const BLOCK = 32
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/
const AES_BLOCK = 16
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * PERFORMANCE DEVICE: hand-chained AES-CBC (one ECB decipher kept per MsgCrypt, CBC's XOR done in JS;
 * #cbcDecrypt below). Gain measured 2026-12-03 (load average 13–20, other work on the machine): 2.5–2.8 µs per
 * push, decrypt of a text push 3.2–4.2 µs against 5.8–6.1 with a new decipher each (medians of two runs
 * of 5–6 alternated rounds, every round 1.6–5.9 µs; `npx tsx bench/devices.ts
 * --devices msg-crypt`): about 3 % of cs-messaging's CPU per push. `pnpm bench:push` cannot resolve it.
 * Off: WECHAT_AES_ECB_CHAINING=0 (read once at start): a new aes-256-cbc decipher per message.
 */
const ECB_CHAINING = process.env.WECHAT_AES_ECB_CHAINING !== '0'

export interface MsgCryptOptions {
  /** The push Token configured in the console. */
  token: string
  /** The 43-character EncodingAESKey. */
  encodingAESKey: string
  /** Our AppID: the one every ciphertext must end with. */
  appId: string
}

export interface EncryptedReply {
  Encrypt: string
  MsgSignature: string
  TimeStamp: number
  Nonce: string
}

/**
 * WXBizMsgCrypt: AES-256-CBC with IV = key[0..16), PKCS#7 to 32-byte blocks, plaintext
 * random(16) ‖ uint32be(len) ‖ msg ‖ appid. Strict: any malformed input is rejected with a typed error.
 */
export class MsgCrypt {
  readonly #token: string
  readonly #key: Buffer
  readonly #iv: Buffer
  readonly #appId: Buffer
  /**
   * One AES-256-ECB decipher for every message: ECB keeps no state between blocks, so it never needs a
   * new OpenSSL context (creating one per push cost more than the decryption); decrypt() does CBC's
   * chaining itself. Without padding and fed whole blocks, update() returns exactly what it was given.
   */
  readonly #blocks: Decipher

  constructor ({ token, encodingAESKey, appId }: MsgCryptOptions) {
    if (typeof encodingAESKey !== 'string' || encodingAESKey.length !== 43 || !BASE64.test(encodingAESKey + '=')) throw new AesKeyInvalidError()
    const key = Buffer.from(encodingAESKey + '=', 'base64')
    if (key.length !== 32) throw new AesKeyInvalidError()
    this.#token = token
    this.#key = key
    this.#iv = key.subarray(0, 16)
    this.#appId = Buffer.from(appId, 'utf8')
    this.#blocks = createDecipheriv('aes-256-ecb', key, null).setAutoPadding(false)
  }

  signature (timestamp: string, nonce: string, encrypt: string): string {
    return msgSignature(this.#token, timestamp, nonce, encrypt)
  }

  /** Throws WECHAT_SIGNATURE_MISMATCH unless msg_signature covers this ciphertext. */
  verify (timestamp: string, nonce: string, encrypt: string, presented: unknown): void {
    if (!signaturesEqual(this.signature(timestamp, nonce, encrypt), presented)) throw new SignatureMismatchError()
  }

  /** Returns the message text (XML or JSON) inside `Encrypt`, after checking padding, length and AppID. */
  decrypt (encrypt: string): string {
    if (typeof encrypt !== 'string' || encrypt.length === 0) throw new CiphertextInvalidError('not base64')
    const data = Buffer.from(encrypt, 'base64')
    // Canonical base64 only: Node's decoder skips what it cannot read (and takes base64url), so a text
    // is base64 exactly when it encodes back to itself. Cheaper than a regular expression over it.
    if (data.length === 0 || data.toString('base64') !== encrypt) throw new CiphertextInvalidError('not base64')
    if (data.length % AES_BLOCK !== 0) throw new CiphertextInvalidError('length is not a multiple of the AES block')
    const plain = this.#cbcDecrypt(data)
    const pad = plain[plain.length - 1] ?? 0
    if (pad < 1 || pad > BLOCK || pad > plain.length) throw new CiphertextInvalidError('bad padding')
    for (let i = plain.length - pad; i < plain.length; i++) {
      if (plain[i] !== pad) throw new CiphertextInvalidError('bad padding')
    }
    const body = plain.subarray(0, plain.length - pad)
    if (body.length < 20) throw new CiphertextInvalidError('too short')
    const msgLen = body.readUInt32BE(16)
    if (20 + msgLen > body.length) throw new CiphertextInvalidError('message length out of range')
    const appId = body.subarray(20 + msgLen)
    if (!appId.equals(this.#appId)) throw new AppIdMismatchError()
    try {
      return utf8.decode(body.subarray(20, 20 + msgLen))
    } catch {
      throw new CiphertextInvalidError('message is not UTF-8')
    }
  }

  /** AES-256-CBC decryption of whole blocks: P[i] = D(C[i]) xor C[i-1], with C[-1] the IV. */
  #cbcDecrypt (data: Buffer): Buffer {
    if (!ECB_CHAINING) {
      const cbc = createDecipheriv('aes-256-cbc', this.#key, this.#iv).setAutoPadding(false)
      return Buffer.concat([cbc.update(data), cbc.final()])
    }
    // decrypt() has checked that the length is whole blocks, so nothing is ever left buffered in #blocks.
    const plain = this.#blocks.update(data)
    const iv = this.#iv
    for (let i = 0; i < AES_BLOCK; i++) plain[i]! ^= iv[i]!
    for (let i = AES_BLOCK; i < plain.length; i++) plain[i]! ^= data[i - AES_BLOCK]!
    return plain
  }

  /** Encrypts a message the way WeChat does; `random` is for reproducing published vectors. */
  encrypt (message: string, random: Buffer = randomBytes(16)): string {
    if (random.length !== 16) throw new TypeError('random must be 16 bytes')
    const msg = Buffer.from(message, 'utf8')
    const len = Buffer.alloc(4)
    len.writeUInt32BE(msg.length)
    const full = Buffer.concat([random, len, msg, this.#appId])
    const pad = BLOCK - (full.length % BLOCK)
    const cipher = createCipheriv('aes-256-cbc', this.#key, this.#iv)
    cipher.setAutoPadding(false)
    return Buffer.concat([cipher.update(Buffer.concat([full, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64')
  }

  /** A passive reply in safe mode: the Nonce echoes the request's nonce. */
  encryptReply (reply: string, nonce: string, timestamp: number = Math.floor(Date.now() / 1000), random?: Buffer): EncryptedReply {
    const encrypt = this.encrypt(reply, random)
    return { Encrypt: encrypt, MsgSignature: this.signature(String(timestamp), nonce, encrypt), TimeStamp: timestamp, Nonce: nonce }
  }
}
