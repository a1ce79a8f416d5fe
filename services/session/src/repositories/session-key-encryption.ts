import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { PhoneInfo, User } from '@weapp/common'
import type { ProfilePatch, UpsertOnLoginInput, UsersRepository } from './types.js'

// session_key at rest: AES-256-GCM under SESSION_KEY_ENCRYPTION_KEY, in one place both stores sit behind
// (EncryptedSessionKeys wraps either), so whoever reads the database or a backup without the key learns nothing.

/** A stored value: `enc1:<key id>:<base64url of iv ‖ ciphertext ‖ tag>`. Anything else is a plaintext value from before. */
const PREFIX = 'enc1:'
const IV_BYTES = 12
const TAG_BYTES = 16
export const ENCRYPTION_KEY_BYTES = 32

/** Names a key without revealing it: which key a value was written with, so a rotated-out one still reads it. */
export function keyId (key: Buffer): string {
  return createHash('sha256').update('weapp session_key encryption key id\0').update(key).digest('hex').slice(0, 8)
}

/** The 32 bytes of a base64 SESSION_KEY_ENCRYPTION_KEY; throws (never naming the value) when it is not 32 bytes. */
export function decodeEncryptionKey (name: string, value: string): Buffer {
  const key = Buffer.from(value, 'base64')
  if (key.length !== ENCRYPTION_KEY_BYTES || key.toString('base64') !== value) throw new Error(`${name} must be ${ENCRYPTION_KEY_BYTES} bytes in base64 (openssl rand -base64 32)`)
  return key
}

export class SessionKeyCipher {
  readonly #current: { id: string, key: Buffer }
  readonly #byId: Map<string, Buffer>

  /** `current` encrypts and decrypts; `previous` (SESSION_KEY_ENCRYPTION_KEY_PREVIOUS) only decrypts. */
  constructor (current: Buffer, previous?: Buffer) {
    for (const key of [current, previous]) {
      if (key !== undefined && key.length !== ENCRYPTION_KEY_BYTES) throw new RangeError(`an encryption key is ${ENCRYPTION_KEY_BYTES} bytes`)
    }
    this.#current = { id: keyId(current), key: current }
    this.#byId = new Map([[this.#current.id, current]])
    if (previous !== undefined) this.#byId.set(keyId(previous), previous)
  }

  /** The openid is authenticated with the value: a value copied onto another user does not decrypt. */
  encrypt (plaintext: string, openid: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv)
    cipher.setAAD(Buffer.from(openid, 'utf8'))
    const body = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `${PREFIX}${this.#current.id}:${body.toString('base64url')}`
  }

  /**
   * The session_key of a stored value: a plaintext value from before encryption is returned as it is;
   * null when the value was written with a key this process does not have, or does not authenticate.
   */
  decrypt (stored: string, openid: string): string | null {
    if (!isEncrypted(stored)) return stored
    const [id, encoded] = stored.slice(PREFIX.length).split(':', 2)
    const key = this.#byId.get(id ?? '')
    if (key === undefined || encoded === undefined) return null
    const body = Buffer.from(encoded, 'base64url')
    if (body.length < IV_BYTES + TAG_BYTES) return null
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, body.subarray(0, IV_BYTES))
      decipher.setAAD(Buffer.from(openid, 'utf8'))
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES))
      return Buffer.concat([decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)), decipher.final()]).toString('utf8')
    } catch {
      return null
    }
  }
}

export const isEncrypted = (stored: string): boolean => stored.startsWith(PREFIX)

/**
 * A users store whose session_keys are encrypted before they reach it and decrypted when read. Each login
 * writes the new session_key encrypted, so a plaintext value from before is replaced at the user's next login.
 */
export class EncryptedSessionKeys implements UsersRepository {
  readonly #inner: UsersRepository
  readonly #cipher: SessionKeyCipher

  constructor (inner: UsersRepository, cipher: SessionKeyCipher) {
    this.#inner = inner
    this.#cipher = cipher
  }

  async upsertOnLogin (input: UpsertOnLoginInput): Promise<User> {
    return await this.#inner.upsertOnLogin({ ...input, sessionKey: this.#cipher.encrypt(input.sessionKey, input.openid) })
  }

  async getSessionKey (openid: string): Promise<string | null> {
    const stored = await this.#inner.getSessionKey(openid)
    return stored === null ? null : this.#cipher.decrypt(stored, openid)
  }

  async findByOpenid (openid: string): Promise<User | null> { return await this.#inner.findByOpenid(openid) }
  async updateProfile (openid: string, patch: ProfilePatch): Promise<User | null> { return await this.#inner.updateProfile(openid, patch) }
  async setPhone (openid: string, phone: PhoneInfo): Promise<User | null> { return await this.#inner.setPhone(openid, phone) }
}
