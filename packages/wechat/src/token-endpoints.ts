import { ResponseInvalidError } from './errors.js'
import { withOutcome } from './outcome.js'
import type { WechatTransport } from './transport.js'

// The access_token endpoints. Callers normally go through a provider (createAccessTokens), never these.

export interface AccessTokenResult {
  accessToken: string
  /** Seconds, as WeChat reports it. */
  expiresIn: number
}

/** Which endpoint gives the access_token: stable_token (default) or the classic /cgi-bin/token. */
export type AccessTokenSource = 'stable' | 'classic'

/** GET /cgi-bin/token. Every call retires the previous token (5-minute overlap): prefer a provider. */
export async function getAccessToken (transport: WechatTransport): Promise<AccessTokenResult> {
  const data = await transport.callJson('GET', '/cgi-bin/token', {
    query: { grant_type: 'client_credential', appid: transport.appId, secret: transport.appSecret }
  })
  return toAccessToken(data, '/cgi-bin/token')
}

/** POST /cgi-bin/stable_token. Normal mode returns the current token, so it is safe to repeat; force mode is not. */
export async function getStableAccessToken (transport: WechatTransport, forceRefresh = false): Promise<AccessTokenResult> {
  const data = await transport.callJson('POST', '/cgi-bin/stable_token', {
    body: { grant_type: 'client_credential', appid: transport.appId, secret: transport.appSecret, force_refresh: forceRefresh === true },
    idempotent: forceRefresh !== true
  })
  return toAccessToken(data, '/cgi-bin/stable_token')
}

function toAccessToken (data: Record<string, unknown>, path: string): AccessTokenResult {
  const expiresIn = Number(data.expires_in)
  if (typeof data.access_token !== 'string' || data.access_token === '' || !Number.isFinite(expiresIn) || expiresIn <= 0) {
    throw withOutcome(new ResponseInvalidError(`no access_token/expires_in (${path})`), 'unknown')
  }
  return { accessToken: data.access_token, expiresIn }
}
