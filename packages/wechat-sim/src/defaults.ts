/**
 * The app every simulator knows unless told otherwise. The secret is a fixed development value:
 * it only ever unlocks this simulator, never real WeChat.
 */
export const DEFAULT_SIM_APP: Readonly<{ appId: string, appSecret: string }> = Object.freeze({
  appId: 'wx5f1c0d2e3b4a6978',
  appSecret: '5e1a0c9d7b3f42e8a6c4d2b0f9e7c5a3'
})

export const DEFAULT_TOKEN_TTL_SEC = 7200
export const DEFAULT_CODE_TTL_MS = 5 * 60_000
export const DEFAULT_PHONE_CODE_TTL_MS = 5 * 60_000
/** docs/wechat/limits.md#quotas: jscode2session allows 100 calls per user per minute. */
export const DEFAULT_CODE2SESSION_PER_USER_PER_MINUTE = 100
/** docs/wechat/limits.md#quotas: the real per-minute quota is unpublished; 100 per app is our pick. */
export const DEFAULT_PHONE_PER_APP_PER_MINUTE = 100

/** A superseded access_token keeps working this long (docs/wechat/api.md#access-tokens). */
export const TOKEN_GRACE_MS = 5 * 60_000
/** Normal-mode stable tokens roll over this long before they expire, so expires_in never drops below it. */
export const STABLE_ROLLOVER_MS = 5 * 60_000
export const FORCE_REFRESH_PER_DAY = 20
export const FORCE_REFRESH_SPACING_MS = 30_000

// ---- customer service (docs/wechat/api.md#customer-service, docs/wechat/limits.md) ----
/** A user message opens a window of this many messages (docs/wechat/limits.md#send-windows). */
export const DEFAULT_USER_MESSAGE_ALLOWANCE = 5
export const USER_MESSAGE_WINDOW_MS = 48 * 3_600_000
/** Entering the session: 2 in the current docs, 1 in older ones (docs/wechat/limits.md#session-entry-allowance); configurable. */
export const DEFAULT_ENTER_SESSION_ALLOWANCE = 2
export const ENTER_SESSION_WINDOW_MS = 60_000
/** Typing needs a message exchanged within this long, and lasts this long (docs/wechat/api.md#typing). */
export const TYPING_EXCHANGE_MS = 30_000
export const TYPING_DURATION_MS = 15_000
/** media_ids live three days (docs/wechat/api.md#temporary-media). */
export const MEDIA_TTL_MS = 3 * 86_400_000
/** The mini-program page gives no size limit (docs/wechat/limits.md#image-size); the Official-Account page's 10 MB is our pick. */
export const DEFAULT_MEDIA_MAX_BYTES = 10 * 1024 * 1024
/** Messages remembered per user for GET /sim/sent (the oldest go first). */
export const SENT_LOG_PER_USER = 1000

// ---- message push (docs/wechat/push.md) ----
/** WeChat waits this long for an answer, then drops the connection and delivers again. */
export const PUSH_TIMEOUT_MS = 5_000
/** Deliveries in total, the first included (docs/wechat/push.md#retries-and-de-duplication, docs/wechat/limits.md#retry-count). */
export const PUSH_DELIVERIES = 3
