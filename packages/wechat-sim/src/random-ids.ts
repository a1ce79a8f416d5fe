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
