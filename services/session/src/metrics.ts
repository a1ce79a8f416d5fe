import { Counter, Registry } from 'prom-client'
import type { SessionKind } from '@weapp/common'

/** How a login or a resolve ended: done, refused (a 4xx: bad code, missing header, unknown session), or failed (WeChat or storage). */
export type SessionOutcome = 'ok' | 'refused' | 'error'

/** refused for a client's mistake (4xx), error for ours or WeChat's (5xx, or anything without a status). */
export function outcomeOf (err: unknown): Exclude<SessionOutcome, 'ok'> {
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500 ? 'refused' : 'error'
}

/** How a console login ended: ok, failed (unknown login or wrong password), disabled, or error (storage, busy). */
export type ConsoleLoginOutcome = 'ok' | 'failed' | 'disabled' | 'error'

/** The service's Prometheus metrics, in a registry of its own (one per app instance, so tests can run several). */
export class SessionMetrics {
  readonly registry = new Registry()
  /** Logins by generation (bearer: POST /api/login; wafer1, wafer2: the wafer login routes) and outcome. */
  readonly logins: Counter<'generation' | 'outcome'>
  /** `POST /internal/resolve` calls (the gateway resolving a credential) by outcome. */
  readonly resolves: Counter<'outcome'>
  /** `POST /api/console/login` by outcome (a rise of failed is someone guessing passwords). */
  readonly consoleLogins: Counter<'outcome'>

  constructor () {
    const registers = [this.registry]
    this.logins = new Counter({ name: 'session_logins_total', help: 'Logins, by generation (bearer, wafer1, wafer2) and outcome (ok, refused, error)', labelNames: ['generation', 'outcome'], registers })
    this.resolves = new Counter({ name: 'session_resolves_total', help: 'Credentials resolved for the gateway, by outcome (ok, refused, error)', labelNames: ['outcome'], registers })
    this.consoleLogins = new Counter({ name: 'session_console_logins_total', help: 'Agent console logins, by outcome (ok, failed, disabled, error)', labelNames: ['outcome'], registers })
  }

  login (generation: SessionKind, outcome: SessionOutcome): void {
    this.logins.inc({ generation, outcome })
  }
}
