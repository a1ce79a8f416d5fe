import { isStaleTokenError } from './api-errors.js'
import { TokenFetchInvalidError } from './errors.js'

export const DEFAULT_REFRESH_AHEAD_MS = 300_000

/** What a provider's `fetch` returns: the shape of WechatClient.getStableAccessToken(). */
export interface FetchedAccessToken {
  accessToken: string
  /** Seconds. */
  expiresIn: number
}

export type FetchAccessToken = () => Promise<FetchedAccessToken>

export interface AccessTokenProvider {
  /** A token that has not expired yet (refreshed ahead of expiry, one fetch at a time). */
  getToken (): Promise<string>
  /** Forgets `token` if, and only if, it is still the current one: a newer token is never thrown away. */
  invalidate (token: string): Promise<void>
  /** Runs fn with a token; on 40001/40014/42001 invalidates that token and retries fn exactly once. */
  withToken<T> (fn: (token: string) => Promise<T>): Promise<T>
  close (): Promise<void>
}

/** The token a provider keeps, with times in ms since the epoch. */
export interface CachedToken {
  token: string
  expiresAt: number
  /** From then on callers still get the token, but one of them triggers a refresh. */
  refreshAt: number
}

/** Validates what `fetch` returned and dates it. */
export function cacheFetched (value: unknown, now: number, refreshAheadMs: number): CachedToken {
  const { accessToken, expiresIn } = (value ?? {}) as Partial<FetchedAccessToken>
  if (typeof accessToken !== 'string' || accessToken === '') throw new TokenFetchInvalidError('accessToken is not a non-empty string')
  if (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn) || expiresIn <= 0) throw new TokenFetchInvalidError('expiresIn is not a positive number')
  const lifetimeMs = Math.floor(expiresIn * 1000)
  // A stable token fetched near its roll-over comes back with little lifetime left (>= 300 s): never
  // schedule the next refresh before half of that, or every call would refresh again at once.
  const refreshInMs = Math.max(lifetimeMs - refreshAheadMs, Math.floor(lifetimeMs / 2))
  return { token: accessToken, expiresAt: now + lifetimeMs, refreshAt: now + refreshInMs }
}

/** The shared withToken: one retry with a fresh token after a stale-token errcode, never a loop. */
export async function runWithToken<T> (provider: Pick<AccessTokenProvider, 'getToken' | 'invalidate'>, fn: (token: string) => Promise<T>): Promise<T> {
  const token = await provider.getToken()
  try {
    return await fn(token)
  } catch (err) {
    if (!isStaleTokenError(err)) throw err
    await provider.invalidate(token)
    return await fn(await provider.getToken())
  }
}
