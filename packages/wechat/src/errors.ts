import createError from '@fastify/error'

// Every error @weapp/wechat raises. Codes are stable and never reused for another meaning.
// API errors carry WeChat's own `errcode`/`errmsg` (see WechatApiErrorFields) for logs and metrics.

// ---- crypto and signatures ----
export const SignatureMismatchError = createError('WECHAT_SIGNATURE_MISMATCH', 'Signature does not match', 401)
export const AesKeyInvalidError = createError('WECHAT_AES_KEY_INVALID', 'EncodingAESKey must be 43 base64 characters decoding to 32 bytes', 500)
export const CiphertextInvalidError = createError<[string]>('WECHAT_CIPHERTEXT_INVALID', 'Ciphertext is invalid: %s', 400)
export const AppIdMismatchError = createError('WECHAT_APPID_MISMATCH', 'AppID inside the message does not match', 400)
export const OpenDataInvalidError = createError<[string]>('WECHAT_OPEN_DATA_INVALID', 'Open data cannot be decrypted: %s', 400)
export const WatermarkMismatchError = createError('WECHAT_WATERMARK_MISMATCH', 'Open data watermark AppID does not match', 400)

// ---- API (errcodes become these) ----
export const CodeInvalidError = createError<[string]>('WECHAT_CODE_INVALID', 'WeChat rejected the code: %s', 401)
export const RateLimitedError = createError<[string]>('WECHAT_RATE_LIMITED', 'WeChat rate limit reached: %s', 429)
export const RiskyUserError = createError<[string]>('WECHAT_RISKY_USER', 'WeChat blocked this user: %s', 403)
export const BusyError = createError<[string]>('WECHAT_BUSY', 'WeChat is busy, retries exhausted: %s', 503)
export const TokenInvalidError = createError<[string]>('WECHAT_TOKEN_INVALID', 'access_token rejected: %s', 502)
export const CredentialsInvalidError = createError<[string]>('WECHAT_CREDENTIALS_INVALID', 'AppID/AppSecret rejected by WeChat: %s', 502)
export const SessionKeyInvalidError = createError<[string]>('WECHAT_SESSION_KEY_INVALID', 'session_key is no longer valid: %s', 401)
// customer service (docs/wechat/errors.md#customer-service-errors)
export const SendWindowClosedError = createError<[string]>('WECHAT_SEND_WINDOW_CLOSED', 'No customer-service send window is open for this user (they must message or enter the session first; 48 h / 1 min): %s', 409)
export const SendQuotaExceededError = createError<[string]>('WECHAT_SEND_QUOTA_EXCEEDED', 'The messages allowed in this user\'s send window are used up until the user acts again: %s', 429)
export const OpenidInvalidError = createError<[string]>('WECHAT_OPENID_INVALID', 'The openid is not a user of this mini-program: %s', 400)
export const ApiUnauthorizedError = createError<[string]>('WECHAT_API_UNAUTHORIZED', 'This account is not authorised for the API (permission, verification or token type): %s', 502)
export const TypingNoInteractionError = createError<[string]>('WECHAT_TYPING_NO_INTERACTION', 'Typing needs an open send window and a message exchanged within the last 30 s: %s', 409)
export const TypingAlreadyActiveError = createError<[string]>('WECHAT_TYPING_ALREADY_ACTIVE', 'Typing is already showing (it lasts 15 s): %s', 409)
export const TypingCommandInvalidError = createError<[string]>('WECHAT_TYPING_COMMAND_INVALID', 'Typing command must be Typing or CancelTyping: %s', 400)
export const MediaInvalidError = createError<[string]>('WECHAT_MEDIA_INVALID', 'media_id is unknown, another app\'s or expired (3 days): %s', 400)
export const MediaTypeInvalidError = createError<[string]>('WECHAT_MEDIA_TYPE_INVALID', 'Media type is not accepted (mini-program customer service takes image only): %s', 400)
export const RequestInvalidError = createError<[string]>('WECHAT_REQUEST_INVALID', 'Invalid customer-service request (not sent): %s', 400)

export const ApiError = createError<[number, string]>('WECHAT_API_ERROR', 'WeChat API error %s: %s', 502)
export const TimeoutError = createError<[string]>('WECHAT_TIMEOUT', 'WeChat did not answer in time: %s', 504)
export const UnavailableError = createError<[string]>('WECHAT_UNAVAILABLE', 'WeChat cannot be reached: %s', 502)
export const ResponseInvalidError = createError<[string]>('WECHAT_RESPONSE_INVALID', 'WeChat answered with an unexpected body: %s', 502)

// ---- access tokens ----
export const TokenWaitTimeoutError = createError<[string]>('WECHAT_TOKEN_WAIT_TIMEOUT', 'Gave up waiting for the access_token refresh: %s', 503)
export const TokenFetchInvalidError = createError<[string]>('WECHAT_TOKEN_FETCH_INVALID', 'access_token fetch returned an unusable value: %s', 502)

// ---- lifecycle and configuration ----
export const OptionsInvalidError = createError<[string]>('WECHAT_OPTIONS_INVALID', 'Invalid @weapp/wechat options: %s', 500)
export const ClosedError = createError<[string]>('WECHAT_CLOSED', '%s is closed', 500)

/** Set on every error made from a WeChat errcode. */
export interface WechatApiErrorFields {
  errcode: number
  errmsg: string
}
