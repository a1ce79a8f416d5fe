import Type, { type Static } from 'typebox'
import { CommonEnv, loadConfig, trustProxyList } from '@weapp/common'

export const DEFAULT_PORT = 8083
export const DEFAULT_SESSION_URL = 'http://127.0.0.1:8081'
export const DEFAULT_SESSION_TIMEOUT_MS = 2000
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024
export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024
export const DEFAULT_MAX_CONNECTIONS_PER_USER = 5
export const DEFAULT_MAX_CHANNELS_PER_SOCKET = 32
export const DEFAULT_TICKET_TTL_SEC = 60
export const DEFAULT_TUNNEL_TIMEOUT_SEC = 15
// Far above what a client of this service sends (a chat, a tunnel's 15 s ping) and above the closed-loop
// echo benchmark (`pnpm bench:ws`: about 450 frames/s per socket on 2 cores), still a bound on a flood.
export const DEFAULT_MAX_FRAMES_PER_SEC = 2000
export const DEFAULT_MAX_FRAMES_PER_SEC_PER_USER = 5000
export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2000
// The direct upgrades' session lookups: the gateway's defaults (one client, one budget, whichever process it meets).
export const DEFAULT_AUTH_CACHE_TTL_MS = 5_000
export const DEFAULT_AUTH_CACHE_MAX = 100_000
export const DEFAULT_AUTH_REFUSAL_CACHE_TTL_MS = 30_000
export const DEFAULT_AUTH_REFUSAL_CACHE_MAX = 50_000
export const DEFAULT_AUTH_FAILURE_LIMIT_MAX = 10
export const DEFAULT_AUTH_FAILURE_LIMIT_WINDOW_MS = 60_000

/** Everything the realtime service reads from its environment, validated at boot. */
export const RealtimeEnv = Type.Object({
  ...CommonEnv,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORT }),
  /** The session service (internal network): direct upgrades' credentials are resolved by its POST /internal/resolve, the greeting's nickname comes from its GET /api/me. */
  SESSION_URL: Type.String({ pattern: '^https?://', default: DEFAULT_SESSION_URL }),
  /** How long a session lookup may take (a direct upgrade's credential: then 503; the nickname: then the greeting uses the openid). */
  SESSION_TIMEOUT_MS: Type.Integer({ minimum: 1, default: DEFAULT_SESSION_TIMEOUT_MS }),
  /**
   * Public origin of the WebSocket endpoint (wss://example.com) used in tunnel URLs. Absent: the request's
   * host only when it is a loopback one (development); any other host is refused, never echoed back.
   */
  PUBLIC_WS_ORIGIN: Type.Optional(Type.String({ pattern: '^wss?://[^/?#\\s]+$' })),
  /** The server pings every socket this often; a socket that did not answer the previous ping is terminated. */
  HEARTBEAT_INTERVAL_MS: Type.Integer({ minimum: 50, default: DEFAULT_HEARTBEAT_INTERVAL_MS }),
  /** Largest frame a client may send; larger ones close the socket with 1009. */
  MAX_MESSAGE_BYTES: Type.Integer({ minimum: 128, maximum: 1024 * 1024, default: DEFAULT_MAX_MESSAGE_BYTES }),
  /** A socket whose unsent data exceeds this is a slow consumer: closed with 1013, terminated a second later. */
  MAX_BUFFERED_BYTES: Type.Integer({ minimum: 1024, default: DEFAULT_MAX_BUFFERED_BYTES }),
  /** Open sockets per user (or admin key) on one instance; a new one closes the oldest with 1008. */
  MAX_CONNECTIONS_PER_USER: Type.Integer({ minimum: 1, default: DEFAULT_MAX_CONNECTIONS_PER_USER }),
  MAX_CHANNELS_PER_SOCKET: Type.Integer({ minimum: 1, default: DEFAULT_MAX_CHANNELS_PER_SOCKET }),
  /** Lifetime of a connection ticket (single use). */
  TICKET_TTL_SEC: Type.Integer({ minimum: 1, maximum: 3600, default: DEFAULT_TICKET_TTL_SEC }),
  /** Sent to wafer tunnel clients as `timeout:<n>`: their ping interval; no ping for 1.5 × this closes the tunnel. */
  TUNNEL_TIMEOUT_SEC: Type.Integer({ minimum: 1, maximum: 300, default: DEFAULT_TUNNEL_TIMEOUT_SEC }),
  /** Frames a socket may send per second (bursts of as many); more closes it with 4029 and nothing past the limit is handled. */
  MAX_FRAMES_PER_SEC: Type.Integer({ minimum: 1, maximum: 100_000, default: DEFAULT_MAX_FRAMES_PER_SEC }),
  /** The same across all sockets of one user (or admin key) on this instance. */
  MAX_FRAMES_PER_SEC_PER_USER: Type.Integer({ minimum: 1, maximum: 100_000, default: DEFAULT_MAX_FRAMES_PER_SEC_PER_USER }),
  /** A Redis command (tickets, revocations) not answered within this fails instead of holding the request. */
  REDIS_COMMAND_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 60_000, default: DEFAULT_REDIS_COMMAND_TIMEOUT_MS }),
  /** A `/ws` upgrade's own session credential, resolved by the session service, is reused this long (0: never), never past the session. */
  AUTH_CACHE_TTL_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: DEFAULT_AUTH_CACHE_TTL_MS }),
  AUTH_CACHE_MAX: Type.Integer({ minimum: 1, maximum: 10_000_000, default: DEFAULT_AUTH_CACHE_MAX }),
  /** How long a credential the session service refused is refused without asking again (0: not remembered), and how many. */
  AUTH_REFUSAL_CACHE_TTL_MS: Type.Integer({ minimum: 0, maximum: 600_000, default: DEFAULT_AUTH_REFUSAL_CACHE_TTL_MS }),
  AUTH_REFUSAL_CACHE_MAX: Type.Integer({ minimum: 1, maximum: 10_000_000, default: DEFAULT_AUTH_REFUSAL_CACHE_MAX }),
  /** Lookups the session service refused per client address per window (shared with the gateway's through Redis); then 429. */
  AUTH_FAILURE_LIMIT_MAX: Type.Integer({ minimum: 1, maximum: 100_000, default: DEFAULT_AUTH_FAILURE_LIMIT_MAX }),
  AUTH_FAILURE_LIMIT_WINDOW_MS: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: DEFAULT_AUTH_FAILURE_LIMIT_WINDOW_MS }),
  /**
   * Comma-separated addresses or CIDRs of the proxies in front (nginx) whose X-Forwarded-For names the client
   * of a direct upgrade (the failure limit is per client address). Unset: the peer address is the client.
   */
  TRUST_PROXY: Type.Optional(Type.String({ minLength: 1 }))
})

export type RealtimeConfig = Static<typeof RealtimeEnv>

/** Validates the environment; throws COMMON_CONFIG_INVALID naming every bad variable (never its value). */
export function loadRealtimeConfig (env: NodeJS.ProcessEnv = process.env): RealtimeConfig {
  const config = loadConfig(RealtimeEnv, env)
  trustProxyList(config.TRUST_PROXY)
  return config
}
