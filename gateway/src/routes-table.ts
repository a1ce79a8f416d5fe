/**
 * What the gateway exposes: every public path, the upstream it goes to and how callers authenticate.
 * Adding an upstream is one entry here (its URL variable becomes part of the config schema, its
 * routes are registered, its /healthz joins /readyz). Paths are forwarded unchanged. Nothing under
 * `/internal/` is ever listed: services' internal routes are unreachable from outside (404).
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS'

export const ALL_METHODS: readonly HttpMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

/**
 * How a route authenticates its callers (credentials are resolved once, here, through the session
 * service; the upstream receives `x-weapp-identity`).
 * - `none`: credentials are not looked at; no identity is forwarded.
 * - `user`: a user session is required: `Authorization: Bearer <token>` (wafer headers are accepted
 *   too). Missing → 401 GATEWAY_AUTH_REQUIRED, bad or expired → 401 GATEWAY_SESSION_INVALID.
 * - `wafer1`: wafer generation 1, optional: `X-WX-Id` + `X-WX-Skey` as headers or as query parameters
 *   (names case-insensitive). Bad or expired → HTTP 200 `{"<M>":1,"error":"ERR_INVALID_SESSION",...}`;
 *   no credentials → forwarded unauthenticated (the route decides).
 * - `wafer2`: wafer generation 2, required: `X-WX-Skey`. Missing, bad or expired → HTTP 200
 *   `{"code":-1,"data":{}}`, which makes the wafer2 client log in again and retry.
 * - `admin`: an admin API key, `Authorization: Bearer <key>`, checked by the gateway itself against
 *   ADMIN_API_KEYS (never the session service; a user's token is not an admin key) before the body
 *   is read. Forwards `{ kind: 'admin', keyId }`; the key itself is not forwarded. No keys configured
 *   → 503 GATEWAY_ADMIN_DISABLED; nothing presented → 401 GATEWAY_AUTH_REQUIRED; a wrong key → 401
 *   GATEWAY_ADMIN_KEY_INVALID.
 * - `anyUser`: any user session, whichever generation of client: what `user` takes, plus wafer
 *   generation 1's `X-WX-Id` + `X-WX-Skey` as query parameters (names case-insensitive). Refused in
 *   the shape the presented credential's client understands (wafer1 → the magic ERR_INVALID_SESSION
 *   body, a lone skey → `{"code":-1,"data":{}}`, bearer or nothing → 401 like `user`).
 * - `userOrAdmin`: an admin key (checked as `admin`, when keys are configured) or else a user session
 *   as `user` (same refusals). `Authorization` is not forwarded.
 * - `agent`: the agent console (docs/console.md#sessions): the console cookie and nothing else
 *   (`weapp_console`, `__Host-weapp_console` with CONSOLE_COOKIE_SECURE), checked on arrival before the
 *   body is read (auth/agent-check.ts), resolved by the session service's agent route and cached like a
 *   session. Forwards `{ kind: 'agent', ... }`; neither `Cookie` nor `Authorization` is forwarded, and no
 *   other credential counts (a bearer token or an admin key does nothing here, a cookie nothing elsewhere).
 *   No cookie → 401 GATEWAY_AUTH_REQUIRED; unknown or expired → 401 GATEWAY_CONSOLE_SESSION_INVALID;
 *   a state-changing request (not GET/HEAD/OPTIONS) without an allowed `Origin` and the session's
 *   `x-csrf-token` → 403 GATEWAY_CSRF_REJECTED (auth/csrf.ts), nothing forwarded.
 */
export type AuthPolicy = 'none' | 'user' | 'wafer1' | 'wafer2' | 'admin' | 'anyUser' | 'userOrAdmin' | 'agent'

/**
 * A route's body limit by name, resolved from the config: `push` is PUSH_BODY_LIMIT (WeChat's
 * pushes), `upload` is ADMIN_UPLOAD_LIMIT plus the multipart overhead, `session` is the session
 * service's own limit (SESSION_BODY_LIMIT, 16 KiB) or BODY_LIMIT when that is lower.
 */
export type NamedBodyLimit = 'push' | 'upload' | 'session'

export interface RouteSpec {
  /** Public path in find-my-way syntax (`/api/me`, `/api/me/*`). */
  readonly path: string
  /** Default: every method in ALL_METHODS; the upstream answers what it does not serve. */
  readonly methods?: readonly HttpMethod[]
  readonly auth: AuthPolicy
  /** Counted against the per-IP login budget (LOGIN_RATE_LIMIT_MAX per LOGIN_RATE_LIMIT_WINDOW_MS). */
  readonly rateLimit?: 'login'
  /**
   * A state-changing request needs an allowed `Origin` (the gateway's own or CONSOLE_ORIGINS), checked on
   * arrival: the console login (login CSRF). `agent` routes check it anyway, with their CSRF token.
   */
  readonly originCheck?: boolean
  /** When the upstream answers 2xx, drop the caller's credential from the auth cache at once (logout). */
  readonly evictCredentialOnSuccess?: boolean
  /**
   * GET/HEAD requests of this route may be pipelined on a kept-alive upstream connection behind
   * other requests (UPSTREAM_PIPELINING): far fewer socket reads and wake-ups per request under
   * load. Only for routes that always answer quickly: a slow answer holds up those queued behind it.
   * Other requests are never queued behind anything on their connection.
   */
  readonly pipeline?: boolean
  /**
   * Every request of this route may safely be sent twice (WeChat's pushes: cs-messaging de-duplicates
   * them by MsgId, and WeChat itself re-sends them). Then, with `pipeline`, requests of every method
   * are pipelined, not only GET/HEAD, and one that failed on a kept-alive connection before any answer
   * came is retried once on a fresh connection, as GETs are.
   */
  readonly idempotent?: boolean
  /** Largest request body for this route (bytes, or a limit named after its setting); default BODY_LIMIT. */
  readonly bodyLimit?: number | NamedBodyLimit
}

/**
 * A WebSocket endpoint: upgrade requests (`GET` with `Upgrade: websocket`) on this exact path are
 * relayed to the upstream as raw bytes once authenticated (src/proxy/upgrade.ts); a plain GET of the
 * path is forwarded like any request (the upstream answers 426).
 * - `session`: authenticated like `anyUser` (bearer, wafer headers or wafer1 query parameters), the
 *   identity forwarded; without any session credential, a `?ticket=` query parameter is passed
 *   through untouched for the upstream to check. Neither → 401 before the socket opens.
 * - `ticket`: passed through without a session (the ticket in the query is the credential, which
 *   the upstream checks; clients send no headers).
 * - `agent`: the console cookie, as the `agent` route policy; the upgrade also needs an allowed
 *   `Origin` (cross-site WebSocket hijacking): else 403 before the socket opens.
 */
export interface WebSocketSpec {
  readonly path: string
  readonly auth: 'session' | 'ticket' | 'agent'
}

export interface UpstreamSpec {
  /** Environment variable holding the upstream's base URL (`http://host:port`). */
  readonly urlEnv: string
  readonly defaultUrl: string
  readonly routes: readonly RouteSpec[]
  readonly websockets?: readonly WebSocketSpec[]
}

export const UPSTREAMS = {
  session: {
    urlEnv: 'SESSION_URL',
    defaultUrl: 'http://127.0.0.1:8081',
    routes: [
      { path: '/api/login', methods: ['POST'], auth: 'none', rateLimit: 'login', bodyLimit: 'session' },
      { path: '/api/logout', methods: ['POST'], auth: 'user', evictCredentialOnSuccess: true, bodyLimit: 'session' },
      { path: '/api/me', auth: 'user', pipeline: true, bodyLimit: 'session' },
      { path: '/api/me/*', auth: 'user', pipeline: true, bodyLimit: 'session' },
      // wafer generation 1 (the seed's client code). Its login is a GET (method configurable in the
      // client) that calls WeChat: never pipelined.
      { path: '/login', auth: 'wafer1', rateLimit: 'login', bodyLimit: 'session' },
      { path: '/me', auth: 'wafer1', pipeline: true, bodyLimit: 'session' },
      // wafer generation 2 (wafer2 quickstart)
      { path: '/weapp/login', auth: 'none', rateLimit: 'login', bodyLimit: 'session' },
      { path: '/weapp/user', auth: 'wafer2', pipeline: true, bodyLimit: 'session' },
      // The agent console's accounts and sessions (docs/console.md). Its login sets the console cookie.
      { path: '/api/console/login', methods: ['POST'], auth: 'none', rateLimit: 'login', originCheck: true, bodyLimit: 'session' },
      { path: '/api/console/logout', methods: ['POST'], auth: 'agent', evictCredentialOnSuccess: true, bodyLimit: 'session' },
      { path: '/api/console/me', auth: 'agent', bodyLimit: 'session' },
      { path: '/api/console/agents', auth: 'agent', bodyLimit: 'session' },
      { path: '/api/console/agents/*', auth: 'agent', bodyLimit: 'session' },
      { path: '/api/console/users/*', auth: 'agent', bodyLimit: 'session' }
    ]
  },
  'cs-messaging': {
    urlEnv: 'CS_MESSAGING_URL',
    defaultUrl: 'http://127.0.0.1:8082',
    routes: [
      // WeChat's message push (and the seed's path for it): authenticated by WeChat's signatures in
      // the query, which cs-messaging checks; the raw body and the query go through untouched.
      // Pushes are answered within PUSH_ACK_TIMEOUT_MS (3 s) and de-duplicated: pipelined.
      { path: '/wechat/callback', methods: ['GET', 'POST'], auth: 'none', bodyLimit: 'push', pipeline: true, idempotent: true },
      { path: '/weapp/message', methods: ['GET', 'POST'], auth: 'none', bodyLimit: 'push', pipeline: true, idempotent: true },
      // The admin API. Media uploads are multipart images, larger than any other body.
      { path: '/api/cs/media', methods: ['POST'], auth: 'admin', bodyLimit: 'upload' },
      { path: '/api/cs/*', auth: 'admin' },
      // The agent console's inbox (everything under /api/console/ the session service does not serve).
      { path: '/api/console/media', methods: ['POST'], auth: 'agent', bodyLimit: 'upload' },
      { path: '/api/console/*', auth: 'agent' }
    ]
  },
  realtime: {
    urlEnv: 'REALTIME_WS_URL',
    defaultUrl: 'http://127.0.0.1:8083',
    routes: [
      { path: '/api/ws/tickets', methods: ['POST'], auth: 'userOrAdmin' },
      // The wafer tunnel's URL (gen 1 and gen 2 clients); the answer carries wss://<host>/weapp/tunnel/socket.
      { path: '/weapp/tunnel', methods: ['GET'], auth: 'anyUser' }
    ],
    websockets: [
      { path: '/ws', auth: 'session' },
      { path: '/weapp/tunnel/socket', auth: 'ticket' },
      // The console's live updates (docs/console.md, "Live updates").
      { path: '/console/ws', auth: 'agent' }
    ]
  }
} as const satisfies Record<string, UpstreamSpec>

export type UpstreamName = keyof typeof UPSTREAMS
export type UpstreamUrlEnv = (typeof UPSTREAMS)[UpstreamName]['urlEnv']

/** The upstream that resolves credentials (`POST /internal/resolve`). */
export const SESSION_UPSTREAM: UpstreamName = 'session'

export const UPSTREAM_NAMES = Object.keys(UPSTREAMS) as UpstreamName[]
