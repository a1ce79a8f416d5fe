// Every error the SDK rejects with. `code` is stable: the server's own code for HTTP answers
// (GATEWAY_SESSION_INVALID, VALIDATION_FAILED, ...), SDK_* for what happened on the client.

export const ErrorCodes = {
  network: 'SDK_NETWORK_ERROR',
  timeout: 'SDK_TIMEOUT',
  wxLogin: 'SDK_WX_LOGIN_FAILED',
  badResponse: 'SDK_BAD_RESPONSE',
  methodUnsupported: 'SDK_METHOD_UNSUPPORTED',
  socketNotOpen: 'SDK_SOCKET_NOT_OPEN',
  socket: 'SDK_SOCKET_ERROR',
  socketClosed: 'SDK_SOCKET_CLOSED'
} as const

export class WeappError extends Error {
  readonly code: string
  constructor (code: string, message: string) {
    super(message)
    this.name = 'WeappError'
    this.code = code
  }
}

/** The server's error body: `{ statusCode, code, error, message }` (every route answers errors this way). */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

/** The server answered with a status outside 2xx. `code` is the body's `code`, else `SDK_HTTP_<status>`. */
export class ApiError extends WeappError {
  readonly statusCode: number
  /** The response body as received (the ErrorBody, or whatever a proxy in between answered). */
  readonly body: unknown
  /** The request id the gateway answered with (`x-request-id`), to find the request in its logs. */
  readonly requestId: string | undefined
  constructor (statusCode: number, body: unknown, requestId?: string) {
    const parsed = isErrorBody(body) ? body : null
    super(parsed?.code ?? `SDK_HTTP_${statusCode}`, parsed?.message ?? `HTTP ${statusCode}`)
    this.name = 'ApiError'
    this.statusCode = statusCode
    this.body = body
    this.requestId = requestId
  }
}

/** wx.request / wx.connectSocket failed before any answer: no network, DNS, TLS, domain not allowed, timeout. */
export class NetworkError extends WeappError {
  /** wx's own errMsg, e.g. `request:fail timeout`, `request:fail url not in domain list`. */
  readonly errMsg: string
  constructor (errMsg: string) {
    super(/timeout/i.test(errMsg) ? ErrorCodes.timeout : ErrorCodes.network, errMsg)
    this.name = 'NetworkError'
    this.errMsg = errMsg
  }
}

/** wx.login failed (no network, or the user's WeChat refused). */
export class LoginError extends WeappError {
  readonly errMsg: string
  constructor (errMsg: string) {
    super(ErrorCodes.wxLogin, errMsg)
    this.name = 'LoginError'
    this.errMsg = errMsg
  }
}

export function isErrorBody (body: unknown): body is ErrorBody {
  if (typeof body !== 'object' || body === null) return false
  const b = body as Partial<ErrorBody>
  return typeof b.code === 'string' && typeof b.message === 'string'
}
