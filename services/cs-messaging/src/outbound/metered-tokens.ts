import { isStaleTokenError, isWechatApiError, type AccessTokenProvider } from '@weapp/wechat'
import type { CsMetrics } from '../metrics.js'

/**
 * The shared access-token provider, counting the stale-token errcodes WeChat answers to the calls made
 * through withToken. The refresh-once-and-retry logic stays the provider's: this only watches.
 */
export class MeteredAccessTokenProvider implements AccessTokenProvider {
  readonly #inner: AccessTokenProvider
  readonly #metrics: CsMetrics

  constructor ({ inner, metrics }: { inner: AccessTokenProvider, metrics: CsMetrics }) {
    this.#inner = inner
    this.#metrics = metrics
  }

  async getToken (): Promise<string> {
    return await this.#inner.getToken()
  }

  async invalidate (token: string): Promise<void> {
    await this.#inner.invalidate(token)
  }

  async withToken<T> (fn: (token: string) => Promise<T>): Promise<T> {
    return await this.#inner.withToken(async (token) => {
      try {
        return await fn(token)
      } catch (err) {
        if (isStaleTokenError(err) && isWechatApiError(err)) this.#metrics.staleTokens.inc({ errcode: String(err.errcode) })
        throw err
      }
    })
  }

  async close (): Promise<void> {
    await this.#inner.close()
  }
}
