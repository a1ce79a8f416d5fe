import { BodyMalformedError, JsonNumberUnsafeError } from '../errors.js'

/** Deeper than this is junk: WeChat's pushes nest two or three levels. */
export const MAX_JSON_DEPTH = 16
/** No number WeChat sends is longer than a 64-bit integer (20 characters with a sign). */
export const MAX_NUMBER_LENGTH = 24

/** 64-bit message ids: always kept as strings, whatever their size (docs/wechat/push.md#message-ids). */
const ID_KEY = /^msg_?id$/i
/** Other id-like keys: an integer beyond 2^53 under them is kept as a string instead of refused. */
const ID_SUFFIX = /id$/i
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const RESERVED = new Set(['__proto__', 'constructor', 'prototype'])

interface Frame { array: boolean, key: string | undefined }

/**
 * Parses a push body as JSON without losing 64-bit ids: a small scanner walks the text (strings skipped
 * whole), quotes the number tokens that must stay exact, and refuses the ones that cannot (huge numbers,
 * unsafe integers outside id fields, deep nesting, reserved keys). JSON.parse then checks the syntax.
 */
export function parsePushJson (text: string): Record<string, unknown> {
  const stack: Frame[] = []
  let out = ''
  let copied = 0
  let expectKey = false
  let key: string | undefined
  let i = 0
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === 0x22) { // "
      const end = stringEnd(text, i)
      if (expectKey && stack.at(-1)?.array === false) {
        const name = JSON.parse(text.slice(i, end)) as string
        if (RESERVED.has(name)) throw new BodyMalformedError(`reserved property name ${name}`)
        key = name
        expectKey = false
      }
      i = end
      continue
    }
    if (c === 0x7b || c === 0x5b) { // { [
      if (stack.length >= MAX_JSON_DEPTH) throw new BodyMalformedError(`nested deeper than ${MAX_JSON_DEPTH} levels`)
      const parent = stack.at(-1)
      stack.push({ array: c === 0x5b, key: parent?.array === true ? parent.key : key })
      expectKey = c === 0x7b
    } else if (c === 0x7d || c === 0x5d) { // } ]
      stack.pop()
    } else if (c === 0x2c) { // ,
      expectKey = stack.at(-1)?.array === false
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) { // - 0-9
      NUMBER.lastIndex = i
      const m = NUMBER.exec(text)
      if (m === null) throw new BodyMalformedError('invalid number')
      const token = m[0]
      if (token.length > MAX_NUMBER_LENGTH) throw new JsonNumberUnsafeError(`${token.length}-character number`)
      const frame = stack.at(-1)
      const owner = frame?.array === true ? frame.key : key
      if (mustQuote(token, owner)) {
        out += text.slice(copied, i) + '"' + token + '"'
        copied = i + token.length
      }
      i += token.length
      continue
    }
    i++
  }
  out += text.slice(copied)
  let value: unknown
  try {
    value = JSON.parse(out)
  } catch {
    throw new BodyMalformedError('invalid JSON')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BodyMalformedError('JSON body is not an object')
  return value as Record<string, unknown>
}

function mustQuote (token: string, key: string | undefined): boolean {
  const integer = /^-?\d+$/.test(token)
  if (key !== undefined && ID_KEY.test(key)) {
    if (!integer) throw new JsonNumberUnsafeError(`${key} is not an integer`)
    return true
  }
  const n = Number(token)
  if (!Number.isFinite(n)) throw new JsonNumberUnsafeError('number out of range')
  if (integer && !Number.isSafeInteger(n)) {
    if (key !== undefined && ID_SUFFIX.test(key)) return true
    throw new JsonNumberUnsafeError(`integer beyond 2^53 in ${key ?? 'an array'}`)
  }
  return false
}

/** Index just past the closing quote of the string starting at `start` (or the text's end if unterminated). */
function stringEnd (text: string, start: number): number {
  let i = start + 1
  while (i < text.length) {
    const c = text.charCodeAt(i)
    if (c === 0x5c) { i += 2; continue } // backslash escapes the next character
    if (c === 0x22) return i + 1
    i++
  }
  return text.length
}
