import { CodeInvalidError, ResponseInvalidError } from './errors.js'
import { withOutcome } from './outcome.js'
import { loginStateSignature } from './signatures.js'
import type { WechatTransport } from './transport.js'

// Log-in endpoints: wx.login's code for an openid and session_key, and the session_key's validity.

export interface Code2SessionResult {
  openid: string
  sessionKey: string
  unionid?: string
}

export interface CheckSessionKeyInput {
  accessToken: string
  openid: string
  sessionKey: string
}

/** GET /sns/jscode2session. The code is single use, so only -1 and failures before sending are retried. */
export async function code2Session (transport: WechatTransport, jsCode: string): Promise<Code2SessionResult> {
  if (typeof jsCode !== 'string' || jsCode.length === 0) throw withOutcome(new CodeInvalidError('js_code is empty'), 'not-sent')
  const data = await transport.callJson('GET', '/sns/jscode2session', {
    query: { appid: transport.appId, secret: transport.appSecret, js_code: jsCode, grant_type: 'authorization_code' },
    idempotent: false
  })
  if (typeof data.openid !== 'string' || data.openid === '' || typeof data.session_key !== 'string' || data.session_key === '') {
    throw withOutcome(new ResponseInvalidError('jscode2session without openid or session_key'), 'unknown')
  }
  const result: Code2SessionResult = { openid: data.openid, sessionKey: data.session_key }
  if (typeof data.unionid === 'string' && data.unionid !== '') result.unionid = data.unionid
  return result
}

/** GET /wxa/checksession. Resolves when the session_key is still valid; SessionKeyInvalidError (87009) when not. */
export async function checkSessionKey (transport: WechatTransport, { accessToken, openid, sessionKey }: CheckSessionKeyInput): Promise<void> {
  await transport.callJson('GET', '/wxa/checksession', {
    accessToken,
    query: { openid, signature: loginStateSignature(sessionKey, ''), sig_method: 'hmac_sha256' },
    secrets: [sessionKey]
  })
}
