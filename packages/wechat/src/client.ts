import { setTimeout as sleep } from 'node:timers/promises'
import { Pool, type Dispatcher, type FormData } from 'undici'
import { errorFromErrcode } from './api-errors.js'
import {
  BusyError, ClosedError, CodeInvalidError, OptionsInvalidError, ResponseInvalidError, TimeoutError,
  UnavailableError, WatermarkMismatchError
} from './errors.js'
import { functionOption, intOption, requireObject, requireString } from './options.js'
import { loginStateSignature } from './signatures.js'

export const DEFAULT_BASE_URL = 'https://api.weixin.qq.com'
export const DEFAULT_TIMEOUT_MS = 5_000
export const DEFAULT_RETRIES = 3
export const DEFAULT_RETRY_BASE_DELAY_MS = 200
const MAX_RETRY_DELAY_MS = 10_000
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

type Method = 'GET' | 'POST'

/** A failed attempt that the retry loop may repeat; `error` is what the caller sees if it gives up. */
class RetryableFailure {
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
   * One JSON API call with retries and errcode mapping; the building block for every method (and for
   * customer-service calls added elsewhere). Resolves with the parsed body when errcode is absent or 0.
   */
  async callJson<T extends Record<string, unknown> = Record<string, any>> (method: Method, path: string, options: CallOptions = {}): Promise<T> {
    if (this.#closed) throw new ClosedError('WechatClient')
    if (method !== 'GET' && method !== 'POST') throw new TypeError('method must be GET or POST')
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('?')) throw new TypeError('path must start with / and carry no query')
    const idempotent = options.idempotent ?? method === 'GET'
    const secrets = [this.#secret, options.accessToken, ...(options.secrets ?? [])].filter((s): s is string => typeof s === 'string' && s.length > 0)
    for (let attempt = 0; ; attempt++) {
      let failure: RetryableFailure
      try {
        return await this.#attempt<T>(method, path, options, secrets)
      } catch (err) {
        if (!(err instanceof RetryableFailure)) throw err
        failure = err
      }
      if (attempt >= this.#retries || !(failure.always || idempotent) || this.#closed) throw failure.error
      await this.#sleep(this.#backoff(attempt))
    }
  }

  /** Closes the private connection pool (a dispatcher handed in is left to its owner). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownsDispatcher) await this.#dispatcher.close()
  }

  async #attempt<T> (method: Method, path: string, options: CallOptions, secrets: string[]): Promise<T> {
    const query = new URLSearchParams()
    if (options.accessToken !== undefined) query.set('access_token', options.accessToken)
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) query.set(name, String(value))
    }
    const search = query.toString()
    const headers: Record<string, string> = { accept: 'application/json' }
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
    let statusCode: number
    let contentType: string
    let text: string
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
      statusCode = res.statusCode
      contentType = String(res.headers['content-type'] ?? '')
      text = await res.body.text()
    } catch (err) {
      throw this.#networkFailure(err, controller.signal.aborted, method, path)
    } finally {
      clearTimeout(timer)
    }

    const data = parseJsonObject(text)
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
