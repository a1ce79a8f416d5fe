import { ApiError, LoginError, WeappError, ErrorCodes } from './errors.js'
import { send } from './http.js'
import type { StoredSession, TokenStore } from './storage.js'
import type { WxApi } from './wx.js'

/** The user as `POST /api/login` and `GET /api/me` return it. */
export interface User {
  openid: string
  unionid?: string
  nickname?: string
  avatarUrl?: string
  phone?: { phoneNumber: string, purePhoneNumber: string, countryCode: string }
  firstSeenAt: string
  lastSeenAt: string
  [field: string]: unknown
}

export interface Session extends StoredSession {
  /** The user from the login answer; absent when the session was taken from storage. */
  user?: User
  /** True when this came from wx.login + POST /api/login, false when a stored token was kept. */
  fresh: boolean
}

export interface LoginOptions {
  /** Skip the stored token and wx.checkSession: always wx.login + POST /api/login. */
  force?: boolean
}

export interface AuthOptions {
  wx: WxApi
  store: TokenStore
  /** Absolute URL of POST /api/login. */
  loginUrl: string
  timeout?: number
}

/**
 * Our session on top of wx.login. One login at a time: every caller that needs a token while a login
 * runs waits for that login (single flight), so a page firing five requests at launch logs in once.
 */
export class Auth {
  private current: Session | null = null
  private inflight: Promise<Session> | null = null
  constructor (private readonly options: AuthOptions) {}

  /** The token in use, if any (no login is started). */
  token (): string | null {
    return this.current?.token ?? null
  }

  /**
   * A token to send: the one in memory; else the stored one if wx.checkSession says WeChat's login state
   * is still valid (checked once per launch, as WeChat documents); else a fresh wx.login.
   */
  async ensure (): Promise<string> {
    if (this.current !== null) return this.current.token
    return (await this.login()).token
  }

  /** Log in (see ensure). Concurrent callers share one login; `force` always asks WeChat for a new code. */
  async login (options: LoginOptions = {}): Promise<Session> {
    if (this.inflight !== null) {
      const session = await this.inflight
      if (options.force !== true || session.fresh) return session
    }
    if (options.force !== true && this.current !== null) return this.current
    return await this.run(options.force === true)
  }

  /**
   * The server refused `stale` (401). If another caller already replaced it, use theirs; otherwise
   * forget it and log in again (once, shared by everyone who saw the same 401).
   */
  async renew (stale: string): Promise<string> {
    if (this.inflight !== null) {
      const session = await this.inflight.catch(() => null)
      if (session !== null && session.token !== stale) return session.token
    }
    if (this.current !== null && this.current.token !== stale) return this.current.token
    this.forget()
    return (await this.run(true)).token
  }

  /** Drops the token from memory and storage (after a logout, or a 401 nobody can fix). */
  forget (): void {
    this.current = null
    this.options.store.clear()
  }

  private run (force: boolean): Promise<Session> {
    if (this.inflight !== null) return this.inflight
    const flight = this.perform(force)
    this.inflight = flight
    const done = (): void => { if (this.inflight === flight) this.inflight = null }
    flight.then(done, done)
    return flight
  }

  private async perform (force: boolean): Promise<Session> {
    if (!force) {
      const stored = this.options.store.get()
      if (stored !== null && await checkSession(this.options.wx)) {
        this.current = { ...stored, fresh: false }
        return this.current
      }
    }
    const code = await wxLogin(this.options.wx)
    const res = await send(this.options.wx, { url: this.options.loginUrl, method: 'POST', data: { code }, timeout: this.options.timeout })
    if (res.statusCode !== 200) throw new ApiError(res.statusCode, res.data, res.header['x-request-id'])
    const body = res.data as Partial<{ token: string, expiresAt: string, user: User }>
    if (typeof body !== 'object' || body === null || typeof body.token !== 'string' || typeof body.expiresAt !== 'string') {
      throw new WeappError(ErrorCodes.badResponse, 'POST /api/login answered without a token')
    }
    const session: Session = { token: body.token, expiresAt: body.expiresAt, fresh: true }
    if (body.user !== undefined) session.user = body.user
    this.options.store.set(session)
    this.current = session
    return session
  }
}

function wxLogin (wx: WxApi): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.login({
      success: (res) => {
        if (typeof res.code === 'string' && res.code !== '') resolve(res.code)
        else reject(new LoginError(res.errMsg ?? 'login:fail no code'))
      },
      fail: (err) => { reject(new LoginError(err.errMsg)) }
    })
  })
}

/** wx.checkSession: true while the login state behind our stored token is valid (its fail means log in again). */
function checkSession (wx: WxApi): Promise<boolean> {
  return new Promise((resolve) => {
    wx.checkSession({ success: () => { resolve(true) }, fail: () => { resolve(false) } })
  })
}
