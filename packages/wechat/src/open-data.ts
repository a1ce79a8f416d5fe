import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { OpenDataInvalidError, WatermarkMismatchError } from './errors.js'

export interface OpenDataInput {
  sessionKey: string
  encryptedData: string
  iv: string
  /** Our AppID: the payload's watermark must name it. */
  appId: string
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

function decode16 (value: string, what: string): Buffer {
  const buf = BASE64.test(value) ? Buffer.from(value, 'base64') : Buffer.alloc(0)
  if (buf.length !== 16) throw new OpenDataInvalidError(`${what} must be base64 of 16 bytes`)
  return buf
}

/**
 * Decrypts wx open data (userInfo, legacy phone number): AES-128-CBC, key = base64(session_key),
 * standard PKCS#7. Returns the parsed JSON once its watermark names our AppID.
 */
export function decryptOpenData<T = Record<string, unknown>> ({ sessionKey, encryptedData, iv, appId }: OpenDataInput): T {
  const key = decode16(sessionKey, 'session_key')
  const ivBuf = decode16(iv, 'iv')
  if (!BASE64.test(encryptedData)) throw new OpenDataInvalidError('encryptedData is not base64')
  const data = Buffer.from(encryptedData, 'base64')
  if (data.length === 0 || data.length % 16 !== 0) throw new OpenDataInvalidError('encryptedData length is not a multiple of 16')
  let plain: Buffer
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, ivBuf)
    plain = Buffer.concat([decipher.update(data), decipher.final()])
  } catch {
    // Bad padding almost always means the session_key has rotated since the client encrypted.
    throw new OpenDataInvalidError('bad padding (stale session_key?)')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(plain.toString('utf8'))
  } catch {
    throw new OpenDataInvalidError('plaintext is not JSON')
  }
  if (typeof parsed !== 'object' || parsed === null) throw new OpenDataInvalidError('plaintext is not an object')
  const watermark = (parsed as { watermark?: { appid?: unknown } }).watermark
  if (watermark?.appid !== appId) throw new WatermarkMismatchError()
  return parsed as T
}

/** The inverse, as the WeChat client does it: used by the simulator and by tests. */
export function encryptOpenData (sessionKey: string, payload: unknown, iv: Buffer = randomBytes(16)): { encryptedData: string, iv: string } {
  const key = decode16(sessionKey, 'session_key')
  const cipher = createCipheriv('aes-128-cbc', key, iv)
  const data = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()])
  return { encryptedData: data.toString('base64'), iv: iv.toString('base64') }
}
