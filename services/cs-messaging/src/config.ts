import Type, { type Static } from 'typebox'
import { CommonEnv, ConfigInvalidError, DEFAULT_MONGO_OP_TIMEOUT_MS, loadConfig, redisTopologyFromEnv, topologyHasReplicas } from '@weapp/common'
import { parseRules, type AutoReplyRule } from './auto-reply/rules.js'

export const DEFAULT_PORT = 8082
export const DEFAULT_MONGO_DB = 'weapp'
export const DEFAULT_WECHAT_API_BASE = 'https://api.weixin.qq.com'
export const DEFAULT_WECHAT_TIMEOUT_MS = 5000
/** docs/wechat/push.md#timestamp-window: reject pushes whose URL timestamp is further than this from our clock (replays, skew). */
export const DEFAULT_PUSH_TIMESTAMP_WINDOW_SEC = 300
export const DEFAULT_PUSH_BODY_LIMIT = 64 * 1024
/** WeChat gives up after 5 s: the recording step must have answered well before that. */
export const DEFAULT_PUSH_ACK_TIMEOUT_MS = 3000
/** PUSH_DURABILITY=replicated: how long a push waits for a replica's confirmation (well inside PUSH_ACK_TIMEOUT_MS). */
export const DEFAULT_PUSH_REPLICA_WAIT_MS = 1000
/** WeChat's retries land within ~20 s (docs/wechat/push.md#retries-and-de-duplication); a day covers late duplicates with a wide margin. */
export const DEFAULT_DEDUP_TTL_SEC = 24 * 3600
/** The message log (both directions) keeps half a year of conversations, then MongoDB's TTL index deletes them. */
export const DEFAULT_MESSAGE_RETENTION_DAYS = 180
/** Dead letters wait this long for an operator's replay, and at most this many are kept (the oldest go first). */
export const DEFAULT_DEAD_LETTER_RETENTION_DAYS = 30
export const DEFAULT_DEAD_LETTER_MAX = 10_000
export const DEFAULT_WORKER_CONCURRENCY = 4
export const DEFAULT_WORKER_MAX_ATTEMPTS = 5
export const DEFAULT_WORKER_RETRY_BASE_MS = 1000
export const DEFAULT_WORKER_RETRY_MAX_MS = 5 * 60_000
/** A delivery unacknowledged this long belongs to a dead worker and is claimed by a live one. */
export const DEFAULT_WORKER_CLAIM_IDLE_MS = 60_000
/** docs/wechat/limits.md#image-size: WeChat documents no limit for mini-program images; 2 MiB is the Official-Account figure. */
export const DEFAULT_MEDIA_UPLOAD_MAX_BYTES = 2 * 1024 * 1024
/** Largest file GET /api/cs/media/:mediaId fetches from WeChat (users' pictures included). */
export const DEFAULT_MEDIA_DOWNLOAD_MAX_BYTES = 10 * 1024 * 1024

/** Everything the cs-messaging service reads from its environment, validated at boot. */
export const CsEnv = Type.Object({
  ...CommonEnv,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: DEFAULT_PORT }),
  /** The mini-program's AppID: every ciphertext must end with it. */
  APP_ID: Type.String({ pattern: '^wx[0-9a-f]{16}$' }),
  /** The push Token configured in the console (消息推送配置): a secret, may come from WECHAT_TOKEN_FILE. */
  WECHAT_TOKEN: Type.String({ pattern: '^[A-Za-z0-9]{3,32}$', secret: true }),
  /** The 43-character EncodingAESKey. Absent: plaintext mode only (encrypt_type=aes pushes are refused). */
  WECHAT_ENCODING_AES_KEY: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9+/]{43}$', secret: true })),
  /**
   * Whether plaintext pushes are accepted. Unset: refused when an EncodingAESKey is configured (a leaked
   * Token alone cannot forge a push), accepted when none is (plaintext is then the only mode).
   */
  PUSH_ALLOW_PLAINTEXT: Type.Optional(Type.Boolean()),
  PUSH_TIMESTAMP_WINDOW_SEC: Type.Integer({ minimum: 1, maximum: 86400, default: DEFAULT_PUSH_TIMESTAMP_WINDOW_SEC }),
  /** Largest accepted push body (bytes); larger ones get 413. */
  PUSH_BODY_LIMIT: Type.Integer({ minimum: 1024, maximum: 1024 * 1024, default: DEFAULT_PUSH_BODY_LIMIT }),
  /** How long recording a push may take before it is answered 503 (WeChat retries); below WeChat's 5 s. */
  PUSH_ACK_TIMEOUT_MS: Type.Integer({ minimum: 50, maximum: 4500, default: DEFAULT_PUSH_ACK_TIMEOUT_MS }),
  /**
   * `replicated`: a push is answered success only once its record is on a Redis replica (survives a
   * failover); `local`: once the primary has it. Unset: `replicated` with a Sentinel or Cluster topology.
   */
  PUSH_DURABILITY: Type.Optional(Type.Union([Type.Literal('local'), Type.Literal('replicated')])),
  /** `replicated`: the longest wait for a replica's confirmation (WAIT) before the push is answered 503. */
  PUSH_REPLICA_WAIT_MS: Type.Integer({ minimum: 10, maximum: 4000, default: DEFAULT_PUSH_REPLICA_WAIT_MS }),
  /** How long a delivered MsgId (or event key) is remembered as a duplicate. */
  DEDUP_TTL_SEC: Type.Integer({ minimum: 60, maximum: 30 * 86400, default: DEFAULT_DEDUP_TTL_SEC }),
  /** Messages (inbound and sent) older than this, by their createdAt, are deleted from the log. */
  MESSAGE_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 3650, default: DEFAULT_MESSAGE_RETENTION_DAYS }),
  /** Dead letters older than this are deleted (replay them before). */
  DEAD_LETTER_RETENTION_DAYS: Type.Integer({ minimum: 1, maximum: 365, default: DEFAULT_DEAD_LETTER_RETENTION_DAYS }),
  /** At most this many dead letters are kept: a new one pushes out the oldest. */
  DEAD_LETTER_MAX: Type.Integer({ minimum: 10, maximum: 1_000_000, default: DEFAULT_DEAD_LETTER_MAX }),
  /** Absent: the message log lives in process memory (embedded mode). */
  MONGO_URL: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://', secret: 'url' })),
  MONGO_DB: Type.String({ minLength: 1, pattern: '^[^/\\\\. "$]+$', default: DEFAULT_MONGO_DB }),
  /** A MongoDB read not finished in this time is stopped (maxTimeMS) and the request answered 503 COMMON_STORE_UNAVAILABLE. */
  MONGO_OP_TIMEOUT_MS: Type.Integer({ minimum: 500, maximum: 60_000, default: DEFAULT_MONGO_OP_TIMEOUT_MS }),
  /** false: this instance only receives (answers pushes, serves the API); other instances process. */
  WORKER_ENABLED: Type.Boolean({ default: true }),
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 256, default: DEFAULT_WORKER_CONCURRENCY }),
  /** Processing attempts before a message is parked in the dead-letter stream. */
  WORKER_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_WORKER_MAX_ATTEMPTS }),
  /** First retry delay; doubles per attempt (with jitter) up to WORKER_RETRY_MAX_MS. */
  WORKER_RETRY_BASE_MS: Type.Integer({ minimum: 1, default: DEFAULT_WORKER_RETRY_BASE_MS }),
  WORKER_RETRY_MAX_MS: Type.Integer({ minimum: 1, default: DEFAULT_WORKER_RETRY_MAX_MS }),
  /** Deliveries left unacknowledged this long (a worker that died) are taken over by another worker. */
  WORKER_CLAIM_IDLE_MS: Type.Integer({ minimum: 50, default: DEFAULT_WORKER_CLAIM_IDLE_MS }),
  /** Sent when a user enters the customer-service session (within its 2-messages/1-minute window). */
  WELCOME_TEXT: Type.Optional(Type.String({ minLength: 1, maxLength: 2048 })),
  /** Keyword rules, a JSON array (see auto-reply/rules.ts and .env.example). */
  AUTO_REPLY_RULES: Type.Optional(Type.String({ maxLength: 256 * 1024 })),
  /** Hand every user message over to the web customer-service tool (passive transfer_customer_service reply). */
  TRANSFER_TO_CS: Type.Boolean({ default: false }),
  /** Needed to send (auto-replies, the admin send/typing/media API): absent, auto-replies are skipped and the API answers 501. */
  APP_SECRET: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$', secret: true })),
  WECHAT_API_BASE: Type.String({ pattern: '^https?://', default: DEFAULT_WECHAT_API_BASE }),
  WECHAT_TIMEOUT_MS: Type.Integer({ minimum: 1, default: DEFAULT_WECHAT_TIMEOUT_MS }),
  TOKEN_SOURCE: Type.Union([Type.Literal('stable'), Type.Literal('classic')], { default: 'stable' }),
  /** Largest image POST /api/cs/media accepts (413 beyond). */
  MEDIA_UPLOAD_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 10 * 1024 * 1024, default: DEFAULT_MEDIA_UPLOAD_MAX_BYTES }),
  /** Largest file GET /api/cs/media/:mediaId relays from WeChat (502 WECHAT_RESPONSE_INVALID beyond). */
  MEDIA_DOWNLOAD_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 100 * 1024 * 1024, default: DEFAULT_MEDIA_DOWNLOAD_MAX_BYTES })
})

export type CsEnvConfig = Static<typeof CsEnv>

/** The validated configuration, with the keyword rules parsed and the plaintext default resolved. */
export type CsConfig = Omit<CsEnvConfig, 'PUSH_ALLOW_PLAINTEXT' | 'PUSH_DURABILITY'> & { PUSH_ALLOW_PLAINTEXT: boolean, PUSH_DURABILITY: 'local' | 'replicated', autoReplyRules: AutoReplyRule[] }

/** Validates the environment; throws COMMON_CONFIG_INVALID naming every bad variable (never its value). */
export function loadCsConfig (env: NodeJS.ProcessEnv = process.env): CsConfig {
  const config = loadConfig(CsEnv, env)
  const allowPlaintext = config.PUSH_ALLOW_PLAINTEXT ?? config.WECHAT_ENCODING_AES_KEY === undefined
  if (!allowPlaintext && config.WECHAT_ENCODING_AES_KEY === undefined) {
    throw new ConfigInvalidError('PUSH_ALLOW_PLAINTEXT=false needs WECHAT_ENCODING_AES_KEY (encrypted pushes)')
  }
  if (config.WORKER_RETRY_MAX_MS < config.WORKER_RETRY_BASE_MS) {
    throw new ConfigInvalidError('WORKER_RETRY_MAX_MS must not be smaller than WORKER_RETRY_BASE_MS')
  }
  const durability = pushDurability(config)
  let autoReplyRules: AutoReplyRule[]
  try {
    autoReplyRules = parseRules(config.AUTO_REPLY_RULES)
  } catch (err) {
    throw new ConfigInvalidError((err as Error).message)
  }
  return { ...config, PUSH_ALLOW_PLAINTEXT: allowPlaintext, PUSH_DURABILITY: durability, autoReplyRules }
}

/** PUSH_DURABILITY resolved: `replicated` by default with Sentinel (always replicas); a Cluster asks for it; the memory queue is `local`. */
function pushDurability (config: CsEnvConfig): 'local' | 'replicated' {
  const topology = redisTopologyFromEnv(config)
  if (config.PUSH_DURABILITY === 'replicated' && topology === undefined) {
    throw new ConfigInvalidError('PUSH_DURABILITY=replicated needs Redis with a replica (REDIS_SENTINELS, REDIS_CLUSTER_NODES or REDIS_URL)')
  }
  const durability = config.PUSH_DURABILITY ?? (topology !== undefined && topologyHasReplicas(topology) ? 'replicated' : 'local')
  if (durability === 'replicated' && config.PUSH_REPLICA_WAIT_MS >= config.PUSH_ACK_TIMEOUT_MS) {
    throw new ConfigInvalidError('PUSH_REPLICA_WAIT_MS must be smaller than PUSH_ACK_TIMEOUT_MS (the push would time out before a replica answered)')
  }
  return durability
}
