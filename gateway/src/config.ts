import { CommonEnv, loadConfig, trustProxyList } from '@weapp/common'
import Type, { type Static, type TString } from 'typebox'
import { parseAdminKeys } from './auth/admin-keys.js'
import { parseConsoleOrigins } from './auth/csrf.js'
import { UPSTREAMS, type UpstreamUrlEnv } from './routes-table.js'

export const DEFAULT_PORT = 8080
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 10_000
export const DEFAULT_AUTH_CACHE_TTL_MS = 5_000
export const DEFAULT_AUTH_CACHE_MAX = 100_000
export const DEFAULT_LOGIN_RATE_LIMIT_MAX = 30
export const DEFAULT_LOGIN_RATE_LIMIT_WINDOW_MS = 60_000
/** Failed credential lookups per client address per window: a real client fails about once per expiry. */
export const DEFAULT_AUTH_FAILURE_LIMIT_MAX = 10
export const DEFAULT_AUTH_FAILURE_LIMIT_WINDOW_MS = 60_000
export const DEFAULT_AUTH_REFUSAL_CACHE_TTL_MS = 30_000
export const DEFAULT_AUTH_REFUSAL_CACHE_MAX = 50_000
/** From the relay's connect to the upstream's first answer byte (its 101 or its refusal). */
export const DEFAULT_WS_UPGRADE_TIMEOUT_MS = 10_000
/** A relayed WebSocket with no byte either way this long is closed: realtime-ws pings every 30 s. */
export const DEFAULT_WS_IDLE_TIMEOUT_MS = 120_000
export const DEFAULT_BODY_LIMIT = 64 * 1024
export const DEFAULT_UPSTREAM_CONNECTIONS = 64
export const DEFAULT_UPSTREAM_PIPELINING = 8
/** WeChat's pushes: cs-messaging's own PUSH_BODY_LIMIT default (keep the two equal). */
export const DEFAULT_PUSH_BODY_LIMIT = 64 * 1024
/** The largest image `POST /api/cs/media` takes: cs-messaging's MEDIA_UPLOAD_MAX_BYTES default. */
export const DEFAULT_ADMIN_UPLOAD_LIMIT = 2 * 1024 * 1024
/**
 * What a multipart upload may add to its file: boundaries, part headers and the few text fields
 * cs-messaging reads and ignores (at most 8 of 1 KiB). The upload route's body limit is
 * ADMIN_UPLOAD_LIMIT plus this; cs-messaging checks the file's own size exactly.
 */
export const MULTIPART_OVERHEAD = 64 * 1024

const GatewayOwnEnv = {
  ...CommonEnv,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORT }),
  /** Headers and body timeout for every upstream request (also the /internal/resolve call). */
  UPSTREAM_TIMEOUT_MS: Type.Integer({ minimum: 100, default: DEFAULT_UPSTREAM_TIMEOUT_MS }),
  /** Most keep-alive connections per upstream (one undici Pool each; opened only when needed). */
  UPSTREAM_CONNECTIONS: Type.Integer({ minimum: 1, maximum: 1024, default: DEFAULT_UPSTREAM_CONNECTIONS }),
  /** Requests of `pipeline` routes in flight per upstream connection; 1 turns pipelining off. */
  UPSTREAM_PIPELINING: Type.Integer({ minimum: 1, maximum: 64, default: DEFAULT_UPSTREAM_PIPELINING }),
  /** How long a resolved credential is trusted without asking the session service; 0 disables the cache. */
  AUTH_CACHE_TTL_MS: Type.Integer({ minimum: 0, default: DEFAULT_AUTH_CACHE_TTL_MS }),
  AUTH_CACHE_MAX: Type.Integer({ minimum: 1, default: DEFAULT_AUTH_CACHE_MAX }),
  LOGIN_RATE_LIMIT_MAX: Type.Integer({ minimum: 1, default: DEFAULT_LOGIN_RATE_LIMIT_MAX }),
  LOGIN_RATE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1000, default: DEFAULT_LOGIN_RATE_LIMIT_WINDOW_MS }),
  /**
   * Credentials the session service refused, per client address per window; above it, credentials that
   * would need a lookup are answered 429 GATEWAY_AUTH_RATE_LIMITED (Redis-backed when REDIS_URL is set).
   */
  AUTH_FAILURE_LIMIT_MAX: Type.Integer({ minimum: 1, default: DEFAULT_AUTH_FAILURE_LIMIT_MAX }),
  AUTH_FAILURE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1000, default: DEFAULT_AUTH_FAILURE_LIMIT_WINDOW_MS }),
  /** How long a refused credential is refused without asking again; 0 disables. */
  AUTH_REFUSAL_CACHE_TTL_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: DEFAULT_AUTH_REFUSAL_CACHE_TTL_MS }),
  AUTH_REFUSAL_CACHE_MAX: Type.Integer({ minimum: 1, default: DEFAULT_AUTH_REFUSAL_CACHE_MAX }),
  /** A relayed WebSocket upgrade the upstream has not answered by then gets 504 and is closed. */
  WS_UPGRADE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: DEFAULT_WS_UPGRADE_TIMEOUT_MS }),
  /** A relayed WebSocket with no traffic either way (frames, pings included) this long is closed. */
  WS_IDLE_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: DEFAULT_WS_IDLE_TIMEOUT_MS }),
  /**
   * Comma-separated addresses or CIDRs of the proxies in front of the gateway (e.g. nginx) whose
   * X-Forwarded-For/-Proto/-Host are believed. Unset: nothing is trusted; the peer address is the client.
   */
  TRUST_PROXY: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * `GET /metrics` (and the detail of `/readyz`) needs `Authorization: Bearer <METRICS_TOKEN>`. Unset:
   * /metrics is closed (403 GATEWAY_METRICS_CLOSED) unless METRICS_PUBLIC is true.
   */
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, secret: true })),
  /** Development only: /metrics and the /readyz detail open to anyone when no METRICS_TOKEN is set. */
  METRICS_PUBLIC: Type.Boolean({ default: false }),
  BODY_LIMIT: Type.Integer({ minimum: 1024, default: DEFAULT_BODY_LIMIT }),
  /** Largest body of a WeChat push (`/wechat/callback`, `/weapp/message`); 413 above. */
  PUSH_BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 1024 * 1024, default: DEFAULT_PUSH_BODY_LIMIT }),
  /**
   * Admin API keys: comma-separated `id:key` pairs, each key 32+ characters (auth/admin-keys.ts).
   * `Authorization: Bearer <key>` on `/api/cs/*` is forwarded as `{ kind: 'admin', keyId: id }`.
   * Unset: the admin routes answer 503 GATEWAY_ADMIN_DISABLED. May come from ADMIN_API_KEYS_FILE.
   */
  ADMIN_API_KEYS: Type.Optional(Type.String({ minLength: 1, secret: 'id-key-list' })),
  /** Largest file `POST /api/cs/media` takes (the route's body limit is this plus MULTIPART_OVERHEAD). */
  ADMIN_UPLOAD_LIMIT: Type.Integer({ minimum: 1024, maximum: 100 * 1024 * 1024, default: DEFAULT_ADMIN_UPLOAD_LIMIT }),
  /**
   * The console is served over HTTPS (behind nginx): its cookie is `__Host-weapp_console` (Secure), and the
   * gateway's own origin for the CSRF Origin check is https://<Host>. Must match the session service's.
   */
  CONSOLE_COOKIE_SECURE: Type.Boolean({ default: false }),
  /** More origins allowed to make state-changing console requests (comma-separated `scheme://host[:port]`). */
  CONSOLE_ORIGINS: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 })),
  /** The console's build (index.html, assets/) served at /console/; default packages/console/dist of this repository. */
  CONSOLE_DIR: Type.Optional(Type.String({ minLength: 1, maxLength: 4096 }))
}

type UpstreamUrlProperties = { [K in UpstreamUrlEnv]: TString }

const upstreamUrlEnv = Object.fromEntries(
  Object.values(UPSTREAMS).map((u) => [u.urlEnv, Type.String({ pattern: '^https?://[^/]+/?$', default: u.defaultUrl })])
) as UpstreamUrlProperties

export const GatewayEnv = Type.Object({ ...GatewayOwnEnv, ...upstreamUrlEnv })

export type GatewayConfig = Static<typeof GatewayEnv>

// TRUST_PROXY is read by the same function as realtime-ws's (@weapp/common trust-proxy.ts).
export { trustProxyList }

/** Validates the environment (throws COMMON_CONFIG_INVALID naming every problem). */
export function loadGatewayConfig (env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const config = loadConfig(GatewayEnv, env)
  trustProxyList(config.TRUST_PROXY)
  parseAdminKeys(config.ADMIN_API_KEYS, config.INTERNAL_TOKEN)
  parseConsoleOrigins(config.CONSOLE_ORIGINS)
  return config
}
