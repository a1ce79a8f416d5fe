import type { InboundMessage } from '@weapp/common'
import { MsgCrypt, signaturesEqual, urlSignature, type EncryptedReply } from '@weapp/wechat'
import {
  BodyEmptyError, BodyFormatUnknownError, BodyMalformedError, EncryptMissingError, EncryptionNotConfiguredError,
  MsgSignatureInvalidError, OptionsInvalidError, PlaintextRefusedError, PushQueryInvalidError, SignatureInvalidError,
  TimestampStaleError
} from '../errors.js'
import { parsePushJson } from './json.js'
import { parsePushXml } from './xml.js'
import { toInboundMessage } from './message.js'

export type PushFormat = 'xml' | 'json'
/** docs/wechat/push.md#deliveries: plaintext; compatible (plaintext fields + Encrypt); safe (Encrypt only). */
export type PushMode = 'plaintext' | 'compatible' | 'safe'

/** The query string as Fastify parsed it: values may be strings, arrays (repeated) or absent. */
export type PushQuery = Record<string, unknown>

export type DecodedPush =
  /** The cloud-hosting reachability probe `{"action":"CheckContainerPath"}`: answered, never recorded. */
  | { kind: 'probe', format: 'json' }
  | {
    kind: 'message'
    /** The format of the push itself: a passive reply uses the same. */
    format: PushFormat
    mode: PushMode
    message: InboundMessage
    /** Echoed in an encrypted reply. */
    nonce: string
  }

export interface PushDecoderOptions {
  /** The push Token. */
  token: string
  appId: string
  /** Absent: plaintext mode only. */
  encodingAESKey?: string | undefined
  /** false: plaintext pushes are refused (safe mode only). */
  allowPlaintext: boolean
  timestampWindowSec: number
  now: () => Date
}

const SIGNATURE = /^[0-9a-fA-F]{40}$/
const TIMESTAMP = /^\d{1,12}$/
const NONCE = /^[A-Za-z0-9_.-]{1,64}$/
const ECHOSTR = /^[\x21-\x7e]{1,512}$/
const PROBE = /^\s*\{\s*"action"\s*:\s*"CheckContainerPath"\s*\}\s*$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

function param (query: PushQuery, name: string, pattern: RegExp): string {
  const value = query[name]
  if (value === undefined || value === '') throw new PushQueryInvalidError(`${name} is missing`)
  if (typeof value !== 'string' || !pattern.test(value)) throw new PushQueryInvalidError(`${name} is malformed`)
  return value
}

/** XML or JSON by the first non-space character, whatever the Content-Type says. */
export function detectFormat (text: string): PushFormat {
  const first = /\S/.exec(text)?.[0]
  if (first === '<') return 'xml'
  if (first === '{') return 'json'
  throw new BodyFormatUnknownError()
}

function parseFields (text: string, format: PushFormat): Record<string, unknown> {
  return format === 'xml' ? parsePushXml(text) : parsePushJson(text)
}

/**
 * Turns a push request into a verified message, or throws a typed 4xx error: the URL signature is
 * always checked, the timestamp must be recent, msg_signature and the AppID inside the ciphertext are
 * checked for encrypted pushes. Nothing here has side effects, so a refused push changes nothing.
 */
export class PushDecoder {
  readonly #token: string
  readonly #crypt: MsgCrypt | null
  readonly #allowPlaintext: boolean
  readonly #windowSec: number
  readonly #now: () => Date

  constructor (opts: PushDecoderOptions) {
    if (typeof opts.token !== 'string' || opts.token.length === 0) throw new OptionsInvalidError('token is required')
    if (typeof opts.appId !== 'string' || opts.appId.length === 0) throw new OptionsInvalidError('appId is required')
    if (!Number.isInteger(opts.timestampWindowSec) || opts.timestampWindowSec < 1) throw new OptionsInvalidError('timestampWindowSec must be a positive integer')
    if (!opts.allowPlaintext && opts.encodingAESKey === undefined) throw new OptionsInvalidError('refusing plaintext needs an encodingAESKey')
    this.#token = opts.token
    this.#crypt = opts.encodingAESKey === undefined ? null : new MsgCrypt({ token: opts.token, encodingAESKey: opts.encodingAESKey, appId: opts.appId })
    this.#allowPlaintext = opts.allowPlaintext
    this.#windowSec = opts.timestampWindowSec
    this.#now = opts.now
  }

  /** GET URL verification: returns echostr when the signature holds (docs/wechat/push.md#url-verification). */
  verifyEcho (query: PushQuery): string {
    this.#checkSigned(query)
    return param(query, 'echostr', ECHOSTR)
  }

  decode (query: PushQuery, body: unknown): DecodedPush {
    const text = bodyText(body)
    const format = detectFormat(text)
    // The cloud-hosting probe comes without a signature; answering it records and reveals nothing.
    if (query.signature === undefined && format === 'json' && PROBE.test(text)) return { kind: 'probe', format }
    const { timestamp, nonce } = this.#checkSigned(query)
    const fields = parseFields(text, format)
    if (format === 'json' && fields.action === 'CheckContainerPath' && Object.keys(fields).length === 1) return { kind: 'probe', format }

    const encryptType = query.encrypt_type
    if (encryptType === 'aes') {
      if (this.#crypt === null) throw new EncryptionNotConfiguredError()
      const presented = query.msg_signature
      if (typeof presented !== 'string' || presented === '') throw new MsgSignatureInvalidError('msg_signature is missing')
      // 40 hex digits before any comparison: a multibyte value of the same length would make the
      // constant-time comparison throw (buffers of different byte lengths), a 500 instead of a refusal.
      if (!SIGNATURE.test(presented)) throw new MsgSignatureInvalidError('malformed')
      const encrypt = fields.Encrypt
      if (typeof encrypt !== 'string' || encrypt === '') throw new EncryptMissingError()
      if (!signaturesEqual(this.#crypt.signature(timestamp, nonce, encrypt), presented)) throw new MsgSignatureInvalidError('mismatch')
      const inner = this.#crypt.decrypt(encrypt)
      const message = toInboundMessage(parseFields(inner, detectFormat(inner)))
      return { kind: 'message', format, mode: fields.MsgType === undefined ? 'safe' : 'compatible', message, nonce }
    }
    if (encryptType !== undefined && encryptType !== 'raw') throw new PushQueryInvalidError('encrypt_type is neither aes nor raw')
    if (!this.#allowPlaintext) throw new PlaintextRefusedError()
    return { kind: 'message', format, mode: 'plaintext', message: toInboundMessage(fields), nonce }
  }

  /** Encrypts a passive reply for an encrypted push (docs/wechat/push.md#encrypted-reply). */
  encryptReply (reply: string, nonce: string, timestamp: number): EncryptedReply {
    if (this.#crypt === null) throw new EncryptionNotConfiguredError()
    return this.#crypt.encryptReply(reply, nonce, timestamp)
  }

  #checkSigned (query: PushQuery): { timestamp: string, nonce: string } {
    const signature = param(query, 'signature', SIGNATURE)
    const timestamp = param(query, 'timestamp', TIMESTAMP)
    const nonce = param(query, 'nonce', NONCE)
    if (!signaturesEqual(urlSignature(this.#token, timestamp, nonce), signature)) throw new SignatureInvalidError()
    const skew = Math.abs(this.#now().getTime() / 1000 - Number(timestamp))
    if (skew > this.#windowSec) throw new TimestampStaleError()
    return { timestamp, nonce }
  }
}

/** The raw body as text: strict UTF-8 (a BOM is dropped), never empty. */
function bodyText (body: unknown): string {
  if (body === undefined || body === null) throw new BodyEmptyError()
  let text: string
  if (typeof body === 'string') text = body
  else if (Buffer.isBuffer(body)) {
    try { text = utf8.decode(body) } catch { throw new BodyMalformedError('body is not valid UTF-8') }
  } else throw new BodyMalformedError('unexpected body type')
  if (text.trim() === '') throw new BodyEmptyError()
  return text
}
