import { CursorInvalidError } from '../errors.js'
import type { ConversationCursor, MessageCursor } from './types.js'

// Page cursors are opaque to clients: base64url of a JSON pair [time in ms, tie-breaker string]. They
// carry no secret; a forged one only moves the page start.

function encode (ms: number, tie: string): string {
  return Buffer.from(JSON.stringify([ms, tie]), 'utf8').toString('base64url')
}

function decode (cursor: string): [Date, string] {
  let value: unknown
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw new CursorInvalidError('not a cursor this API handed out')
  }
  if (!Array.isArray(value) || value.length !== 2 || !Number.isSafeInteger(value[0]) || typeof value[1] !== 'string' || value[1] === '') {
    throw new CursorInvalidError('not a cursor this API handed out')
  }
  const at = new Date(value[0] as number)
  if (Number.isNaN(at.getTime())) throw new CursorInvalidError('time out of range')
  return [at, value[1]]
}

export function encodeMessageCursor ({ createdAt, key }: MessageCursor): string {
  return encode(createdAt.getTime(), key)
}

export function decodeMessageCursor (cursor: string): MessageCursor {
  const [createdAt, key] = decode(cursor)
  return { createdAt, key }
}

export function encodeConversationCursor ({ lastAt, openid }: ConversationCursor): string {
  return encode(lastAt.getTime(), openid)
}

export function decodeConversationCursor (cursor: string): ConversationCursor {
  const [lastAt, openid] = decode(cursor)
  return { lastAt, openid }
}
