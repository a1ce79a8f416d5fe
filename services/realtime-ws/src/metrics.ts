import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** `console`: the agent console's socket (`/console/ws`). */
export type SocketKind = 'ws' | 'tunnel' | 'console'

/** The service's Prometheus metrics, in a registry of its own (one per app instance, so tests can run several). */
export class WsMetrics {
  readonly registry = new Registry()
  readonly openSockets: Gauge<'kind'>
  readonly connections: Counter<'kind'>
  readonly messagesIn: Counter<'kind'>
  readonly messagesOut: Counter<'kind'>
  /** Sockets cut because their send buffer passed MAX_BUFFERED_BYTES. */
  readonly slowConsumers: Counter
  /** Upgrades refused before the socket opened, by reason (no_credentials, bad_ticket, internal_token, identity, session_ended, not_agent). */
  readonly authRefusals: Counter<'reason'>
  /** Sockets terminated for missing a heartbeat pong (or a tunnel ping). */
  readonly heartbeatTimeouts: Counter<'kind'>
  /** Oldest sockets closed to keep a user under MAX_CONNECTIONS_PER_USER. */
  readonly connectionsReplaced: Counter
  readonly ticketsIssued: Counter<'purpose'>
  /** Sockets closed because their session ended (reason: revoked or expired). */
  readonly sessionsEnded: Counter<'reason'>
  /** Sockets closed for sending more than MAX_FRAMES_PER_SEC (per socket or per user). */
  readonly rateLimited: Counter<'kind'>
  /** Upgrades let in, by how: `gateway` (relayed with an identity), `ticket`, `session` (a client credential resolved here). */
  readonly upgrades: Counter<'via'>
  /** Direct upgrades' session credentials (plugins/session-auth.ts): cache hits and misses, refusals, lookups. */
  readonly authCacheHits: Counter
  readonly authCacheMisses: Counter
  readonly authFailures: Counter<'reason'>
  readonly resolveSeconds: Histogram<'outcome'>

  constructor () {
    const registers = [this.registry]
    this.openSockets = new Gauge({ name: 'ws_open_sockets', help: 'Open WebSocket connections, by kind', labelNames: ['kind'], registers })
    this.connections = new Counter({ name: 'ws_connections_total', help: 'Accepted WebSocket connections, by kind', labelNames: ['kind'], registers })
    this.messagesIn = new Counter({ name: 'ws_messages_in_total', help: 'Frames received from clients, by kind', labelNames: ['kind'], registers })
    this.messagesOut = new Counter({ name: 'ws_messages_out_total', help: 'Frames sent to clients, by kind', labelNames: ['kind'], registers })
    this.slowConsumers = new Counter({ name: 'ws_slow_consumers_total', help: 'Sockets cut for exceeding the send-buffer cap', registers })
    this.authRefusals = new Counter({ name: 'ws_auth_refusals_total', help: 'Upgrades refused before the socket opened, by reason', labelNames: ['reason'], registers })
    this.heartbeatTimeouts = new Counter({ name: 'ws_heartbeat_timeouts_total', help: 'Sockets terminated for a missed pong or tunnel ping', labelNames: ['kind'], registers })
    this.connectionsReplaced = new Counter({ name: 'ws_connections_replaced_total', help: 'Oldest sockets closed by the per-user connection cap', registers })
    this.ticketsIssued = new Counter({ name: 'ws_tickets_issued_total', help: 'Connection tickets issued, by purpose', labelNames: ['purpose'], registers })
    this.sessionsEnded = new Counter({ name: 'ws_session_ended_closes_total', help: 'Sockets closed because their session was revoked or expired', labelNames: ['reason'], registers })
    this.rateLimited = new Counter({ name: 'ws_rate_limited_total', help: 'Sockets closed for exceeding the frame rate limit, by kind', labelNames: ['kind'], registers })
    this.upgrades = new Counter({ name: 'ws_upgrades_total', help: 'Upgrades let in, by how they were authenticated (gateway, ticket, session)', labelNames: ['via'], registers })
    this.authCacheHits = new Counter({ name: 'ws_auth_cache_hits_total', help: 'Direct upgrades whose credential was in the auth cache', registers })
    this.authCacheMisses = new Counter({ name: 'ws_auth_cache_misses_total', help: 'Direct upgrades whose credential the session service resolved', registers })
    this.authFailures = new Counter({ name: 'ws_auth_failures_total', help: 'Direct upgrades whose credential was refused, by reason (malformed, refused, cached_refusal, rate_limited)', labelNames: ['reason'], registers })
    this.resolveSeconds = new Histogram({ name: 'ws_auth_resolve_duration_seconds', help: 'Latency of POST /internal/resolve calls to the session service, by outcome', labelNames: ['outcome'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers })
    this.openSockets.set({ kind: 'ws' }, 0)
    this.openSockets.set({ kind: 'tunnel' }, 0)
    this.openSockets.set({ kind: 'console' }, 0)
  }
}
