import { randomBytes } from 'node:crypto'

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'

/** Letters and digits only, like wx.login codes. The tiny modulo bias does not matter for a simulator. */
export function alnum (length: number): string {
  const bytes = randomBytes(length)
  let out = ''
  for (const b of bytes) out += ALNUM[b % ALNUM.length]
  return out
}

/** The `rid: …` WeChat appends to every errmsg. */
export function rid (): string {
  const hex = randomBytes(12).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 16)}-${hex.slice(16, 24)}`
}

/** ~136 characters of [0-9A-Za-z_-] behind a short numeric prefix, the shape of real access_tokens. */
export function accessTokenString (): string {
  return '86_' + randomBytes(100).toString('base64url').slice(0, 133)
}

/** A MsgId like WeChat's: a 64-bit integer beyond 2^53 (19 digits), as a decimal string. */
export function msgId (): string {
  const value = randomBytes(8).readBigUInt64BE(0)
  // Keep it in [2^62, 2^63): always 19 digits, always past what a JS number holds exactly.
  return String((value >> 2n) | (1n << 62n))
}
