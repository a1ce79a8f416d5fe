import { randomBytes, randomInt } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { MsgCrypt, signaturesEqual, urlSignature } from '@weapp/wechat'
import type { UserActionKind } from './conversations.js'
import { PUSH_DELIVERIES, PUSH_TIMEOUT_MS } from './defaults.js'
import { PushInvalidError } from './errors.js'
import { cdata, parseReplyBody, serializeMessage, type PushFormat, type PushMessage } from './push-format.js'

export type { PushFormat, PushMessage } from './push-format.js'

/** The console's encryption modes (docs/wechat/push.md#deliveries). */
export type PushMode = 'plaintext' | 'compatible' | 'safe'

/**
 * Deliberately bad pushes, for testing that a receiver refuses them. Each one breaks exactly one thing
 * and keeps everything else valid (a truncated ciphertext is still correctly signed, for example).
 */
export const PUSH_TAMPERS = [
  /** `signature` is random hex. */
  'forged-signature',
  /** No `signature` and no `msg_signature`. */
  'missing-signature',
  /** `msg_signature` is random hex (compatible and safe modes). */
  'wrong-msg-signature',
  /** Correctly signed, with a timestamp one hour old. */
  'stale-timestamp',
  /** The ciphertext loses its last AES block; the signatures cover the truncated text. */
  'truncated-ciphertext',
  /** Encrypted for another AppID (the trailing appid does not match). */
  'wrong-appid',
  /** Encrypted with another EncodingAESKey (garbage after decryption). */
  'wrong-aes-key',
  /** Compatible mode: the plaintext copy names another sender and altered Content; Encrypt is genuine. */
  'mismatched-plaintext',
  /** The body is cut in half (the signatures stay valid: they do not cover a plaintext body). */
  'malformed-body'
] as const
export type PushTamper = typeof PUSH_TAMPERS[number]

const ENCRYPTED_ONLY: ReadonlySet<PushTamper> = new Set(['wrong-msg-signature', 'truncated-ciphertext', 'wrong-appid', 'wrong-aes-key'])
const STALE_BY_SEC = 3600
const FOREIGN_APP_ID = 'wx0000000000000000'
const FORGED_OPENID = 'oFORGEDxxxxxxxxxxxxxxxxxxxxx'
/** How much of an answer body an attempt report keeps. */
const REPORTED_BODY_CHARS = 4096

/** Where and how an app receives pushes: what its console configuration says. */
export interface PushTarget {
  url: string
  /** The push Token. */
  token: string
  /** The 43-character EncodingAESKey; needed for compatible and safe modes. */
  encodingAESKey?: string
  mode: PushMode
  format: PushFormat
}

export interface PushOptions extends PushTarget {
  appId: string
  /** ToUserName, FromUserName, CreateTime, MsgType, …; MsgId as a string (digits are written as a bare 64-bit integer in JSON). */
  message: PushMessage
  tamper?: PushTamper
  /** How long each delivery waits for an answer. Default 5000, as WeChat. */
  timeoutMs?: number
  /** Deliveries in total. Default 3, as WeChat (docs/wechat/limits.md#retry-count). */
  deliveries?: number
  /** Pause between deliveries. Default 0: WeChat re-sends as soon as it gives up on an answer. */
  retryDelayMs?: number
  /**
   * Each delivery carries a fresh timestamp, nonce and ciphertext by default (the message itself, MsgId and
   * CreateTime, never changes). false re-sends the first delivery byte for byte.
   */
  resignRetries?: boolean
  /** Clock for the signing timestamp, ms since epoch. Default Date.now. */
  now?: () => number
}

/** One signed push, ready to POST. */
export interface BuiltPush {
  url: string
  query: Record<string, string>
  contentType: string
  body: string
  timestamp: string
  nonce: string
}

/** A passive reply WeChat accepts from a mini-program's push URL. */
export type PushReply =
  | { kind: 'success' }
  | { kind: 'empty' }
  | { kind: 'transfer_customer_service', encrypted: boolean, message: Record<string, unknown> }

export interface ReplyVerdict {
  acceptable: boolean
  /** Why an answer was refused. */
  reason?: string
  reply?: PushReply
}

export interface PushAttempt extends ReplyVerdict {
  /** 1-based. */
  attempt: number
  timestamp: string
  nonce: string
  /** HTTP status, absent when no answer came. */
  status?: number
  /** The answer body (its first 4096 characters). */
  body?: string
  /** From sending the request to the end of the answer (or to giving up). */
  latencyMs: number
  error?: 'timeout' | 'network'
}

export interface PushResult {
  /** Whether some delivery got an answer WeChat accepts. */
  acceptable: boolean
  deliveries: number
  attempts: PushAttempt[]
  /** The accepted answer. */
  reply?: PushReply
}

/** Checks options at once, before anything is sent: bad ones throw SIM_PUSH_INVALID. */
function prepare (opts: PushOptions): { crypt?: MsgCrypt, timeoutMs: number, deliveries: number, retryDelayMs: number } {
  if (typeof opts !== 'object' || opts === null) throw new PushInvalidError('options must be an object')
  let url: URL
  try {
    url = new URL(opts.url)
  } catch {
    throw new PushInvalidError('url must be an absolute http(s) URL')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PushInvalidError('url must be an absolute http(s) URL')
  if (typeof opts.token !== 'string' || opts.token === '') throw new PushInvalidError('token must be a non-empty string')
  if (typeof opts.appId !== 'string' || opts.appId === '') throw new PushInvalidError('appId must be a non-empty string')
  if (!['plaintext', 'compatible', 'safe'].includes(opts.mode)) throw new PushInvalidError('mode must be plaintext, compatible or safe')
  if (opts.format !== 'xml' && opts.format !== 'json') throw new PushInvalidError('format must be xml or json')
  if (typeof opts.message !== 'object' || opts.message === null || Array.isArray(opts.message)) throw new PushInvalidError('message must be an object')
  if (typeof opts.message.MsgType !== 'string') throw new PushInvalidError('message.MsgType must be a string')
  if (opts.tamper !== undefined) {
    if (!(PUSH_TAMPERS as readonly string[]).includes(opts.tamper)) throw new PushInvalidError(`tamper must be one of ${PUSH_TAMPERS.join(', ')}`)
    if (opts.mode === 'plaintext' && ENCRYPTED_ONLY.has(opts.tamper)) throw new PushInvalidError(`${opts.tamper} needs compatible or safe mode`)
    if (opts.tamper === 'mismatched-plaintext' && opts.mode !== 'compatible') throw new PushInvalidError('mismatched-plaintext needs compatible mode')
  }
  try {
    serializeMessage(opts.message, opts.format)
  } catch (err) {
    throw new PushInvalidError((err as Error).message)
  }
  const count = (name: string, value: number | undefined, fallback: number, min: number): number => {
    const v = value ?? fallback
    if (!Number.isInteger(v) || v < min) throw new PushInvalidError(`${name} must be an integer >= ${min}`)
    return v
  }
  const result = {
    timeoutMs: count('timeoutMs', opts.timeoutMs, PUSH_TIMEOUT_MS, 1),
    deliveries: count('deliveries', opts.deliveries, PUSH_DELIVERIES, 1),
    retryDelayMs: count('retryDelayMs', opts.retryDelayMs, 0, 0)
  }
  if (opts.mode === 'plaintext') return result
  try {
    return { ...result, crypt: new MsgCrypt({ token: opts.token, encodingAESKey: opts.encodingAESKey ?? '', appId: opts.appId }) }
  } catch {
    throw new PushInvalidError('compatible and safe modes need a valid 43-character encodingAESKey')
  }
}

/**
 * Builds one delivery exactly as WeChat does (docs/wechat/push.md#deliveries): query signature, timestamp, nonce,
 * openid, plus encrypt_type=aes and msg_signature when encrypted; the body in the mode's shape.
 */
export function buildPush (opts: PushOptions, nowMs: number = (opts.now ?? Date.now)()): BuiltPush {
  const { crypt } = prepare(opts)
  return build(opts, crypt, nowMs)
}

function build (opts: PushOptions, crypt: MsgCrypt | undefined, nowMs: number): BuiltPush {
  const { message, format, mode, tamper, token } = opts
  const timestamp = String(Math.floor(nowMs / 1000) - (tamper === 'stale-timestamp' ? STALE_BY_SEC : 0))
  // WeChat's nonces are decimal numbers.
  const nonce = String(randomInt(100_000_000, 2 ** 32))
  const plain = serializeMessage(message, format)

  let body = plain
  let encrypt: string | undefined
  if (crypt !== undefined) {
    encrypt = encryptFor(opts, crypt, plain)
    if (mode === 'safe') {
      body = format === 'json'
        ? JSON.stringify({ ToUserName: message.ToUserName, Encrypt: encrypt })
        : `<xml><ToUserName>${cdata(String(message.ToUserName ?? ''))}</ToUserName><Encrypt>${cdata(encrypt)}</Encrypt></xml>`
    } else {
      const shown = tamper === 'mismatched-plaintext'
        ? { ...message, FromUserName: FORGED_OPENID, ...(typeof message.Content === 'string' ? { Content: `[tampered] ${message.Content}` } : {}) }
        : message
      body = serializeMessage({ ...shown, Encrypt: encrypt }, format)
    }
  }
  if (tamper === 'malformed-body') body = body.slice(0, Math.floor(body.length / 2))

  const query: Record<string, string> = {}
  if (tamper !== 'missing-signature') query.signature = tamper === 'forged-signature' ? randomHex() : urlSignature(token, timestamp, nonce)
  query.timestamp = timestamp
  query.nonce = nonce
  if (typeof message.FromUserName === 'string' && message.FromUserName !== '') query.openid = message.FromUserName
  if (encrypt !== undefined) {
    query.encrypt_type = 'aes'
    if (tamper !== 'missing-signature') query.msg_signature = tamper === 'wrong-msg-signature' ? randomHex() : crypt!.signature(timestamp, nonce, encrypt)
  }
  const url = new URL(opts.url)
  for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value)
  return { url: url.toString(), query, contentType: format === 'xml' ? 'text/xml' : 'application/json', body, timestamp, nonce }
}

function encryptFor (opts: PushOptions, crypt: MsgCrypt, plain: string): string {
  if (opts.tamper === 'wrong-appid') return new MsgCrypt({ token: opts.token, encodingAESKey: opts.encodingAESKey!, appId: FOREIGN_APP_ID }).encrypt(plain)
  if (opts.tamper === 'wrong-aes-key') {
    let other = randomBytes(32).toString('base64').slice(0, 43)
    while (other === opts.encodingAESKey) other = randomBytes(32).toString('base64').slice(0, 43)
    return new MsgCrypt({ token: opts.token, encodingAESKey: other, appId: opts.appId }).encrypt(plain)
  }
  const encrypt = crypt.encrypt(plain)
  if (opts.tamper !== 'truncated-ciphertext') return encrypt
  const raw = Buffer.from(encrypt, 'base64')
  return raw.subarray(0, raw.length - 16).toString('base64')
}

/**
 * Delivers a push as WeChat does: POST, wait `timeoutMs` (5 s) for an answer, deliver again after a
 * timeout, a network failure, a non-2xx status or an answer WeChat would not accept, `deliveries` (3)
 * times in all. Resolves with every attempt; never throws for what the receiver did.
 */
export async function sendPush (opts: PushOptions): Promise<PushResult> {
  const { crypt, timeoutMs, deliveries, retryDelayMs } = prepare(opts)
  const now = opts.now ?? Date.now
  const attempts: PushAttempt[] = []
  let first: BuiltPush | undefined
  for (let n = 1; n <= deliveries; n++) {
    if (n > 1 && retryDelayMs > 0) await sleep(retryDelayMs)
    const built = first !== undefined && opts.resignRetries === false ? first : build(opts, crypt, now())
    first ??= built
    const attempt = await deliver(built, timeoutMs, n, (status, text) =>
      evaluateReply(status, text, { mode: opts.mode, format: opts.format, token: opts.token, nonce: built.nonce, message: opts.message, crypt }))
    attempts.push(attempt)
    if (attempt.acceptable) return { acceptable: true, deliveries: n, attempts, ...(attempt.reply === undefined ? {} : { reply: attempt.reply }) }
  }
  return { acceptable: false, deliveries: attempts.length, attempts }
}

async function deliver (built: BuiltPush, timeoutMs: number, n: number, judge: (status: number, text: string) => ReplyVerdict): Promise<PushAttempt> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const started = performance.now()
  const base = { attempt: n, timestamp: built.timestamp, nonce: built.nonce }
  try {
    const res = await fetch(built.url, { method: 'POST', headers: { 'content-type': built.contentType }, body: built.body, signal: controller.signal })
    const text = await res.text()
    const latencyMs = Math.round(performance.now() - started)
    return { ...base, status: res.status, body: text.slice(0, REPORTED_BODY_CHARS), latencyMs, ...judge(res.status, text) }
  } catch (err) {
    const latencyMs = Math.round(performance.now() - started)
    if (controller.signal.aborted) return { ...base, latencyMs, error: 'timeout', acceptable: false, reason: `no answer within ${timeoutMs} ms` }
    return { ...base, latencyMs, error: 'network', acceptable: false, reason: networkReason(err) }
  } finally {
    clearTimeout(timer)
  }
}

export interface ReplyContext {
  mode: PushMode
  format: PushFormat
  token: string
  /** The nonce of the delivery being answered: an encrypted reply echoes it. */
  nonce: string
  /** The message being answered. */
  message: PushMessage
  /** Present in compatible and safe modes. */
  crypt?: MsgCrypt | undefined
}

/**
 * Would WeChat accept this answer (docs/wechat/push.md#replies)? `success` or a 0-byte body always; otherwise only
 * a transfer_customer_service reply to a user message, in the push's format, with ToUserName/FromUserName
 * swapped, encrypted in safe mode (msg_signature valid, Nonce echoed), plain or encrypted in compatible mode.
 */
export function evaluateReply (status: number, text: string, ctx: ReplyContext): ReplyVerdict {
  if (status < 200 || status > 299) return refuse(`HTTP ${status}`)
  if (text === '') return { acceptable: true, reply: { kind: 'empty' } }
  if (text === 'success') return { acceptable: true, reply: { kind: 'success' } }
  const outer = parseReplyBody(text, ctx.format)
  if (outer === undefined) return refuse(`not "success", an empty body or a ${ctx.format.toUpperCase()} reply`)

  let fields: Record<string, unknown> = outer
  let encrypted = false
  if (outer.Encrypt !== undefined) {
    if (ctx.crypt === undefined) return refuse('an encrypted reply in plaintext mode')
    const { Encrypt, MsgSignature, TimeStamp, Nonce } = outer
    if (typeof Encrypt !== 'string' || typeof MsgSignature !== 'string' || (typeof TimeStamp !== 'string' && typeof TimeStamp !== 'number') || typeof Nonce !== 'string') {
      return refuse('an encrypted reply needs Encrypt, MsgSignature, TimeStamp and Nonce')
    }
    if (Nonce !== ctx.nonce) return refuse('the reply Nonce does not echo the push nonce')
    if (!signaturesEqual(ctx.crypt.signature(String(TimeStamp), Nonce, Encrypt), MsgSignature)) return refuse('the reply MsgSignature does not match')
    let inner: Record<string, unknown> | undefined
    try {
      inner = parseReplyBody(ctx.crypt.decrypt(Encrypt), ctx.format)
    } catch (err) {
      return refuse(`the reply does not decrypt: ${(err as Error).message}`)
    }
    if (inner === undefined) return refuse(`the decrypted reply is not ${ctx.format.toUpperCase()}`)
    fields = inner
    encrypted = true
  } else if (ctx.mode === 'safe') {
    return refuse('safe mode needs an encrypted reply (only "success" and an empty body may be plain)')
  }

  if (fields.MsgType !== 'transfer_customer_service') return refuse(`MsgType ${JSON.stringify(fields.MsgType)} is no passive reply a mini-program may send`)
  if (ctx.message.MsgType === 'event') return refuse('only user messages can be transferred to customer service, not events')
  if (fields.ToUserName !== ctx.message.FromUserName || fields.FromUserName !== ctx.message.ToUserName) {
    return refuse('ToUserName/FromUserName must be the push\'s FromUserName/ToUserName')
  }
  if (!/^[0-9]+$/.test(String(fields.CreateTime ?? ''))) return refuse('CreateTime must be a number')
  return { acceptable: true, reply: { kind: 'transfer_customer_service', encrypted, message: fields } }
}

/**
 * The user action a push stands for: a user message opens the 48-hour window, entering the session
 * (user_enter_tempsession) the 1-minute one; other events open nothing.
 */
export function userActionForMessage (message: PushMessage): UserActionKind | undefined {
  if (message.MsgType === 'event') return message.Event === 'user_enter_tempsession' ? 'enter_session' : undefined
  return typeof message.MsgType === 'string' && message.MsgType !== '' ? 'message' : undefined
}

function refuse (reason: string): ReplyVerdict {
  return { acceptable: false, reason }
}

function randomHex (): string {
  return randomBytes(20).toString('hex')
}

/** fetch hides the reason in `cause` (an AggregateError of per-address errors when connecting fails). */
function networkReason (err: unknown): string {
  const cause = (err as { cause?: unknown }).cause
  let e: unknown = cause ?? err
  while (typeof e === 'object' && e !== null) {
    const { code, errors } = e as { code?: unknown, errors?: unknown[] }
    if (typeof code === 'string') return `network error: ${code}`
    e = errors?.[0]
  }
  // fetch refuses some ports outright ("bad port"), with no code.
  return `network error: ${cause instanceof Error ? cause.message : (err as Error).message}`
}
