import type { IncomingHttpHeaders } from 'node:http'
import type { Duplex } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { type FormData, Pool, type Dispatcher } from 'undici'
import { errorFromErrcode } from './api-errors.js'
import { BusyError, ClosedError, OptionsInvalidError, ResponseInvalidError, TimeoutError, UnavailableError } from './errors.js'
import { withOutcome, type WechatCallOutcome } from './outcome.js'
import { functionOption, intOption, requireObject, requireString } from './options.js'

export const DEFAULT_BASE_URL = 'https://api.weixin.qq.com'
export const DEFAULT_TIMEOUT_MS = 5_000
export const DEFAULT_RETRIES = 3
export const DEFAULT_RETRY_BASE_DELAY_MS = 200
const MAX_RETRY_DELAY_MS = 10_000
const POOL_CONNECTIONS = 64
const REDACTED = '***'

// Only for the error's name and message: whether a request may have reached WeChat is never read from
// codes (see WriteWatch).
const TIMEOUT_ERROR_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])
const CLOSED_ERROR_CODES = new Set(['UND_ERR_CLOSED', 'UND_ERR_DESTROYED'])

export interface WechatClientOptions {
  appId: string
  appSecret: string
  /** Defaults to https://api.weixin.qq.com; a path prefix is kept (useful behind a proxy or the simulator). */
  baseUrl?: string
  /** Per attempt, covering connect, headers and body. */
  timeoutMs?: number
  /** Extra attempts after errcode -1 and failures before sending (see CallOptions.idempotent). */
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
   * Whether the call may be repeated after a failure whose outcome is 'unknown' (timeout or reset after
   * writing, 5xx). Defaults to true for GET. errcode -1 and 'not-sent' failures are retried either way.
   */
  idempotent?: boolean
  /** More values to keep out of error messages (the AppSecret and access_token always are). */
  secrets?: string[]
}

export type Method = 'GET' | 'POST'

/** One HTTP exchange with WeChat: what came back, before any interpretation. */
export interface RawAnswer {
  statusCode: number
  contentType: string
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A failed attempt that the retry loop may repeat; `error` is what the caller sees if it gives up. */
class RetryableFailure {
  // eslint-disable-next-line n/handle-callback-err -- a constructor, not a Node-style callback
  constructor (readonly error: Error, readonly always: boolean) {}
}

/**
 * The HTTP side of the WeChat client: one connection pool, a deadline per attempt, retries with
 * back-off, errcode mapping, and the outcome (outcome.ts) of every failure. Error messages name the API
 * path only, never the query (secret, token).
 */
export class WechatTransport {
  readonly appId: string
  readonly timeoutMs: number
  readonly #secret: string
  readonly #origin: string
  readonly #prefix: string
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
    this.timeoutMs = intOption('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS, 1)
    this.#retries = intOption('retries', options.retries, DEFAULT_RETRIES, 0)
    this.#retryBaseDelayMs = intOption('retryBaseDelayMs', options.retryBaseDelayMs, DEFAULT_RETRY_BASE_DELAY_MS, 0)
    this.#sleep = functionOption('sleep', options.sleep, sleep)
    if (options.dispatcher !== undefined) {
      if (typeof options.dispatcher?.request !== 'function' || typeof options.dispatcher.compose !== 'function') throw new OptionsInvalidError('dispatcher must be an undici Dispatcher')
      this.#dispatcher = options.dispatcher
      this.#ownsDispatcher = false
    } else {
      this.#dispatcher = new Pool(this.#origin, {
        connections: POOL_CONNECTIONS,
        connect: { timeout: this.timeoutMs },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs
      })
      this.#ownsDispatcher = true
    }
  }

  /** The AppSecret, for the endpoints that authenticate with it. Every error message is redacted of it. */
  get appSecret (): string {
    return this.#secret
  }

  /**
   * One JSON API call with retries and errcode mapping. Resolves with the parsed body when errcode is
   * absent or 0; every error it throws carries its outcome.
   */
  async callJson<T extends Record<string, unknown> = Record<string, any>> (method: Method, path: string, options: CallOptions = {}): Promise<T> {
    this.assertOpen()
    if (method !== 'GET' && method !== 'POST') throw withOutcome(new TypeError('method must be GET or POST'), 'not-sent')
    if (typeof path !== 'string' || !path.startsWith('/') || path.includes('?')) throw withOutcome(new TypeError('path must start with / and carry no query'), 'not-sent')
    const idempotent = options.idempotent ?? method === 'GET'
    const secrets = this.#secrets(options)
    return await this.#withRetries(idempotent, async () => this.#interpretJson<T>(await this.#exchange(method, path, options), path, secrets))
  }

  /**
   * A GET whose success is a file, not JSON (media/get): the raw answer. WeChat answers failures as JSON,
   * which become the usual typed errors. Repeated like any GET.
   */
  async getFile (path: string, options: CallOptions, maxBytes: number): Promise<RawAnswer> {
    this.assertOpen()
    const secrets = this.#secrets(options)
    return await this.#withRetries(true, async () => {
      const answer = await this.#exchange('GET', path, options, maxBytes)
      if (looksLikeJson(answer)) {
        this.#interpretJson(answer, path, secrets)
        throw withOutcome(new ResponseInvalidError(`JSON without an errcode instead of a file (${path})`), 'unknown')
      }
      if (answer.statusCode >= 300) throw unknownFailure(new UnavailableError(`HTTP ${answer.statusCode} from ${path}`))
      return answer
    })
  }

  /** Closes the private connection pool (a dispatcher handed in is left to its owner). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownsDispatcher) await this.#dispatcher.close()
  }

  /** Throws WECHAT_CLOSED ('not-sent') once close() was called. */
  assertOpen (): void {
    if (this.#closed) throw withOutcome(new ClosedError('WechatClient'), 'not-sent')
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
    const timer = setTimeout(() => controller.abort(), this.timeoutMs)
    let written = false
    const dispatcher = this.#dispatcher.compose((dispatch) => (opts, handler) => dispatch(opts, new WriteWatch(handler, () => { written = true })))
    // undici fails a request still queued for a connection only once a connection takes it: give up at
    // the deadline anyway (it is then aborted unwritten when its turn comes).
    const queued = new Promise<never>((_resolve, reject) => {
      controller.signal.addEventListener('abort', () => { if (!written) reject(controller.signal.reason) }, { once: true })
    })
    let answer: RawAnswer | undefined
    try {
      const pending = dispatcher.request({
        origin: this.#origin,
        path: `${this.#prefix}${path}${search === '' ? '' : '?' + search}`,
        method,
        headers,
        body,
        signal: controller.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs
      })
      pending.catch(() => {}) // when the deadline wins, the late rejection is nobody's
      const res = await Promise.race([pending, queued])
      const data = await readBody(res.body, maxBytes)
      if (data !== undefined) {
        answer = { statusCode: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), headers: res.headers, body: data }
      }
    } catch (err) {
      throw this.#networkFailure(err, controller.signal.aborted, written, method, path)
    } finally {
      clearTimeout(timer)
    }
    if (answer === undefined) throw withOutcome(new ResponseInvalidError(`answer larger than ${maxBytes} bytes (${path})`), 'unknown')
    return answer
  }

  /** The JSON body when errcode is absent or 0; otherwise the typed error (-1 as a retryable one). */
  #interpretJson<T> (answer: RawAnswer, path: string, secrets: string[]): T {
    const { statusCode, contentType } = answer
    const data = parseJsonObject(answer.body.toString('utf8'))
    if (data === undefined) {
      // Not WeChat's JSON: a proxy or load balancer may have answered after WeChat got the request.
      const what = `non-JSON answer (HTTP ${statusCode}${contentType === '' ? '' : ', ' + contentType}) from ${path}`
      throw unknownFailure(new UnavailableError(what))
    }
    const errcode = data.errcode === undefined || data.errcode === null ? 0 : Number(data.errcode)
    if (Number.isNaN(errcode)) throw withOutcome(new ResponseInvalidError(`errcode is not a number (${path})`), 'unknown')
    if (errcode === 0) {
      if (statusCode >= 300) throw unknownFailure(new UnavailableError(`HTTP ${statusCode} from ${path}`))
      return data as T
    }
    const errmsg = redact(typeof data.errmsg === 'string' ? data.errmsg : '', secrets)
    // -1 is "system busy": WeChat did not act on the call, so any call may be repeated.
    if (errcode === -1) throw new RetryableFailure(withOutcome(Object.assign(new BusyError(`${errmsg} (${path})`), { errcode, errmsg }), 'answered'), true)
    throw withOutcome(errorFromErrcode(errcode, errmsg, path), 'answered')
  }

  /** A failure before any answer: 'not-sent' (and always repeatable) unless undici had started writing. */
  #networkFailure (err: unknown, aborted: boolean, written: boolean, method: Method, path: string): RetryableFailure | Error {
    const outcome: WechatCallOutcome = written ? 'unknown' : 'not-sent'
    const code = errorCode(err)
    if (code !== undefined && CLOSED_ERROR_CODES.has(code)) return withOutcome(new ClosedError('WechatClient'), outcome)
    let error: Error
    if (aborted || (code !== undefined && TIMEOUT_ERROR_CODES.has(code))) {
      error = new TimeoutError(`${method} ${path} after ${this.timeoutMs} ms`)
    } else {
      error = new UnavailableError(`${method} ${path}: ${code ?? 'network error'}`)
    }
    // Keep the cause for logs: undici and net errors name host and port, never the query string.
    error.cause = err
    return new RetryableFailure(withOutcome(error, outcome), outcome === 'not-sent')
  }

  #backoff (attempt: number): number {
    const ceiling = Math.min(MAX_RETRY_DELAY_MS, this.#retryBaseDelayMs * 2 ** attempt)
    // "Equal jitter": at least half the delay, so retries still spread out but never hammer.
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
  }
}

/**
 * Passes every event on to undici's own handler, and notes when undici hands the request to a connected
 * socket (onRequestStart: the headers are written right after). Before that nothing can have reached
 * WeChat, whatever the error: refused, DNS, TLS or connect timeout, or our deadline while queued.
 */
class WriteWatch implements Dispatcher.DispatchHandler {
  readonly #handler: Dispatcher.DispatchHandler
  readonly #onStart: () => void

  constructor (handler: Dispatcher.DispatchHandler, onStart: () => void) {
    this.#handler = handler
    this.#onStart = onStart
  }

  onRequestStart (controller: Dispatcher.DispatchController, context: unknown): void {
    this.#handler.onRequestStart?.(controller, context)
    // A request whose signal fired while it waited is aborted right here, before anything is written.
    if (!controller.aborted) this.#onStart()
  }

  onRequestUpgrade (controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart (controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk)
  }

  onResponseEnd (controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders): void {
    this.#handler.onResponseEnd?.(controller, trailers)
  }

  onResponseError (controller: Dispatcher.DispatchController, error: Error): void {
    this.#handler.onResponseError?.(controller, error)
  }
}

/** An answer that did not come from WeChat's API (or could not be read): repeated only when idempotent. */
function unknownFailure (error: Error): RetryableFailure {
  return new RetryableFailure(withOutcome(error, 'unknown'), false)
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
