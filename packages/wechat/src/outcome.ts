/**
 * What a failed WeChat call did at WeChat: set as `outcome` on every error a WechatClient call throws,
 * so callers decide (repeat it? tell the user it was sent?) without reading undici or socket codes.
 *
 * - 'not-sent': no byte of the request left this process (refused before sending, connection refused,
 *   DNS failure, connect timeout, aborted while waiting for a connection). WeChat did nothing.
 * - 'answered': WeChat answered with an errcode (-1 included): it refused the call and did nothing. A
 *   customer-service message was not delivered.
 * - 'unknown': the request was, or may have been, written and no answer we can use came back (timeout or
 *   reset after writing, an HTTP error or non-JSON answer, an answer missing what it must carry). WeChat
 *   may have acted: a message may have been delivered, a single-use code consumed.
 */
export type WechatCallOutcome = 'not-sent' | 'answered' | 'unknown'

/** Set on every error a WechatClient call throws. */
export interface WechatCallOutcomeField {
  outcome: WechatCallOutcome
}

const OUTCOMES: ReadonlySet<unknown> = new Set<WechatCallOutcome>(['not-sent', 'answered', 'unknown'])

/** The outcome a WechatClient error carries; undefined for any other error (token store, our own code). */
export function outcomeOf (err: unknown): WechatCallOutcome | undefined {
  const outcome = (err as Partial<WechatCallOutcomeField> | null)?.outcome
  return OUTCOMES.has(outcome) ? outcome : undefined
}

/** Marks `err` with its outcome (kept when already marked: the innermost classification knows best). */
export function withOutcome<E> (err: E, outcome: WechatCallOutcome): E & WechatCallOutcomeField {
  if (typeof err === 'object' && err !== null && outcomeOf(err) === undefined) {
    Object.defineProperty(err, 'outcome', { value: outcome, enumerable: true, configurable: true, writable: true })
  }
  return err as E & WechatCallOutcomeField
}
