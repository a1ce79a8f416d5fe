import type { InboundMessage } from '@weapp/common'
import { unsafeRegexReason } from './safe-regex.js'

/**
 * One keyword rule, as written in AUTO_REPLY_RULES (a JSON array; the first matching rule wins):
 *   { "match": "contains", "keyword": "price", "ignoreCase": true, "reply": "See https://…" }
 *   { "match": "exact", "keyword": "人工", "transfer": true }
 * `reply` is sent asynchronously by the worker (customer-service text message); `transfer` makes the
 * passive reply `transfer_customer_service` (hand-over to the web customer-service tool).
 */
export interface AutoReplyRule {
  match: 'exact' | 'contains' | 'prefix' | 'regex'
  keyword: string
  ignoreCase: boolean
  reply?: string
  transfer: boolean
}

export interface CompiledRule extends AutoReplyRule {
  readonly test: (text: string) => boolean
}

export const MAX_RULES = 200
/**
 * Rules look at the first 4096 characters of a text only (WeChat texts may hold 64 KiB): regexes run
 * synchronously, and whatever backtracking a pattern that passed the boot check still does is bounded by it.
 */
export const MAX_MATCHED_CHARS = 4096
export const MAX_KEYWORD_LENGTH = 256
/** WeChat's customer-service text limit is about 2048 bytes; we check characters, a safe first bound. */
export const MAX_REPLY_LENGTH = 2048
const MATCHES = new Set(['exact', 'contains', 'prefix', 'regex'])
const RULE_KEYS = new Set(['match', 'keyword', 'ignoreCase', 'reply', 'transfer'])

/** Parses and checks AUTO_REPLY_RULES; throws an Error naming the first bad rule (never echoing the JSON). */
export function parseRules (json: string | undefined): AutoReplyRule[] {
  if (json === undefined || json.trim() === '') return []
  let raw: unknown
  try { raw = JSON.parse(json) } catch { throw new Error('AUTO_REPLY_RULES is not valid JSON') }
  if (!Array.isArray(raw)) throw new Error('AUTO_REPLY_RULES must be a JSON array')
  if (raw.length > MAX_RULES) throw new Error(`AUTO_REPLY_RULES has more than ${MAX_RULES} rules`)
  return raw.map((item: unknown, i) => {
    const where = `AUTO_REPLY_RULES[${i}]`
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new Error(`${where} must be an object`)
    const r = item as Record<string, unknown>
    for (const key of Object.keys(r)) if (!RULE_KEYS.has(key)) throw new Error(`${where} has an unknown property ${key}`)
    const match = r.match ?? 'contains'
    if (typeof match !== 'string' || !MATCHES.has(match)) throw new Error(`${where}.match must be exact, contains, prefix or regex`)
    if (typeof r.keyword !== 'string' || r.keyword.length === 0 || r.keyword.length > MAX_KEYWORD_LENGTH) {
      throw new Error(`${where}.keyword must be a string of 1-${MAX_KEYWORD_LENGTH} characters`)
    }
    if (r.ignoreCase !== undefined && typeof r.ignoreCase !== 'boolean') throw new Error(`${where}.ignoreCase must be a boolean`)
    if (r.transfer !== undefined && typeof r.transfer !== 'boolean') throw new Error(`${where}.transfer must be a boolean`)
    if (r.reply !== undefined && (typeof r.reply !== 'string' || r.reply.length === 0 || r.reply.length > MAX_REPLY_LENGTH)) {
      throw new Error(`${where}.reply must be a string of 1-${MAX_REPLY_LENGTH} characters`)
    }
    if ((r.reply === undefined) === (r.transfer !== true)) throw new Error(`${where} needs exactly one of a reply or "transfer": true`)
    const rule: AutoReplyRule = { match: match as AutoReplyRule['match'], keyword: r.keyword, ignoreCase: r.ignoreCase === true, transfer: r.transfer === true }
    if (typeof r.reply === 'string') rule.reply = r.reply
    if (rule.match === 'regex') {
      try { RegExp(rule.keyword, rule.ignoreCase ? 'iu' : 'u') } catch { throw new Error(`${where}.keyword is not a valid regular expression`) }
      const unsafe = unsafeRegexReason(rule.keyword)
      if (unsafe !== undefined) throw new Error(`${where}.keyword is refused: ${unsafe} may backtrack catastrophically; rewrite the pattern without it`)
    }
    return rule
  })
}

/** The part of a text the rules look at. */
export function matchedPart (text: string): string {
  return text.length > MAX_MATCHED_CHARS ? text.slice(0, MAX_MATCHED_CHARS) : text
}

function compile (rule: AutoReplyRule): CompiledRule {
  if (rule.match === 'regex') {
    const re = new RegExp(rule.keyword, rule.ignoreCase ? 'iu' : 'u')
    return { ...rule, test: (text) => re.test(matchedPart(text)) }
  }
  const fold = (s: string): string => rule.ignoreCase ? s.toLocaleLowerCase() : s
  const keyword = fold(rule.keyword)
  // exact compares the whole text (linear, and a long text is never equal to a keyword of ≤ 256 characters).
  const test = rule.match === 'exact'
    ? (text: string) => fold(text.trim()) === keyword
    : rule.match === 'prefix'
      ? (text: string) => fold(matchedPart(text).trimStart()).startsWith(keyword)
      : (text: string) => fold(matchedPart(text)).includes(keyword)
  return { ...rule, test }
}

/** What the rules decide for one inbound message. */
export interface AutoReplyDecision {
  /** Text to send through the OutboundSender (welcome text or a keyword rule's reply). */
  reply?: { text: string, reason: 'welcome' | 'keyword' }
  /** Answer the push with transfer_customer_service (never for events). */
  transfer: boolean
}

export interface AutoReplyOptions {
  rules: AutoReplyRule[]
  /** Sent when a user enters the customer-service session (user_enter_tempsession). */
  welcomeText?: string | undefined
  /** Hand every real user message over to the web customer-service tool. */
  transferAll: boolean
}

/** A user's own message (not an event): the only kind that may be transferred or open the 48 h window. */
export function isUserMessage (message: InboundMessage): boolean {
  return message.MsgType !== 'event' && typeof message.FromUserName === 'string' && message.FromUserName !== ''
}

export function isSessionEntry (message: InboundMessage): boolean {
  return message.MsgType === 'event' && (message as { Event?: unknown }).Event === 'user_enter_tempsession'
}

/** Evaluates the welcome text and keyword rules; pure, so ingress (transfer) and worker (reply) agree. */
export class AutoReplyRules {
  readonly #rules: CompiledRule[]
  readonly #welcome: string | undefined
  readonly #transferAll: boolean

  constructor ({ rules, welcomeText, transferAll }: AutoReplyOptions) {
    this.#rules = rules.map(compile)
    this.#welcome = welcomeText === '' ? undefined : welcomeText
    this.#transferAll = transferAll
  }

  decide (message: InboundMessage): AutoReplyDecision {
    if (isSessionEntry(message)) {
      return this.#welcome === undefined ? { transfer: false } : { reply: { text: this.#welcome, reason: 'welcome' }, transfer: false }
    }
    if (!isUserMessage(message)) return { transfer: false }
    const decision: AutoReplyDecision = { transfer: this.#transferAll }
    const content = (message as { Content?: unknown }).Content
    if (message.MsgType !== 'text' || typeof content !== 'string') return decision
    const rule = this.#rules.find((r) => r.test(content))
    if (rule === undefined) return decision
    if (rule.transfer) decision.transfer = true
    if (rule.reply !== undefined) decision.reply = { text: rule.reply, reason: 'keyword' }
    return decision
  }
}
