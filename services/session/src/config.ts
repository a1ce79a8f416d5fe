import Type, { type Static } from 'typebox'
import { CommonEnv, ConfigInvalidError, loadConfig } from '@weapp/common'

export const DEFAULT_PORT = 8081
export const DEFAULT_WECHAT_API_BASE = 'https://api.weixin.qq.com'
export const DEFAULT_MONGO_DB = 'weapp'
export const DEFAULT_SESSION_IDLE_TTL_SEC = 7 * 24 * 3600
export const DEFAULT_SESSION_MAX_TTL_SEC = 30 * 24 * 3600
export const DEFAULT_WECHAT_TIMEOUT_MS = 5000

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
  /** A session unused for this long expires (each use slides it). */
  SESSION_IDLE_TTL_SEC: Type.Integer({ minimum: 60, default: DEFAULT_SESSION_IDLE_TTL_SEC }),
  /** No session lives longer than this after login, however often it is used. */
  SESSION_MAX_TTL_SEC: Type.Integer({ minimum: 60, default: DEFAULT_SESSION_MAX_TTL_SEC }),
  /** stable: POST /cgi-bin/stable_token (shared safely with other consumers); classic: GET /cgi-bin/token. */
  TOKEN_SOURCE: Type.Union([Type.Literal('stable'), Type.Literal('classic')], { default: 'stable' }),
  WECHAT_TIMEOUT_MS: Type.Integer({ minimum: 1, default: DEFAULT_WECHAT_TIMEOUT_MS })
})

export type SessionConfig = Static<typeof SessionEnv>

/** Validates the environment; throws COMMON_CONFIG_INVALID naming every bad variable (never its value). */
export function loadSessionConfig (env: NodeJS.ProcessEnv = process.env): SessionConfig {
  const config = loadConfig(SessionEnv, env)
  if (config.SESSION_MAX_TTL_SEC < config.SESSION_IDLE_TTL_SEC) {
    throw new ConfigInvalidError('SESSION_MAX_TTL_SEC must not be smaller than SESSION_IDLE_TTL_SEC')
  }
  return config
}
