import type { MessageRecord } from './types.js'

// A message's payload (the push as parsed, or the message sent) as both stores keep it: JSON text.
// MongoDB cannot hold every key a push may carry (a NUL is refused by BSON, `$x` and `a.b` are refused or
// misread by some operators), and it would give back 64-bit integers as doubles; JSON text keeps the
// payload byte for byte. Integers beyond 2^53 reach the store as decimal strings: the push's JSON parser
// (push/json.ts) quotes them under id keys and refuses them elsewhere, so no precision is lost on the way.

export type Payload = MessageRecord['message']

export function encodePayload (message: Payload): string {
  return JSON.stringify(message)
}

export function decodePayload (text: string): Payload {
  return JSON.parse(text) as Payload
}
