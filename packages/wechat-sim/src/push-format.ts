// The two wire formats of the message push (docs/wechat/push.md#formats): WeChat's XML (text in CDATA, numbers
// bare) and JSON where MsgId is an unquoted 64-bit integer, beyond what a JS number holds exactly.

export type PushFormat = 'xml' | 'json'

/** A pushed message: ToUserName, FromUserName, CreateTime, MsgType and the type's own fields. */
export type PushMessage = Record<string, unknown>

const UINT64_MAX = (1n << 64n) - 1n
// No leading zeros: those would not survive as a JSON integer.
const DIGITS = /^(?:0|[1-9][0-9]{0,19})$/
const TAG = /^[A-Za-z_][A-Za-z0-9_]*$/

/** True for a MsgId WeChat writes as a bare integer: up to 20 digits, within uint64, no leading zero. */
export function isNumericMsgId (value: unknown): value is string {
  return typeof value === 'string' && DIGITS.test(value) && BigInt(value) <= UINT64_MAX
}

/** Throws a RangeError for a MsgId that cannot be written exactly (a JS number beyond 2^53). */
export function checkMsgId (value: unknown): void {
  if (value === undefined || typeof value === 'string') return
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return
  throw new RangeError('MsgId must be a string (digits, or any text as cloud functions send) or a safe non-negative integer')
}

export function serializeMessage (message: PushMessage, format: PushFormat): string {
  checkMsgId(message.MsgId)
  return format === 'xml' ? toXml(message) : toJson(message)
}

function toJson (message: PushMessage): string {
  const parts: string[] = []
  for (const [name, value] of Object.entries(message)) {
    if (value === undefined) continue
    // The one deviation from JSON.stringify: a numeric MsgId goes out as the integer it is.
    const text = name === 'MsgId' && isNumericMsgId(value) ? value : JSON.stringify(value)
    parts.push(`${JSON.stringify(name)}:${text}`)
  }
  return `{${parts.join(',')}}`
}

function toXml (message: PushMessage): string {
  return `<xml>${xmlFields(message)}</xml>`
}

function xmlFields (fields: Record<string, unknown>): string {
  let out = ''
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue
    if (!TAG.test(name)) throw new RangeError(`${name} cannot be an XML element name`)
    for (const item of Array.isArray(value) ? value : [value]) out += `<${name}>${xmlValue(name, item)}</${name}>`
  }
  return out
}

function xmlValue (name: string, value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (name === 'MsgId' && isNumericMsgId(value)) return value
  if (name === 'CreateTime' && typeof value === 'string' && /^[0-9]+$/.test(value)) return value
  if (typeof value === 'object' && value !== null) return xmlFields(value as Record<string, unknown>)
  return cdata(String(value))
}

/** A CDATA section; "]]>" inside the text is split across two sections, the standard escape. */
export function cdata (text: string): string {
  return `<![CDATA[${text.split(']]>').join(']]]]><![CDATA[>')}]]>`
}

const ELEMENT = /<([A-Za-z_][A-Za-z0-9_]*)>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1>/g

/**
 * The fields of a flat `<xml>…</xml>` document (replies, envelopes): text or one CDATA section per
 * element. Anything else (nesting, stray text, another root) gives undefined.
 */
export function parseFlatXml (text: string): Record<string, string> | undefined {
  const root = /^\s*<xml>([\s\S]*)<\/xml>\s*$/.exec(text)
  if (root === null) return undefined
  const inner = root[1]!
  const fields: Record<string, string> = {}
  let consumed = 0
  for (const m of inner.matchAll(ELEMENT)) {
    if (inner.slice(consumed, m.index).trim() !== '') return undefined
    fields[m[1]!] = m[2] ?? m[3] ?? ''
    consumed = m.index + m[0].length
  }
  if (inner.slice(consumed).trim() !== '') return undefined
  return fields
}

/** A reply body in the configured format as a flat object of fields, or undefined when it is not one. */
export function parseReplyBody (text: string, format: PushFormat): Record<string, unknown> | undefined {
  if (format === 'xml') return parseFlatXml(text)
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}
