import { SimClock } from './clock.js'
import { CodeStore } from './codes.js'
import { Conversations, type UserActionKind } from './conversations.js'
import {
  DEFAULT_CODE2SESSION_PER_USER_PER_MINUTE, DEFAULT_CODE_TTL_MS, DEFAULT_ENTER_SESSION_ALLOWANCE, DEFAULT_MEDIA_MAX_BYTES,
  DEFAULT_PHONE_CODE_TTL_MS, DEFAULT_PHONE_PER_APP_PER_MINUTE, DEFAULT_SIM_APP, DEFAULT_TOKEN_TTL_SEC, DEFAULT_USER_MESSAGE_ALLOWANCE
} from './defaults.js'
import { PushInvalidError, PushNotConfiguredError, SimOptionsInvalidError, UnknownAppError, UnknownUserError } from './errors.js'
import { Faults } from './faults.js'
import { IMAGE_TYPES, MediaStore } from './media-store.js'
import { sendPush, userActionForMessage, type PushMessage, type PushTarget } from './push-sender.js'
import { msgId } from './random-ids.js'
import { MinuteLimiter } from './rate-limit.js'
import { TokenStore } from './tokens.js'
import type {
  LoginCodeRequest, LoginCodeResult, PhoneCodeRequest, PhoneCodeResult, PushConfig, SentResult, SimPushRequest, SimPushResult,
  SimStats, UserActionRequest, UserActionResult, UserMediaRequest, UserMediaResult, UserRef
} from './types.js'
import { defaultAvatarUrl, userInfoBundle } from './user-info.js'
import { defaultPhoneOf, deriveUser, originalIdOf, type SimUser } from './users.js'

export interface SimApp {
  appId: string
  appSecret: string
  /** Where the app receives message pushes (also settable with POST /sim/push-config). */
  push?: PushConfig
}

/** A 1×1 PNG: the picture of image pushes that do not bring their own (see SimPushRequest). */
const PLACEHOLDER_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=', 'base64')

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
  /** Messages a user message allows within 48 h. 5, as WeChat. */
  userMessageAllowance?: number
  /** Messages entering the session allows within a minute: 2 in the current docs, 1 in older ones. */
  enterSessionAllowance?: number
  /** Largest image media/upload takes; 10 MB. */
  mediaMaxBytes?: number
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
  /** Customer-service send windows, typing and the messages users received. */
  readonly conversations: Conversations
  /** Temporary media (media/upload, pictures users sent). */
  readonly media = new MediaStore()
  readonly mediaMaxBytes: number
  readonly #calls = new Map<string, number>()
  /** openid → the user behind it: the users WeChat knows, for 40003. Kept by reset (users are not state). */
  readonly #users = new Map<string, SimUser>()
  readonly #configuredPush: ReadonlyMap<string, PushConfig>
  readonly #push = new Map<string, PushConfig>()

  constructor (opts: SimStateOptions = {}) {
    const apps: readonly SimApp[] = opts.apps ?? [DEFAULT_SIM_APP]
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
    this.conversations = new Conversations({
      userMessageAllowance: positiveInteger('userMessageAllowance', opts.userMessageAllowance ?? DEFAULT_USER_MESSAGE_ALLOWANCE),
      enterSessionAllowance: positiveInteger('enterSessionAllowance', opts.enterSessionAllowance ?? DEFAULT_ENTER_SESSION_ALLOWANCE)
    })
    this.mediaMaxBytes = positiveInteger('mediaMaxBytes', opts.mediaMaxBytes ?? DEFAULT_MEDIA_MAX_BYTES)
    const push = new Map<string, PushConfig>()
    for (const a of apps) {
      if (a.push === undefined) continue
      if (typeof a.push.url !== 'string' || typeof a.push.token !== 'string' || a.push.token === '') {
        throw new SimOptionsInvalidError(`push of ${a.appId} needs a url and a token`)
      }
      push.set(a.appId, { ...a.push })
    }
    this.#configuredPush = push
    for (const [appId, config] of push) this.#push.set(appId, { ...config })
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

  /** The simulated user `user` of an app; from now on WeChat knows its openid (see isUserOf). */
  user (appId: string, user: string): SimUser {
    const u = deriveUser(this.appFor(appId), user)
    if (!this.#users.has(u.openid)) this.#users.set(u.openid, u)
    return u
  }

  /** Whether the openid is a user of this app the simulator has met (login, phone code, action, push). */
  isUserOf (appId: string, openid: unknown): openid is string {
    return typeof openid === 'string' && this.#users.get(openid)?.appId === appId
  }

  /** The openid a control call means: `user` (any label) or an `openid` already issued for the app. */
  openidFor (ref: UserRef): { appId: string, openid: string } {
    const appId = this.appFor(ref.appId)
    if (ref.user !== undefined) return { appId, openid: this.user(appId, ref.user).openid }
    if (ref.openid !== undefined && this.isUserOf(appId, ref.openid)) return { appId, openid: ref.openid }
    throw new UnknownUserError(String(ref.openid), appId)
  }

  /** The mini-program's original id (gh_…), ToUserName of its pushes. */
  originalId (appId?: string): string {
    return originalIdOf(this.appFor(appId))
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
    const appId = this.user(req.appId ?? this.defaultAppId, req.user).appId
    const countryCode = req.countryCode ?? '86'
    const purePhoneNumber = req.phoneNumber ?? defaultPhoneOf(req.user)
    // docs/wechat/api.md#phone-number: phoneNumber carries the country prefix only for numbers outside China.
    const phoneNumber = countryCode === '86' ? purePhoneNumber : `+${countryCode}${purePhoneNumber}`
    const code = this.phoneCodes.issue(appId, { user: req.user, phoneNumber, purePhoneNumber, countryCode }, req.ttlMs ?? this.phoneCodeTtlMs, this.now())
    return { code, phoneNumber }
  }

  /** The user did something in WeChat that opens the send window (a message, entering the session). */
  userAction (req: UserActionRequest): UserActionResult {
    const { appId, openid } = this.openidFor(req)
    return { openid, kind: req.kind, window: this.conversations.userAction(appId, openid, req.kind, this.now()) }
  }

  /** What the user received from the app's customer service, and the state of the window. */
  sentTo (ref: UserRef): SentResult {
    const { appId, openid } = this.openidFor(ref)
    return { openid, ...this.conversations.view(appId, openid, this.now()) }
  }

  /** A picture the user sent: stored as temporary media of the app. */
  userMedia (req: UserMediaRequest): UserMediaResult {
    const appId = this.appFor(req.appId)
    const contentType = req.contentType.toLowerCase()
    if (!IMAGE_TYPES.has(contentType)) throw new PushInvalidError(`contentType must be one of ${[...IMAGE_TYPES.keys()].join(', ')}`)
    const media = this.media.put(appId, contentType === 'image/jpg' ? 'image/jpeg' : contentType, Buffer.from(req.data, 'base64'), this.now())
    return { mediaId: media.mediaId, createdAt: Math.floor(media.createdAt / 1000) }
  }

  setPushConfig (appId: string | undefined, config: PushConfig): void {
    this.#push.set(this.appFor(appId), { ...config })
  }

  /**
   * Pushes a message to the app's URL as WeChat does, after opening the send window the user's action
   * opens (unless tampered or `userAction: false`). Resolves with every delivery attempt.
   */
  async push (req: SimPushRequest): Promise<SimPushResult> {
    const appId = this.appFor(req.appId)
    const target = this.#pushTarget(appId, req)
    const message = this.#completeMessage(appId, req)
    let userAction: UserActionResult | undefined
    const kind: UserActionKind | undefined = req.tamper === undefined && req.userAction !== false ? userActionForMessage(message) : undefined
    if (kind !== undefined && this.isUserOf(appId, message.FromUserName)) {
      userAction = this.userAction({ appId, openid: message.FromUserName as string, kind })
    }
    const result = await sendPush({
      ...target,
      appId,
      message,
      ...(req.tamper === undefined ? {} : { tamper: req.tamper }),
      ...(req.timeoutMs === undefined ? {} : { timeoutMs: req.timeoutMs }),
      ...(req.deliveries === undefined ? {} : { deliveries: req.deliveries }),
      ...(req.retryDelayMs === undefined ? {} : { retryDelayMs: req.retryDelayMs }),
      ...(req.resignRetries === undefined ? {} : { resignRetries: req.resignRetries })
    })
    return { ...result, message, ...(userAction === undefined ? {} : { userAction }) }
  }

  #pushTarget (appId: string, req: SimPushRequest): PushTarget {
    const merged: Partial<PushConfig> = { ...this.#push.get(appId) }
    for (const name of ['url', 'token', 'encodingAESKey', 'mode', 'format'] as const) {
      if (req[name] !== undefined) (merged as Record<string, unknown>)[name] = req[name]
    }
    if (merged.url === undefined || merged.token === undefined) throw new PushNotConfiguredError(appId)
    const target: PushTarget = {
      url: merged.url,
      token: merged.token,
      mode: merged.mode ?? (merged.encodingAESKey === undefined ? 'plaintext' : 'safe'),
      format: merged.format ?? 'json'
    }
    if (merged.encodingAESKey !== undefined) target.encodingAESKey = merged.encodingAESKey
    return target
  }

  /** WeChat's field order, with what the caller left out filled in. */
  #completeMessage (appId: string, req: SimPushRequest): PushMessage {
    const { ToUserName, FromUserName, CreateTime, MsgType, MsgId, ...rest } = req.message
    let from = FromUserName
    if (from === undefined) {
      if (req.user === undefined) throw new PushInvalidError('give user or message.FromUserName')
      from = this.user(appId, req.user).openid
    }
    const message: PushMessage = {
      ToUserName: ToUserName ?? originalIdOf(appId),
      FromUserName: from,
      CreateTime: CreateTime ?? Math.floor(this.now() / 1000),
      MsgType,
      ...rest
    }
    if (MsgType === 'image' && message.MediaId === undefined) {
      message.MediaId = this.media.put(appId, 'image/png', PLACEHOLDER_PNG, this.now()).mediaId
      message.PicUrl ??= `https://mmbiz.qpic.cn/sim/${String(message.MediaId)}/0`
    }
    if (MsgType === 'miniprogrampage' && message.ThumbMediaId === undefined) {
      message.ThumbMediaId = this.media.put(appId, 'image/png', PLACEHOLDER_PNG, this.now()).mediaId
      message.ThumbUrl ??= `https://mmbiz.qpic.cn/sim/${String(message.ThumbMediaId)}/0`
    }
    if (MsgId !== undefined) message.MsgId = MsgId
    else if (MsgType !== 'event') message.MsgId = msgId()
    return message
  }

  countCall (path: string): void {
    this.#calls.set(path, (this.#calls.get(path) ?? 0) + 1)
  }

  stats (): SimStats {
    return { calls: Object.fromEntries(this.#calls) }
  }

  /**
   * Back to a just-built simulator: codes, tokens, quotas, counters, faults, the clock offset, send
   * windows, sent messages, media and push configuration (back to the options'). Known users stay.
   */
  reset (): void {
    this.conversations.clear()
    this.media.clear()
    this.#push.clear()
    for (const [appId, config] of this.#configuredPush) this.#push.set(appId, { ...config })
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
