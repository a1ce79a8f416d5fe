import type { Cluster, Redis } from 'ioredis'
import type { WechatClient } from './client.js'
import { OptionsInvalidError } from './errors.js'
import { MemoryAccessTokenProvider } from './memory-token-provider.js'
import { functionOption, requireObject } from './options.js'
import { RedisAccessTokenProvider } from './redis-token-provider.js'
import type { AccessTokenSource } from './token-endpoints.js'
import type { AccessTokenProvider, FetchAccessToken } from './token-provider.js'

export interface CreateAccessTokensOptions {
  /** Fetches the tokens (its appId also names the Redis key). */
  client: Pick<WechatClient, 'appId' | 'getAccessToken' | 'getStableAccessToken'>
  /**
   * 'stable' (default): /cgi-bin/stable_token in normal mode, which hands every caller the current token
   * and so never retires one in use. 'classic': /cgi-bin/token, where every fetch retires the previous one.
   */
  source?: AccessTokenSource
  /** Shared cache at `wx:token:{<appid>}` (every instance and service) when given; in-process when null. Never closed here. */
  redis?: Redis | Cluster | null
  /** Errors of background refreshes, once per failed refresh (a client error's message carries no secret). */
  onRefreshError: (err: unknown) => void
  /** After each fetch from WeChat, whether it worked (metrics). */
  onFetch?: (result: 'ok' | 'error') => void
}

const SOURCES: ReadonlySet<unknown> = new Set<AccessTokenSource>(['stable', 'classic'])

/**
 * The access_token provider every service uses: Redis when there is one (one fetch at a time across
 * processes), memory otherwise (one at a time in this process), fed by the chosen token endpoint.
 */
export function createAccessTokens (options: CreateAccessTokensOptions): AccessTokenProvider {
  requireObject('options', options)
  const { client, source = 'stable', redis = null } = options
  if (typeof client?.getAccessToken !== 'function' || typeof client.getStableAccessToken !== 'function') {
    throw new OptionsInvalidError('client must be a WechatClient')
  }
  if (!SOURCES.has(source)) throw new OptionsInvalidError('source must be stable or classic')
  const onRefreshError = functionOption<(err: unknown) => void>('onRefreshError', options.onRefreshError)
  const onFetch = functionOption<(result: 'ok' | 'error') => void>('onFetch', options.onFetch, () => {})
  const fetchToken: FetchAccessToken = source === 'classic'
    ? async () => await client.getAccessToken()
    : async () => await client.getStableAccessToken()
  const fetch: FetchAccessToken = async () => {
    try {
      const fetched = await fetchToken()
      onFetch('ok')
      return fetched
    } catch (err) {
      onFetch('error')
      throw err
    }
  }
  return redis === null
    ? new MemoryAccessTokenProvider({ fetch, onRefreshError })
    : new RedisAccessTokenProvider({ redis, appId: client.appId, fetch, onRefreshError })
}
