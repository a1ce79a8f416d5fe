import type { IncomingHttpHeaders } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { FormData, Pool, type Dispatcher } from 'undici'
import { errorFromErrcode } from './api-errors.js'
import {
  BusyError, ClosedError, CodeInvalidError, OptionsInvalidError, RequestInvalidError, ResponseInvalidError, TimeoutError,
  UnavailableError, WatermarkMismatchError
} from './errors.js'
import { functionOption, intOption, requireObject, requireString } from './options.js'
import { loginStateSignature } from './signatures.js'

export const DEFAULT_BASE_URL = 'https://api.weixin.qq.com'
export const DEFAULT_TIMEOUT_MS = 5_000
export const DEFAULT_RETRIES = 3
export const DEFAULT_RETRY_BASE_DELAY_MS = 200
const MAX_RETRY_DELAY_MS = 10_000
/** getTempMedia reads at most this much unless told otherwise. */
export const DEFAULT_MEDIA_MAX_BYTES = 20 * 1024 * 1024
const POOL_CONNECTIONS = 64
const REDACTED = '***'

// The request never left this host: retrying cannot run the call twice, whatever it does.
const CONNECT_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT'])
const TIMEOUT_ERROR_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])
const CLOSED_ERROR_CODES = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED'])

export interface WechatClientOptions {
  appId: string
  appSecret: string
  /** Defaults to https://api.weixin.qq.com; a path prefix is kept (useful behind a proxy or the simulator). */
  baseUrl?: string
  /** Per attempt, covering connect, headers and body. */
  timeoutMs?: number
  /** Extra attempts after errcode -1 and network failures (see CallOptions.idempotent). */
  retries?: number
  /** First back-off delay; doubles per attempt, with jitter. */
  retryBaseDelayMs?: number
  /** Use this dispatcher instead of a private Pool. It is not closed by close(): its owner closes it. */
  dispatcher?: Dispatcher
  /** For tests: the back-off sleep. */
  sleep?: (ms: number) => Promise<unknown>
}

export interface CallOptions {
  query?: Record<string, string | number | boolean | undefined>
  /** Sent as JSON (WeChat ignores form-encoded bodies on JSON endpoints). */
  body?: unknown
  /** Sent as multipart/form-data instead of `body` (media/upload). */
  form?: FormData
  /** Added as the access_token query parameter. */
  accessToken?: string
  /**
   * Whether the call may be repeated after a failure that may have reached WeChat (timeout, reset,
   * 5xx). Defaults to true for GET. errcode -1 and connect failures are retried either way.
   */
  idempotent?: boolean
  /** More values to keep out of error messages (the AppSecret and access_token always are). */
  secrets?: string[]
}

export interface Code2SessionResult {
  openid: string
  sessionKey: string
  unionid?: string
}

export interface AccessTokenResult {
  accessToken: string
  /** Seconds, as WeChat reports it. */
  expiresIn: number
}

export interface PhoneNumberResult {
  phoneNumber: string
  purePhoneNumber: string
  countryCode: string
  watermark: { appid: string, timestamp: number }
}

/** A customer-service message (docs/wechat/api.md#sending-a-message); the same shape as @weapp/common's OutboundMessage. */
export type CustomMessage =
  | { msgtype: 'text', text: { content: string } }
  | { msgtype: 'image', image: { media_id: string } }
  | { msgtype: 'link', link: { title: string, description: string, url: string, thumb_url: string } }
  | { msgtype: 'miniprogrampage', miniprogrampage: { title: string, pagepath: string, thumb_media_id: string } }

export interface SendCustomMessageInput {
  accessToken: string
  /** The user's openid. */
  touser: string
  message: CustomMessage
  /** Sends through /cgi-bin/message/custom/business/send for this sub-merchant (客服子商户). */
  businessId?: string | number
}

export type TypingCommand = 'Typing' | 'CancelTyping'

export interface SetTypingInput {
  accessToken: string
  touser: string
  command: TypingCommand
  businessId?: string | number
}

export interface UploadTempMediaInput {
  accessToken: string
  filename: string
  /** e.g. image/jpeg, image/png. */
  contentType: string
  data: Buffer | Uint8Array
  /** Mini-program customer service takes 'image' only (anything else: WECHAT_MEDIA_TYPE_INVALID). */
  type?: string
}

export interface UploadTempMediaResult {
  type: string
  mediaId: string
  /** Unix seconds, as WeChat reports it (a number or a numeric string on the wire). */
  createdAt: number
}

export interface GetTempMediaInput {
  accessToken: string
  mediaId: string
  /** Larger files are refused (WECHAT_RESPONSE_INVALID) before they are read whole. Default 20 MiB. */
  maxBytes?: number
}

export interface TempMedia {
  contentType: string
  /** From Content-Disposition, when WeChat names the file. */
  filename?: string
  body: Buffer
}

type Method = 'GET' | 'POST'

/** One HTTP exchange with WeChat: what came back, before any interpretation. */
interface RawAnswer {
  statusCode: number
  contentType: string
  headers: IncomingHttpHeaders
  body: Buffer
}

const MSGTYPE_FIELDS: Record<CustomMessage['msgtype'], readonly string[]> = {
  text: ['content'],
  image: ['media_id'],
  link: ['title', 'description', 'url', 'thumb_url'],
  miniprogrampage: ['title', 'pagepath', 'thumb_media_id']
}

/** A failed attempt that the retry loop may repeat; `error` is what the caller sees if it gives up. */
class RetryableFailure {
  // eslint-disable-next-line n/handle-callback-err -- a constructor, not a Node-style callback
  constructor (readonly error: Error, readonly always: boolean) {}
}

/**
 * WeChat server API client. errcode ≠ 0 becomes a typed error carrying `errcode`/`errmsg`; -1 is retried
 * with exponential back-off. Error messages name the API path only, never the query (secret, token).
 */
export class WechatClient {
  readonly appId: string
  readonly #secret: string
  readonly #origin: string
  readonly #prefix: string
  readonly #timeoutMs: number
  readonly #retries: number
  readonly #retryBaseDelayMs: number
  readonly #dispatcher: Dispatcher
  readonly #ownsDispatcher: boolean
  readonly #sleep: (ms: number) => Promise<unknown>
  #closed = false

  constructor (options: WechatClientOptions) {
    requireObject('options', options)
    this.appId = requireString('appId', options.appId)
    this.#secret = requireString('appSecret', options.appSecret)
    const base = parseBaseUrl(options.baseUrl ?? DEFAULT_BASE_URL)
    this.#origin = base.origin
    this.#prefix = base.pathname.replace(/\/+$/, '')
    this.#timeoutMs = intOption('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS, 1)
    this.#retries = intOption('retries', options.retries, DEFAULT_RETRIES, 0)
    this.#retryBaseDelayMs = intOption('retryBaseDelayMs', options.retryBaseDelayMs, DEFAULT_RETRY_BASE_DELAY_MS, 0)
    this.#sleep = functionOption('sleep', options.sleep, sleep)
    if (options.dispatcher !== undefined) {
      if (typeof options.dispatcher?.request !== 'function') throw new OptionsInvalidError('dispatcher must be an undici Dispatcher')
      this.#dispatcher = options.dispatcher
      this.#ownsDispatcher = false
    } else {
      this.#dispatcher = new Pool(this.#origin, {
        connections: POOL_CONNECTIONS,
        connect: { timeout: this.#timeoutMs },
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs
      })
      this.#ownsDispatcher = true
    }
  }

  /** GET /sns/jscode2session. The code is single use, so only -1 and connect failures are retried. */
  async code2Session (jsCode: string): Promise<Code2SessionResult> {
    if (typeof jsCode !== 'string' || jsCode.length === 0) throw new CodeInvalidError('js_code is empty')
    const data = await this.callJson('GET', '/sns/jscode2session', {
      query: { appid: this.appId, secret: this.#secret, js_code: jsCode, grant_type: 'authorization_code' },
      idempotent: false
    })
    if (typeof data.openid !== 'string' || data.openid === '' || typeof data.session_key !== 'string' || data.session_key === '') {
      throw new ResponseInvalidError('jscode2session without openid or session_key')
    }
    const result: Code2SessionResult = { openid: data.openid, sessionKey: data.session_key }
    if (typeof data.unionid === 'string' && data.unionid !== '') result.unionid = data.unionid
    return result
  }

  /** GET /cgi-bin/token. Every call retires the previous token (5-minute overlap): prefer a provider. */
  async getAccessToken (): Promise<AccessTokenResult> {
    const data = await this.callJson('GET', '/cgi-bin/token', {
      query: { grant_type: 'client_credential', appid: this.appId, secret: this.#secret }
    })
    return toAccessToken(data, '/cgi-bin/token')
  }

  /** POST /cgi-bin/stable_token. Normal mode returns the current token, so it is safe to repeat; force mode is not. */
  async getStableAccessToken (forceRefresh = false): Promise<AccessTokenResult> {
    const data = await this.callJson('POST', '/cgi-bin/stable_token', {
      body: { grant_type: 'client_credential', appid: this.appId, secret: this.#secret, force_refresh: forceRefresh === true },
      idempotent: forceRefresh !== true
    })
    return toAccessToken(data, '/cgi-bin/stable_token')
  }

  /** GET /wxa/checksession. Resolves when the session_key is still valid; SessionKeyInvalidError (87009) when not. */
  async checkSessionKey ({ accessToken, openid, sessionKey }: { accessToken: string, openid: string, sessionKey: string }): Promise<void> {
    await this.callJson('GET', '/wxa/checksession', {
      accessToken,
      query: { openid, signature: loginStateSignature(sessionKey, ''), sig_method: 'hmac_sha256' },
      secrets: [sessionKey]
    })
  }

  /** POST /wxa/business/getuserphonenumber. The code is single use; the watermark must name our AppID. */
  async getUserPhoneNumber ({ accessToken, code, openid }: { accessToken: string, code: string, openid?: string }): Promise<PhoneNumberResult> {
    if (typeof code !== 'string' || code.length === 0) throw new CodeInvalidError('phone code is empty')
    const data = await this.callJson('POST', '/wxa/business/getuserphonenumber', {
      accessToken,
      body: openid === undefined ? { code } : { code, openid },
      idempotent: false
    })
    const info = data.phone_info as Record<string, unknown> | undefined
    const watermark = info?.watermark as Record<string, unknown> | undefined
    if (typeof info !== 'object' || info === null || typeof info.phoneNumber !== 'string' || typeof info.purePhoneNumber !== 'string' ||
      (typeof info.countryCode !== 'string' && typeof info.countryCode !== 'number') || typeof watermark !== 'object' || watermark === null) {
      throw new ResponseInvalidError('getuserphonenumber without a complete phone_info')
    }
    if (watermark.appid !== this.appId) throw new WatermarkMismatchError()
    return {
      phoneNumber: info.phoneNumber,
      purePhoneNumber: info.purePhoneNumber,
      // The doc types it as a string but its example shows a number.
      countryCode: String(info.countryCode),
      watermark: { appid: watermark.appid, timestamp: Number(watermark.timestamp) }
    }
  }

  /**
   * POST /cgi-bin/message/custom/send (or business/send with a businessId). Not idempotent: a timeout or
   * reset is not repeated (the user might get the message twice); -1 and connect failures are. Errors:
   * WECHAT_SEND_WINDOW_CLOSED (45015), WECHAT_SEND_QUOTA_EXCEEDED (45047), WECHAT_OPENID_INVALID (40003),
   * WECHAT_MEDIA_INVALID (40007), WECHAT_API_UNAUTHORIZED (48001); an invalid message is refused unsent.
   */
  async sendCustomMessage ({ accessToken, touser, message, businessId }: SendCustomMessageInput): Promise<void> {
    requireOpenid(touser)
    const body: Record<string, unknown> = { touser, ...checkMessage(message) }
    if (businessId !== undefined) body.businessid = checkBusinessId(businessId)
    const path = businessId === undefined ? '/cgi-bin/message/custom/send' : '/cgi-bin/message/custom/business/send'
    await this.callJson('POST', path, { accessToken, body, idempotent: false })
  }

  /**
   * POST /cgi-bin/message/custom/business/typing (the mini-program path). Errors: WECHAT_TYPING_NO_INTERACTION
   * (45080: no message exchanged within 30 s, or no window), WECHAT_TYPING_ALREADY_ACTIVE (45081),
   * WECHAT_TYPING_COMMAND_INVALID (45072).
   */
  async setTyping ({ accessToken, touser, command, businessId }: SetTypingInput): Promise<void> {
    requireOpenid(touser)
    const body: Record<string, unknown> = { touser, command }
    if (businessId !== undefined) body.businessid = checkBusinessId(businessId)
    await this.callJson('POST', '/cgi-bin/message/custom/business/typing', { accessToken, body, idempotent: false })
  }

  /**
   * POST /cgi-bin/media/upload?type=image as multipart/form-data (file part `media`). The media_id lives
   * three days. A timeout is not repeated (the file may be large; the caller decides).
   */
  async uploadTempMedia ({ accessToken, filename, contentType, data, type = 'image' }: UploadTempMediaInput): Promise<UploadTempMediaResult> {
    if (typeof filename !== 'string' || filename === '' || /["\r\n]/.test(filename)) throw new RequestInvalidError('filename must be non-empty, without quotes or line breaks')
    if (typeof contentType !== 'string' || !/^[\w.+-]+\/[\w.+-]+$/.test(contentType)) throw new RequestInvalidError('contentType must be a media type such as image/jpeg')
    if (!(data instanceof Uint8Array) || data.length === 0) throw new RequestInvalidError('data must be a non-empty Buffer')
    const form = new FormData()
    form.append('media', new Blob([data as Uint8Array<ArrayBuffer>], { type: contentType }), filename)
    const answer = await this.callJson('POST', '/cgi-bin/media/upload', { accessToken, query: { type }, form, idempotent: false })
    const createdAt = Number(answer.created_at)
    if (typeof answer.media_id !== 'string' || answer.media_id === '' || answer.created_at === '' || !Number.isFinite(createdAt)) {
      throw new ResponseInvalidError('media/upload without media_id/created_at')
    }
    return { type: typeof answer.type === 'string' ? answer.type : type, mediaId: answer.media_id, createdAt }
  }

  /**
   * GET /cgi-bin/media/get: the file as a Buffer with its Content-Type and filename. WeChat answers
   * failures as JSON (told apart by Content-Type, or a leading "{" when none is given), which become
   * typed errors: WECHAT_MEDIA_INVALID for 40007. Repeated like any GET.
   */
  async getTempMedia ({ accessToken, mediaId, maxBytes = DEFAULT_MEDIA_MAX_BYTES }: GetTempMediaInput): Promise<TempMedia> {
    if (this.#closed) throw new ClosedError('WechatClient')
    if (typeof mediaId !== 'string' || mediaId === '') throw new RequestInvalidError('mediaId is empty')
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RequestInvalidError('maxBytes must be a positive integer')
    const path = '/cgi-bin/media/get'
    const options: CallOptions = { accessToken, query: { media_id: mediaId } }
    const secrets = this.#secrets(options)
    return await this.#withRetries(true, async () => {
      const answer = await this.#exchange('GET', path, options, maxBytes)
      if (looksLikeJson(answer)) {
        this.#interpretJson(answer, path, secrets)
        throw new ResponseInvalidError(`JSON without an errcode instead of a file (${path})`)
      }
      if (answer.statusCode >= 300) throw new RetryableFailure(new UnavailableError(`HTTP ${answer.statusCode} from ${path}`), false)
      const media: TempMedia = { contentType: answer.contentType === '' ? 'application/octet-stream' : answer.contentType, body: answer.body }
      const filename = dispositionFilename(answer.headers['content-disposition'])
      if (filename !== undefined) media.filename = filename
      return media
    })
  }

  /**
   * One JSON API call with retries and errcode mapping; the building block for every method (and for
   * customer-service calls added elsewhere). Resolves with the parsed body when errcode is absent or 0.
   */
  async callJson<T extends Record<string, unknown> = Record<string, any>> (method: Method, path: string, options: CallOptions = {}): Promise<T> {
    if (this.#closed) throw new ClosedError('WechatClient')
    if (method !== 'GET' && method !== 'POST') throw new TypeError('method must be GET or POST')
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('?')) throw new TypeError('path must start with / and carry no query')
    const idempotent = options.idempotent ?? method === 'GET'
    const secrets = this.#secrets(options)
    return await this.#withRetries(idempotent, async () => this.#interpretJson<T>(await this.#exchange(method, path, options), path, secrets))
  }

  /** Closes the private connection pool (a dispatcher handed in is left to its owner). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownsDispatcher) await this.#dispatcher.close()
  }

  #secrets (options: CallOptions): string[] {
    return [this.#secret, options.accessToken, ...(options.secrets ?? [])].filter((s): s is string => typeof s === 'string' && s.length > 0)
  }

  /** Runs attempts until one succeeds, a failure is final, or the retries are spent (with back-off between). */
  async #withRetries<T> (idempotent: boolean, attempt: () => Promise<T>): Promise<T> {
    for (let n = 0; ; n++) {
      let failure: RetryableFailure
      try {
        return await attempt()
      } catch (err) {
        if (!(err instanceof RetryableFailure)) throw err
        failure = err
      }
      if (n >= this.#retries || !(failure.always || idempotent) || this.#closed) throw failure.error
      await this.#sleep(this.#backoff(n))
    }
  }

  /** One request and its whole answer, under one deadline. Network failures become RetryableFailure. */
  async #exchange (method: Method, path: string, options: CallOptions, maxBytes?: number): Promise<RawAnswer> {
    const query = new URLSearchParams()
    if (options.accessToken !== undefined) query.set('access_token', options.accessToken)
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) query.set(name, String(value))
    }
    const search = query.toString()
    const headers: Record<string, string> = { accept: maxBytes === undefined ? 'application/json' : '*/*' }
    let body: string | FormData | undefined
    if (options.form !== undefined) {
      body = options.form
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      headers['content-type'] = 'application/json'
    }

    // One deadline for the whole attempt: undici's own timeouts only bound each phase.
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs)
    let answer: RawAnswer | undefined
    try {
      const res = await this.#dispatcher.request({
        origin: this.#origin,
        path: `${this.#prefix}${path}${search === '' ? '' : '?' + search}`,
        method,
        headers,
        body,
        signal: controller.signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs
      })
      const data = await readBody(res.body, maxBytes)
      if (data !== undefined) {
        answer = { statusCode: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), headers: res.headers, body: data }
      }
    } catch (err) {
      throw this.#networkFailure(err, controller.signal.aborted, method, path)
    } finally {
      clearTimeout(timer)
    }
    if (answer === undefined) throw new ResponseInvalidError(`answer larger than ${maxBytes} bytes (${path})`)
    return answer
  }

  /** The JSON body when errcode is absent or 0; otherwise the typed error (-1 as a retryable one). */
  #interpretJson<T> (answer: RawAnswer, path: string, secrets: string[]): T {
    const { statusCode, contentType } = answer
    const data = parseJsonObject(answer.body.toString('utf8'))
    if (data === undefined) {
      const what = `non-JSON answer (HTTP ${statusCode}${contentType === '' ? '' : ', ' + contentType}) from ${path}`
      throw new RetryableFailure(new UnavailableError(what), false)
    }
    const errcode = data.errcode === undefined || data.errcode === null ? 0 : Number(data.errcode)
    if (Number.isNaN(errcode)) throw new ResponseInvalidError(`errcode is not a number (${path})`)
    if (errcode === 0) {
      if (statusCode >= 300) throw new RetryableFailure(new UnavailableError(`HTTP ${statusCode} from ${path}`), false)
      return data as T
    }
    const errmsg = redact(typeof data.errmsg === 'string' ? data.errmsg : '', secrets)
    // -1 is "system busy": WeChat did not act on the call, so any call may be repeated.
    if (errcode === -1) throw new RetryableFailure(Object.assign(new BusyError(`${errmsg} (${path})`), { errcode, errmsg }), true)
    throw errorFromErrcode(errcode, errmsg, path)
  }

  #networkFailure (err: unknown, aborted: boolean, method: Method, path: string): RetryableFailure | Error {
    const code = errorCode(err)
    if (code !== undefined && CLOSED_ERROR_CODES.has(code)) return new ClosedError('WechatClient')
    const connectFailed = code !== undefined && CONNECT_ERROR_CODES.has(code)
    let error: Error
    if (aborted || (code !== undefined && TIMEOUT_ERROR_CODES.has(code))) {
      error = new TimeoutError(`${method} ${path} after ${this.#timeoutMs} ms`)
    } else {
      error = new UnavailableError(`${method} ${path}: ${code ?? 'network error'}`)
    }
    // Keep the cause for logs: undici and net errors name host and port, never the query string.
    error.cause = err
    return new RetryableFailure(error, connectFailed)
  }

  #backoff (attempt: number): number {
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, this.#retryBaseDelayMs * 2 ** attempt)
    // "Equal jitter": at least half the delay, so retries still spread out but never hammer.
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
  }
}

function parseBaseUrl (value: unknown): URL {
  let url: URL
  try {
    url = new URL(String(value))
  } catch {
    throw new OptionsInvalidError('baseUrl must be an absolute URL')
  }
  if (typeof value !== 'string' || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '') {
    throw new OptionsInvalidError('baseUrl must be an http(s) URL without query or hash')
  }
  return url
}

function toAccessToken (data: Record<string, unknown>, path: string): AccessTokenResult {
  const expiresIn = Number(data.expires_in)
  if (typeof data.access_token !== 'string' || data.access_token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw new ResponseInvalidError(`no access_token/expires_in (${path})`)
  }
  return { accessToken: data.access_token, expiresIn }
}

/** The whole body, or undefined (after discarding it) once it grows past maxBytes. */
async function readBody (body: Dispatcher.ResponseData['body'], maxBytes?: number): Promise<Buffer | undefined> {
  if (maxBytes === undefined) return Buffer.from(await body.arrayBuffer())
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += (chunk as Buffer).length
    if (size > maxBytes) {
      body.destroy()
      return undefined
    }
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** media/get failures are JSON: by Content-Type, or by a leading "{" when the type says nothing (docs/wechat/api.md#media-download). */
function looksLikeJson ({ contentType, body }: RawAnswer): boolean {
  const type = contentType.split(';')[0]!.trim().toLowerCase()
  if (type === 'application/json' || type.endsWith('+json') || type.startsWith('text/')) return true
  if (type === '' || type === 'application/octet-stream') return body[0] === 0x7b
  return false
}

/** The filename of a Content-Disposition header: filename*=UTF-8''… first, then filename="…" or a bare token. */
export function dispositionFilename (header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header
  if (typeof value !== 'string') return undefined
  const extended = /filename\*\s*=\s*[^']*'[^']*'([^;\s]+)/i.exec(value)
  if (extended !== null) {
    try {
      return decodeURIComponent(extended[1]!)
    } catch { /* fall back to the plain parameter */ }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(value)
  if (quoted !== null) return quoted[1]!.replace(/\\(.)/g, '$1')
  const bare = /filename\s*=\s*([^;\s]+)/i.exec(value)
  return bare === null ? undefined : bare[1]
}

function requireOpenid (touser: unknown): void {
  if (typeof touser !== 'string' || touser === '') throw new RequestInvalidError('touser must be a non-empty openid')
}

function checkBusinessId (id: unknown): string | number {
  if ((typeof id === 'string' && id !== '') || (typeof id === 'number' && Number.isSafeInteger(id))) return id
  throw new RequestInvalidError('businessId must be a non-empty string or an integer')
}

/** The body fields of a message: msgtype and its content object with every required text field. */
function checkMessage (message: CustomMessage): Record<string, unknown> {
  const msgtype = (message as { msgtype?: unknown } | null)?.msgtype
  if (typeof msgtype !== 'string' || !Object.hasOwn(MSGTYPE_FIELDS, msgtype)) {
    throw new RequestInvalidError(`msgtype must be one of ${Object.keys(MSGTYPE_FIELDS).join(', ')}`)
  }
  const content = (message as unknown as Record<string, unknown>)[msgtype]
  if (typeof content !== 'object' || content === null) throw new RequestInvalidError(`${msgtype} message without its ${msgtype} object`)
  const fields: Record<string, string> = {}
  for (const name of MSGTYPE_FIELDS[msgtype as CustomMessage['msgtype']]) {
    const value = (content as Record<string, unknown>)[name]
    if (typeof value !== 'string' || value === '') throw new RequestInvalidError(`${msgtype}.${name} must be a non-empty string`)
    fields[name] = value
  }
  return { msgtype, [msgtype]: fields }
}

function parseJsonObject (text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

function errorCode (err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') return code
  // Happy-eyeballs connects fail with an AggregateError of per-address errors.
  const first = (err as { errors?: unknown[] }).errors?.[0]
  return first === undefined ? undefined : errorCode(first)
}

function redact (text: string, secrets: string[]): string {
  let out = text
  for (const secret of secrets) out = out.split(secret).join(REDACTED)
  return out
}
