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
/** protocol.md §1.1: jscode2session allows 100 calls per user per minute. */
export const DEFAULT_CODE2SESSION_PER_USER_PER_MINUTE = 100
/** protocol.md §5: the real per-minute quota is unpublished; 100 per app is our pick. */
export const DEFAULT_PHONE_PER_APP_PER_MINUTE = 100

/** A superseded access_token keeps working this long (protocol.md §2.1/§2.2). */
export const TOKEN_GRACE_MS = 5 * 60_000
/** Normal-mode stable tokens roll over this long before they expire, so expires_in never drops below it. */
export const STABLE_ROLLOVER_MS = 5 * 60_000
export const FORCE_REFRESH_PER_DAY = 20
export const FORCE_REFRESH_SPACING_MS = 30_000
