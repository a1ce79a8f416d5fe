import type { FastifyError } from '@fastify/error'
import {
  ApiError, ApiUnauthorizedError, BusyError, CodeInvalidError, CredentialsInvalidError, MediaInvalidError, MediaTypeInvalidError,
  OpenidInvalidError, RateLimitedError, RiskyUserError, SendQuotaExceededError, SendWindowClosedError, SessionKeyInvalidError,
  TokenInvalidError, TypingAlreadyActiveError, TypingCommandInvalidError, TypingNoInteractionError, type WechatApiErrorFields
} from './errors.js'

/** An error made from a WeChat errcode: one of the typed errors plus WeChat's own errcode/errmsg. */
export type WechatApiError = FastifyError & WechatApiErrorFields

/** errcodes that mean "this access_token is stale": invalidate it, fetch another, retry once. */
export const STALE_TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001])

const CODE_ERRCODES = new Set([40029, 40163])
const CREDENTIAL_ERRCODES = new Set([40013, 40125, 41002, 41004, 40002, 40243, 40164])
/** errcodes with one meaning wherever they come from. */
const BY_ERRCODE: ReadonlyMap<number, new (detail: string) => FastifyError> = new Map<number, new (detail: string) => FastifyError>([
  [45011, RateLimitedError],
  [40226, RiskyUserError],
  [87009, SessionKeyInvalidError],
  [40003, OpenidInvalidError],
  [48001, ApiUnauthorizedError],
  [45015, SendWindowClosedError],
  [45047, SendQuotaExceededError],
  [45072, TypingCommandInvalidError],
  [45080, TypingNoInteractionError],
  [45081, TypingAlreadyActiveError],
  [40007, MediaInvalidError],
  [40004, MediaTypeInvalidError]
])
// On the token endpoints themselves 40001 means the AppSecret is wrong, not that a token is stale.
const TOKEN_ENDPOINTS = new Set(['/cgi-bin/token', '/cgi-bin/stable_token'])

/** Maps a non-zero errcode returned by `path` to its typed error. */
export function errorFromErrcode (errcode: number, errmsg: string, path: string): WechatApiError {
  const detail = `${errmsg} (${path})`
  let err: FastifyError
  if (errcode === 40001 && TOKEN_ENDPOINTS.has(path)) err = new CredentialsInvalidError(detail)
  else if (STALE_TOKEN_ERRCODES.has(errcode)) err = new TokenInvalidError(detail)
  else if (CODE_ERRCODES.has(errcode)) err = new CodeInvalidError(detail)
  else if (CREDENTIAL_ERRCODES.has(errcode)) err = new CredentialsInvalidError(detail)
  else if (errcode === -1) err = new BusyError(detail)
  else {
    const Typed = BY_ERRCODE.get(errcode)
    err = Typed === undefined ? new ApiError(errcode, detail) : new Typed(detail)
  }
  return Object.assign(err, { errcode, errmsg })
}

export function isWechatApiError (err: unknown): err is WechatApiError {
  return err instanceof Error && typeof (err as Partial<WechatApiErrorFields>).errcode === 'number'
}

/**
 * True for 40001/40014/42001: the signal to refresh the access_token and retry once. Not for a 40001
 * from the token endpoints themselves (a wrong AppSecret), which no refresh can fix.
 */
export function isStaleTokenError (err: unknown): boolean {
  return isWechatApiError(err) && STALE_TOKEN_ERRCODES.has(err.errcode) && err.code !== 'WECHAT_CREDENTIALS_INVALID'
}
