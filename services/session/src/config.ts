import Type, { type Static } from 'typebox'
import { CommonEnv, ConfigInvalidError, DEFAULT_MONGO_OP_TIMEOUT_MS, loadConfig } from '@weapp/common'

export const DEFAULT_PORT = 8081
export const DEFAULT_WECHAT_API_BASE = 'https://api.weixin.qq.com'
export const DEFAULT_MONGO_DB = 'weapp'
export const DEFAULT_SESSION_IDLE_TTL_SEC = 7 * 24 * 3600
export const DEFAULT_SESSION_MAX_TTL_SEC = 30 * 24 * 3600
export const DEFAULT_WECHAT_TIMEOUT_MS = 5000
export const DEFAULT_CONSOLE_SESSION_IDLE_SEC = 3600
export const DEFAULT_CONSOLE_SESSION_MAX_SEC = 12 * 3600

/** A console login (docs/console.md#sessions): 1-64 of [a-z0-9._-], case-folded (upper case is accepted and lowered). */
export const AGENT_LOGIN_PATTERN = '^[A-Za-z0-9._-]{1,64}$'
/** Console passwords: 12 to 256 characters (agents/passwords.ts checks it; the config refuses a shorter admin one at boot). */
export const PASSWORD_MIN_LENGTH = 12
export const PASSWORD_MAX_LENGTH = 256

/** 32 bytes in base64 (openssl rand -base64 32). */
const ENCRYPTION_KEY_PATTERN = '^[A-Za-z0-9+/]{43}=$'

/** Everything the session service reads from its environment, validated at boot. */
export const SessionEnv = Type.Object({
  ...CommonEnv,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORT }),
  /** The mini-program's AppID. */
  APP_ID: Type.String({ pattern: '^wx[0-9a-f]{16}$' }),
  /** The mini-program's AppSecret: a secret, may come from APP_SECRET_FILE. */
  APP_SECRET: Type.String({ pattern: '^[0-9a-f]{32}$', secret: true }),
  /** Where the WeChat server API lives (the simulator in development and tests). */
  WECHAT_API_BASE: Type.String({ pattern: '^https?://', default: DEFAULT_WECHAT_API_BASE }),
  /** Absent: users and sessions live in process memory (embedded mode). */
  MONGO_URL: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://', secret: 'url' })),
  MONGO_DB: Type.String({ minLength: 1, pattern: '^[^/\\\\. "$]+$', default: DEFAULT_MONGO_DB }),
  /** A MongoDB read not finished in this time is stopped (maxTimeMS) and the request answered 503 COMMON_STORE_UNAVAILABLE. */
  MONGO_OP_TIMEOUT_MS: Type.Integer({ minimum: 500, maximum: 60_000, default: DEFAULT_MONGO_OP_TIMEOUT_MS }),
  /** session_key is stored encrypted (AES-256-GCM) under these 32 bytes (base64): a secret; required with MONGO_URL. */
  SESSION_KEY_ENCRYPTION_KEY: Type.Optional(Type.String({ pattern: ENCRYPTION_KEY_PATTERN, secret: true })),
  /** The key before a rotation: values written with it are still read (and re-encrypted at the user's next login). */
  SESSION_KEY_ENCRYPTION_KEY_PREVIOUS: Type.Optional(Type.String({ pattern: ENCRYPTION_KEY_PATTERN, secret: true })),
  /** A session unused for this long expires (each use slides it). */
  SESSION_IDLE_TTL_SEC: Type.Integer({ minimum: 60, default: DEFAULT_SESSION_IDLE_TTL_SEC }),
  /** No session lives longer than this after login, however often it is used. */
  SESSION_MAX_TTL_SEC: Type.Integer({ minimum: 60, default: DEFAULT_SESSION_MAX_TTL_SEC }),
  /** stable: POST /cgi-bin/stable_token (shared safely with other consumers); classic: GET /cgi-bin/token. */
  TOKEN_SOURCE: Type.Union([Type.Literal('stable'), Type.Literal('classic')], { default: 'stable' }),
  WECHAT_TIMEOUT_MS: Type.Integer({ minimum: 1, default: DEFAULT_WECHAT_TIMEOUT_MS }),
  /** An agent console session unused for this long expires (each use slides it). */
  CONSOLE_SESSION_IDLE_SEC: Type.Integer({ minimum: 60, default: DEFAULT_CONSOLE_SESSION_IDLE_SEC }),
  /** No console session lives longer than this after login; the cookie's Max-Age. */
  CONSOLE_SESSION_MAX_SEC: Type.Integer({ minimum: 60, default: DEFAULT_CONSOLE_SESSION_MAX_SEC }),
  /** true behind HTTPS (nginx): the cookie is `__Host-weapp_console` with Secure; false: `weapp_console` (http dev). */
  CONSOLE_COOKIE_SECURE: Type.Boolean({ default: false }),
  /** With CONSOLE_ADMIN_PASSWORD: the console admin created at start when this login does not exist yet. */
  CONSOLE_ADMIN_LOGIN: Type.Optional(Type.String({ pattern: AGENT_LOGIN_PATTERN })),
  /** That admin's password: a secret (never logged), within the password policy; may come from CONSOLE_ADMIN_PASSWORD_FILE. */
  CONSOLE_ADMIN_PASSWORD: Type.Optional(Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH, secret: true }))
})

export type SessionConfig = Static<typeof SessionEnv>

/** Validates the environment; throws COMMON_CONFIG_INVALID naming every bad variable (never its value). */
export function loadSessionConfig (env: NodeJS.ProcessEnv = process.env): SessionConfig {
  const config = loadConfig(SessionEnv, env)
  if (config.SESSION_MAX_TTL_SEC < config.SESSION_IDLE_TTL_SEC) {
    throw new ConfigInvalidError('SESSION_MAX_TTL_SEC must not be smaller than SESSION_IDLE_TTL_SEC')
  }
  if (config.CONSOLE_SESSION_MAX_SEC < config.CONSOLE_SESSION_IDLE_SEC) {
    throw new ConfigInvalidError('CONSOLE_SESSION_MAX_SEC must not be smaller than CONSOLE_SESSION_IDLE_SEC')
  }
  if (config.MONGO_URL !== undefined && config.SESSION_KEY_ENCRYPTION_KEY === undefined) {
    throw new ConfigInvalidError('SESSION_KEY_ENCRYPTION_KEY is required with MONGO_URL (session_keys are stored encrypted): openssl rand -base64 32')
  }
  if (config.SESSION_KEY_ENCRYPTION_KEY_PREVIOUS !== undefined && config.SESSION_KEY_ENCRYPTION_KEY === undefined) {
    throw new ConfigInvalidError('SESSION_KEY_ENCRYPTION_KEY_PREVIOUS needs SESSION_KEY_ENCRYPTION_KEY (the key that replaced it)')
  }
  if ((config.CONSOLE_ADMIN_LOGIN === undefined) !== (config.CONSOLE_ADMIN_PASSWORD === undefined)) {
    throw new ConfigInvalidError('CONSOLE_ADMIN_LOGIN and CONSOLE_ADMIN_PASSWORD go together: set both or neither')
  }
  return config
}
