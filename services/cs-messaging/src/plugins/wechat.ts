import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { createAccessTokens, WechatClient, type AccessTokenProvider, type WechatClientOptions } from '@weapp/wechat'
import { MeteredAccessTokenProvider } from '../outbound/metered-tokens.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The WeChat API client, when APP_SECRET is configured (needed to send); null otherwise. */
    csWechat: WechatClient | null
    /** access_token cache (Redis `wx:token:{<appid>}`, shared with every service), when APP_SECRET is set. */
    csAccessTokens: AccessTokenProvider | null
  }
}

export interface WechatPluginOptions {
  /** Tuning the tests need (short retry back-off); production uses the client's defaults. */
  client?: Partial<Pick<WechatClientOptions, 'retries' | 'retryBaseDelayMs'>>
}

async function wechatPlugin (app: FastifyInstance, opts: WechatPluginOptions): Promise<void> {
  const { APP_ID, APP_SECRET, WECHAT_API_BASE, WECHAT_TIMEOUT_MS, TOKEN_SOURCE } = app.csConfig
  if (APP_SECRET === undefined) {
    app.decorate('csWechat', null)
    app.decorate('csAccessTokens', null)
    return
  }
  const client = new WechatClient({ ...opts.client, appId: APP_ID, appSecret: APP_SECRET, baseUrl: WECHAT_API_BASE, timeoutMs: WECHAT_TIMEOUT_MS })
  // Single flight either way: in process (memory), or across every instance under a Redis lock.
  const inner = createAccessTokens({
    client,
    source: TOKEN_SOURCE,
    redis: app.csRedis,
    onRefreshError: (err) => { app.log.warn({ err }, 'access_token refresh failed') },
    onFetch: (result) => { app.csMetrics.tokenFetches.inc({ result }) }
  })
  const tokens = new MeteredAccessTokenProvider({ inner, metrics: app.csMetrics })
  app.decorate('csWechat', client)
  app.decorate('csAccessTokens', tokens)
  app.addHook('onClose', async () => {
    await tokens.close()
    await client.close()
  })
}

export default fp(wechatPlugin, { name: 'cs-wechat', fastify: '5.x', dependencies: ['cs-config', 'cs-redis', 'cs-metrics'] })
