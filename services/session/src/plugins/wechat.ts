import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createRedis, redisTopologyOf, type RedisClient } from '@weapp/common'
import { createAccessTokens, WechatClient, type AccessTokenProvider, type WechatClientOptions } from '@weapp/wechat'

declare module 'fastify' {
  interface FastifyInstance {
    /** The WeChat server API client (jscode2session, tokens, phone numbers). */
    wechat: WechatClient
    /** access_token cache: Redis (shared by every instance and service) when a Redis topology is configured. */
    accessTokens: AccessTokenProvider
    /** That cache's Redis connection (its state goes into /healthz); null without Redis. */
    sessionRedis: RedisClient | null
  }
}

export interface WechatPluginOptions {
  /** Tuning the tests need (short retry back-off); production uses the client's defaults. */
  client?: Partial<Pick<WechatClientOptions, 'retries' | 'retryBaseDelayMs'>>
}

async function wechatPlugin (app: FastifyInstance, opts: WechatPluginOptions): Promise<void> {
  const { APP_ID, APP_SECRET, WECHAT_API_BASE, WECHAT_TIMEOUT_MS, TOKEN_SOURCE } = app.sessionConfig
  const topology = redisTopologyOf(app.sessionConfig)
  const client = new WechatClient({ ...opts.client, appId: APP_ID, appSecret: APP_SECRET, baseUrl: WECHAT_API_BASE, timeoutMs: WECHAT_TIMEOUT_MS })
  let closeRedis = async (): Promise<void> => {}
  let redis: RedisClient | null = null
  if (topology !== undefined) {
    // The factory's command timeout and once-per-outage logging: login and /me never need this connection.
    const connection = createRedis(topology, {}, { name: 'access tokens', log: app.log })
    redis = connection
    closeRedis = async () => { await connection.quit().catch(() => connection.disconnect()) }
  }
  const tokens: AccessTokenProvider = createAccessTokens({
    client,
    source: TOKEN_SOURCE,
    redis,
    // A refresh ahead of expiry failed (callers still have the current token): one line per failure.
    onRefreshError: (err) => { app.log.warn({ err }, 'access_token refresh failed') }
  })
  app.decorate('wechat', client)
  app.decorate('accessTokens', tokens)
  app.decorate<RedisClient | null>('sessionRedis', redis)
  app.addHook('onClose', async () => {
    await tokens.close()
    await client.close()
    await closeRedis()
  })
}

export default fp(wechatPlugin, { name: 'session-wechat', fastify: '5.x', dependencies: ['session-config'] })
