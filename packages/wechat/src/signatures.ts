import { createHmac, hash, timingSafeEqual } from 'node:crypto'

// The one-shot hash (Node ≥ 20.12): no Hash object per call; every push computes one or two of these.
const sha1 = (s: string): string => hash('sha1', s, 'hex')

/** Plain code-unit sort, then concatenate: the rule behind both push signatures. */
function sortedSha1 (parts: string[]): string {
  return sha1(parts.sort().join(''))
}

/** `signature` of the push URL (GET verification and every POST): sha1(sort([token, timestamp, nonce])). */
export function urlSignature (token: string, timestamp: string, nonce: string): string {
  return sortedSha1([token, timestamp, nonce])
}

/** `msg_signature` of an encrypted push or reply: sha1(sort([token, timestamp, nonce, encrypt])). */
export function msgSignature (token: string, timestamp: string, nonce: string, encrypt: string): string {
  return sortedSha1([token, timestamp, nonce, encrypt])
}

/** rawData signature of wx.getUserInfo: sha1(rawData + session_key), the key as its base64 text. */
export function rawDataSignature (rawData: string, sessionKey: string): string {
  return sha1(rawData + sessionKey)
}

/**
 * User login-state signature (checksession, signed POSTs): HMAC-SHA256 keyed with the session_key
 * string exactly as WeChat returned it (not base64-decoded), over the POST body or "" for GET.
 */
export function loginStateSignature (sessionKey: string, message = ''): string {
  return createHmac('sha256', sessionKey).update(message, 'utf8').digest('hex')
}

/** Constant-time comparison of two hex signatures; false on any length or alphabet mismatch. */
export function signaturesEqual (expected: string, presented: unknown): boolean {
  if (typeof presented !== 'string' || presented.length !== expected.length) return false
  // Byte lengths, not string lengths: timingSafeEqual throws on buffers of different sizes (a multibyte
  // character, or one whose lower case is longer, would turn a refusal into a 500).
  const a = Buffer.from(expected, 'utf8')
  const b = Buffer.from(presented.toLowerCase(), 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}
