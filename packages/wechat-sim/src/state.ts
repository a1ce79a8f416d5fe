import { SimClock } from './clock.js'
import { CodeStore } from './codes.js'
import {
  DEFAULT_CODE2SESSION_PER_USER_PER_MINUTE, DEFAULT_CODE_TTL_MS, DEFAULT_PHONE_CODE_TTL_MS,
  DEFAULT_PHONE_PER_APP_PER_MINUTE, DEFAULT_SIM_APP, DEFAULT_TOKEN_TTL_SEC
} from './defaults.js'
import { SimOptionsInvalidError, UnknownAppError } from './errors.js'
import { Faults } from './faults.js'
import { MinuteLimiter } from './rate-limit.js'
import { TokenStore } from './tokens.js'
import type { LoginCodeRequest, LoginCodeResult, PhoneCodeRequest, PhoneCodeResult, SimStats } from './types.js'
import { defaultAvatarUrl, userInfoBundle } from './user-info.js'
import { defaultPhoneOf, deriveUser, type SimUser } from './users.js'

export interface SimApp {
  appId: string
  appSecret: string
}

export interface SimStateOptions {
  /** Apps the simulator knows; the first is the default for control calls without appId. */
  apps?: SimApp[]
  /** Lifetime of access_tokens (both kinds), seconds. */
  tokenTtlSec?: number
  codeTtlMs?: number
  phoneCodeTtlMs?: number
  /** jscode2session quota per user; 100 like WeChat. Raise it for benchmarks that reuse one user. */
  code2SessionPerUserPerMinute?: number
  /** getuserphonenumber quota per app. */
  phonePerAppPerMinute?: number
  /** Base clock (ms since epoch); POST /sim/clock moves the simulator ahead of it. */
  now?: () => number
}

export interface LoginCodeData { user: string }
export interface PhoneCodeData { user: string, phoneNumber: string, purePhoneNumber: string, countryCode: string }

function positiveInteger (name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new SimOptionsInvalidError(`${name} must be a positive integer`)
  return value
}

/**
 * Everything the simulator remembers, in memory. Users are not stored: their ids derive from
 * (appId, user), so reset() and restarts keep them. Tests reach it as `sim.simState`.
 */
export class SimState {
  readonly clock: SimClock
  /** appId → appSecret. */
  readonly apps: ReadonlyMap<string, string>
  readonly defaultAppId: string
  readonly codeTtlMs: number
  readonly phoneCodeTtlMs: number
  /** Paths of the simulated WeChat APIs, filled as their routes register (faults may only name these). */
  readonly apiPaths = new Set<string>()
  readonly faults = new Faults(this.apiPaths)
  readonly tokens: TokenStore
  readonly loginCodes = new CodeStore<LoginCodeData>()
  readonly phoneCodes = new CodeStore<PhoneCodeData>()
  readonly code2SessionLimiter: MinuteLimiter
  readonly phoneLimiter: MinuteLimiter
  readonly #calls = new Map<string, number>()

  constructor (opts: SimStateOptions = {}) {
    const apps = opts.apps ?? [DEFAULT_SIM_APP]
    if (apps.length === 0) throw new SimOptionsInvalidError('apps must name at least one app')
    for (const a of apps) {
      if (typeof a.appId !== 'string' || a.appId === '' || typeof a.appSecret !== 'string' || a.appSecret === '') {
        throw new SimOptionsInvalidError('every app needs a non-empty appId and appSecret')
      }
    }
    this.apps = new Map(apps.map((a) => [a.appId, a.appSecret]))
    this.defaultAppId = apps[0]!.appId
    this.clock = new SimClock(opts.now)
    this.codeTtlMs = positiveInteger('codeTtlMs', opts.codeTtlMs ?? DEFAULT_CODE_TTL_MS)
    this.phoneCodeTtlMs = positiveInteger('phoneCodeTtlMs', opts.phoneCodeTtlMs ?? DEFAULT_PHONE_CODE_TTL_MS)
    this.tokens = new TokenStore(positiveInteger('tokenTtlSec', opts.tokenTtlSec ?? DEFAULT_TOKEN_TTL_SEC))
    this.code2SessionLimiter = new MinuteLimiter(positiveInteger('code2SessionPerUserPerMinute', opts.code2SessionPerUserPerMinute ?? DEFAULT_CODE2SESSION_PER_USER_PER_MINUTE))
    this.phoneLimiter = new MinuteLimiter(positiveInteger('phonePerAppPerMinute', opts.phonePerAppPerMinute ?? DEFAULT_PHONE_PER_APP_PER_MINUTE))
  }

  now (): number {
    return this.clock.now()
  }

  /** The app a control call means; throws SIM_UNKNOWN_APP (400) for an appId the simulator lacks. */
  appFor (appId?: string): string {
    const id = appId ?? this.defaultAppId
    if (!this.apps.has(id)) throw new UnknownAppError(id)
    return id
  }

  user (appId: string, user: string): SimUser {
    return deriveUser(this.appFor(appId), user)
  }

  /** What wx.login + wx.getUserInfo give a client: a fresh code and the encrypted profile. */
  loginCode (req: LoginCodeRequest): LoginCodeResult {
    const u = this.user(req.appId ?? this.defaultAppId, req.user)
    const now = this.now()
    const code = this.loginCodes.issue(u.appId, { user: u.user }, req.ttlMs ?? this.codeTtlMs, now)
    const userInfo = userInfoBundle(u, { nickName: req.nickName ?? u.user, avatarUrl: req.avatarUrl ?? defaultAvatarUrl(u.openid) }, now)
    return { code, openid: u.openid, unionid: u.unionid, userInfo }
  }

  /** What <button open-type="getPhoneNumber"> gives a client. */
  phoneCode (req: PhoneCodeRequest): PhoneCodeResult {
    const appId = this.appFor(req.appId)
    const countryCode = req.countryCode ?? '86'
    const purePhoneNumber = req.phoneNumber ?? defaultPhoneOf(req.user)
    // protocol.md §5: phoneNumber carries the country prefix only for numbers outside China.
    const phoneNumber = countryCode === '86' ? purePhoneNumber : `+${countryCode}${purePhoneNumber}`
    const code = this.phoneCodes.issue(appId, { user: req.user, phoneNumber, purePhoneNumber, countryCode }, req.ttlMs ?? this.phoneCodeTtlMs, this.now())
    return { code, phoneNumber }
  }

  countCall (path: string): void {
    this.#calls.set(path, (this.#calls.get(path) ?? 0) + 1)
  }

  stats (): SimStats {
    return { calls: Object.fromEntries(this.#calls) }
  }

  /** Back to a just-built simulator: codes, tokens, quotas, counters, faults and the clock offset. */
  reset (): void {
    this.loginCodes.clear()
    this.phoneCodes.clear()
    this.tokens.clear()
    this.code2SessionLimiter.clear()
    this.phoneLimiter.clear()
    this.#calls.clear()
    this.faults.clear()
    this.clock.reset()
  }
}
