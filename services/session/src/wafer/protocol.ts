import type { FastifyBaseLogger, FastifyRequest } from 'fastify'

// The wire details of the wafer SDKs (docs/wafer.md): header names, the magic key,
// and how failures are spelled for each generation. Clients ignore HTTP status; they read these bodies.

/** Key of the wafer generation 1 login answer and of its session errors. */
export const WAFER_MAGIC = 'F2C224D4-2BCE-4C64-AF9F-A6D872000D1A'
export const ALREADY_LOGGED_IN_MESSAGE = '小程序会话已登录'

export const WaferHeaders = {
  code: 'x-wx-code',
  encryptedData: 'x-wx-encrypted-data',
  /** qcloud-weapp-client-sdk 0.7 spelling; it sends no iv. */
  encryptData: 'x-wx-encrypt-data',
  iv: 'x-wx-iv'
} as const

/** A header's value, or undefined when it is absent or empty. */
export function header (request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return typeof first === 'string' && first !== '' ? first : undefined
}

interface ErrorLike {
  code?: unknown
  statusCode?: unknown
  message?: unknown
  errcode?: unknown
  errmsg?: unknown
}

function fields (err: unknown): ErrorLike {
  return typeof err === 'object' && err !== null ? err as ErrorLike : {}
}

/** Errors of our own making or WeChat's, whose message is safe to show; anything else is an internal failure. */
export function isExpected (err: unknown): boolean {
  const { code, statusCode } = fields(err)
  return typeof code === 'string' && /^(WECHAT|SESSION)_/.test(code) && typeof statusCode === 'number'
}

/** Logs a failed wafer login at the right level (never the headers' values: they carry the code and user data). */
export function logLoginFailure (log: FastifyBaseLogger, err: unknown): void {
  const { code, statusCode, errcode } = fields(err)
  if (!isExpected(err)) log.error({ err }, 'wafer login failed')
  else if (typeof statusCode === 'number' && statusCode >= 500) log.warn({ code, errcode, statusCode }, 'wafer login failed: WeChat unavailable')
  else log.info({ code, errcode }, 'wafer login refused')
}

/** Generation 1 failure message (wafer-node-session: `{"type":"ERR_LOGIN_FAILED","message":...}`). */
export function gen1FailureMessage (err: unknown): string {
  return isExpected(err) ? String(fields(err).message) : 'Internal server error'
}

/**
 * Generation 2 error string as wafer-node-sdk spelled it: the error name, then details after a newline
 * (`ERR_GET_SESSION_KEY\n{"errcode":40029,"errmsg":"invalid code"}`).
 */
export function gen2Error (err: unknown): string {
  const { code, message, errcode, errmsg } = fields(err)
  if (code === 'SESSION_WAFER_HEADER_MISSING') return 'ERR_HEADER_MISSED'
  if (code === 'WECHAT_OPEN_DATA_INVALID' || code === 'WECHAT_WATERMARK_MISMATCH') return `ERR_IN_DECRYPT_DATA\n${String(message)}`
  if (typeof errcode === 'number') return `ERR_GET_SESSION_KEY\n${JSON.stringify({ errcode, errmsg })}`
  if (isExpected(err)) return `ERR_GET_SESSION_KEY\n${String(message)}`
  return 'ERR_LOGIN_FAILED\nInternal server error'
}
