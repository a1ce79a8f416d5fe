import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createRedis } from '@weapp/common'
import {
  MemoryAccessTokenProvider, RedisAccessTokenProvider, WechatClient,
  type AccessTokenProvider, type FetchAccessToken, type WechatClientOptions
} from '@weapp/wechat'

declare module 'fastify' {
  interface FastifyInstance {
    /** The WeChat server API client (jscode2session, tokens, phone numbers). */
    wechat: WechatClient
    /** access_token cache: Redis (shared by every instance and service) when REDIS_URL is set. */
    accessTokens: AccessTokenProvider
  }
}

export interface WechatPluginOptions {
  /** Tuning the tests need (short retry back-off); production uses the client's defaults. */
  client?: Partial<Pick<WechatClientOptions, 'retries' | 'retryBaseDelayMs'>>
}

async function wechatPlugin (app: FastifyInstance, opts: WechatPluginOptions): Promise<void> {
  const { APP_ID, APP_SECRET, WECHAT_API_BASE, WECHAT_TIMEOUT_MS, TOKEN_SOURCE, REDIS_URL } = app.config
  const client = new WechatClient({ ...opts.client, appId: APP_ID, appSecret: APP_SECRET, baseUrl: WECHAT_API_BASE, timeoutMs: WECHAT_TIMEOUT_MS })
  const fetch: FetchAccessToken = TOKEN_SOURCE === 'classic'
    ? async () => await client.getAccessToken()
    : async () => await client.getStableAccessToken()
  const onRefreshError = (err: unknown): void => { app.log.warn({ err }, 'access_token refresh failed') }
  let tokens: AccessTokenProvider
  let closeRedis = async (): Promise<void> => {}
  if (REDIS_URL === undefined) {
    tokens = new MemoryAccessTokenProvider({ fetch, onRefreshError })
  } else {
    const redis = createRedis(REDIS_URL)
    closeRedis = async () => { await redis.quit().catch(() => redis.disconnect()) }
    tokens = new RedisAccessTokenProvider({ redis, appId: APP_ID, fetch })
  }
  app.decorate('wechat', client)
  app.decorate('accessTokens', tokens)
  app.addHook('onClose', async () => {
    await tokens.close()
    await client.close()
    await closeRedis()
  })
}

export default fp(wechatPlugin, { name: 'session-wechat', fastify: '5.x', dependencies: ['session-config'] })
