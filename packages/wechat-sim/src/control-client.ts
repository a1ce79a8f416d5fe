import { SimControlError } from './errors.js'
import type { FaultSpec } from './faults.js'
import { PUSH_DELIVERIES, PUSH_TIMEOUT_MS } from './defaults.js'
import type {
  LoginCodeRequest, LoginCodeResult, PhoneCodeRequest, PhoneCodeResult, PushConfigRequest, SentResult, SimPushRequest, SimPushResult,
  SimStats, UserActionRequest, UserActionResult, UserMediaRequest, UserMediaResult, UserRef
} from './types.js'

export interface SimControlOptions {
  /** Per-call timeout. Default 10 s. */
  timeoutMs?: number
}

/**
 * Typed client for a running simulator's /sim control API, for other packages' tests, benchmarks and
 * the README walkthrough. `baseUrl` is the simulator's origin, e.g. http://127.0.0.1:8090.
 */
export class SimControl {
  readonly baseUrl: string
  readonly #timeoutMs: number

  constructor (baseUrl: string, opts: SimControlOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    this.#timeoutMs = opts.timeoutMs ?? 10_000
  }

  /** wx.login + wx.getUserInfo for a simulated user. */
  loginCode (opts: LoginCodeRequest): Promise<LoginCodeResult> {
    return this.#call('POST', '/sim/login-code', opts)
  }

  /** A getPhoneNumber button code for a simulated user. */
  phoneCode (opts: PhoneCodeRequest): Promise<PhoneCodeResult> {
    return this.#call('POST', '/sim/phone-code', opts)
  }

  /** Queues a fault; returns how many faulty calls are pending for that path. */
  async fault (spec: FaultSpec): Promise<number> {
    const { pending } = await this.#call<{ pending: number }>('POST', '/sim/faults', spec)
    return pending
  }

  /** Drops queued faults, for one path or all. */
  async clearFaults (path?: string): Promise<void> {
    await this.#call('DELETE', path === undefined ? '/sim/faults' : `/sim/faults?path=${encodeURIComponent(path)}`)
  }

  stats (): Promise<SimStats> {
    return this.#call('GET', '/sim/stats')
  }

  async reset (): Promise<void> {
    await this.#call('POST', '/sim/reset')
  }

  /** Moves the simulator's clock forward; returns its new time (ms since epoch). */
  async advanceClock (ms: number): Promise<number> {
    const { now } = await this.#call<{ now: number }>('POST', '/sim/clock', { advanceMs: ms })
    return now
  }

  /** The user acts in WeChat (sends a message, enters the session): opens or resets the send window. */
  userAction (req: UserActionRequest): Promise<UserActionResult> {
    return this.#call('POST', '/sim/user-action', req)
  }

  /** What a user received from the app's customer service; a string is an openid of the default app. */
  sent (ref: UserRef | string): Promise<SentResult> {
    const query = new URLSearchParams()
    for (const [name, value] of Object.entries(typeof ref === 'string' ? { openid: ref } : ref)) {
      if (typeof value === 'string') query.set(name, value)
    }
    return this.#call('GET', `/sim/sent?${query.toString()}`)
  }

  /** Sets where an app's pushes go (the console's push configuration). */
  async pushConfig (req: PushConfigRequest): Promise<void> {
    await this.#call('POST', '/sim/push-config', req)
  }

  /**
   * Pushes a message to the app's URL as WeChat does (retries included) and reports every delivery.
   * Waits as long as the deliveries can take, whatever this client's timeout.
   */
  push (req: SimPushRequest): Promise<SimPushResult> {
    const worst = (req.deliveries ?? PUSH_DELIVERIES) * ((req.timeoutMs ?? PUSH_TIMEOUT_MS) + (req.retryDelayMs ?? 0))
    return this.#call('POST', '/sim/push', req, Math.max(this.#timeoutMs, worst + 5_000))
  }

  /** Stores a picture a user sent (temporary media, for media/get); `data` may be a Buffer. */
  userMedia (req: Omit<UserMediaRequest, 'data'> & { data: string | Buffer }): Promise<UserMediaResult> {
    const data = typeof req.data === 'string' ? req.data : req.data.toString('base64')
    return this.#call('POST', '/sim/media', { ...req, data })
  }

  async #call<T> (method: string, path: string, body?: unknown, timeoutMs = this.#timeoutMs): Promise<T> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const text = await res.text()
    let parsed: unknown = text
    try { parsed = JSON.parse(text) } catch { /* keep the text for the error */ }
    if (!res.ok) throw new SimControlError(method, path, res.status, parsed)
    return parsed as T
  }
}
