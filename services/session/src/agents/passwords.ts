import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../config.js'
import { PasswordBusyError, PasswordWeakError } from '../errors.js'

// Console passwords (docs/console.md#sessions): scrypt at OWASP's parameters, stored as
// `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<key b64url>`. Verification reads the parameters from the stored
// hash, so a hash made at another cost still verifies (and the cost can be raised later).

export interface ScryptCost {
  /** N = 2^log2N. */
  log2N: number
  r: number
  p: number
}

/** OWASP's scrypt parameters: N = 2^17, r = 8, p = 1 (128 MiB and a few hundred ms per hash). */
export const OWASP_SCRYPT: ScryptCost = { log2N: 17, r: 8, p: 1 }
export const SALT_BYTES = 16
export const KEY_BYTES = 32
/** A stored hash asking for more than this (1 GiB of memory) is refused rather than computed. */
const MAX_LOG2N = 20
const MAX_R = 32
const MAX_P = 16

export interface PasswordHasherOptions {
  /** Tests lower it so suites stay fast; production never sets it (there is no environment variable for it). */
  cost?: ScryptCost
  /** Hashes computed at once (each holds 128 × N × r bytes); the others wait. */
  concurrency?: number
  /** Hashes allowed to wait; past it a request is refused with 503 SESSION_PASSWORD_BUSY. */
  maxWaiting?: number
}

/** Why a new password is refused (a phrase), or undefined. Lengths in characters (code points), as the schemas count. */
export function passwordProblem (password: string): string | undefined {
  const length = Array.from(password).length
  if (length < PASSWORD_MIN_LENGTH) return `it must have at least ${PASSWORD_MIN_LENGTH} characters`
  if (length > PASSWORD_MAX_LENGTH) return `it must have at most ${PASSWORD_MAX_LENGTH} characters`
  return undefined
}

/** Throws 400 SESSION_PASSWORD_WEAK when the password is outside the policy. */
export function checkPasswordPolicy (password: string): void {
  const problem = passwordProblem(password)
  if (problem !== undefined) throw new PasswordWeakError(problem)
}

function encode (cost: ScryptCost, salt: Buffer, key: Buffer): string {
  return `scrypt$${cost.log2N}$${cost.r}$${cost.p}$${salt.toString('base64url')}$${key.toString('base64url')}`
}

interface Decoded { cost: ScryptCost, salt: Buffer, key: Buffer }

const INTEGER = /^[1-9][0-9]{0,2}$/

function decode (encoded: string): Decoded | null {
  const parts = encoded.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string]
  if (!INTEGER.test(n) || !INTEGER.test(r) || !INTEGER.test(p)) return null
  const cost = { log2N: Number(n), r: Number(r), p: Number(p) }
  if (cost.log2N > MAX_LOG2N || cost.r > MAX_R || cost.p > MAX_P) return null
  const decoded = { cost, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') }
  if (decoded.salt.length === 0 || decoded.key.length === 0) return null
  return decoded
}

/** crypto.scrypt runs on libuv's thread pool: the event loop keeps serving while a hash is computed. */
async function derive (password: string, salt: Buffer, cost: ScryptCost, keyLength: number): Promise<Buffer> {
  const N = 2 ** cost.log2N
  // Node refuses when 128 × N × r exceeds maxmem (32 MiB by default; OWASP's parameters need 128 MiB).
  const maxmem = 128 * N * cost.r + 128 * cost.r * cost.p + 1024 * 1024
  return await new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, { N, r: cost.r, p: cost.p, maxmem }, (err, key) => {
      if (err !== null) reject(err)
      else resolve(key)
    })
  })
}

/** Hashes and verifies console passwords, a bounded number at a time. */
export class PasswordHasher {
  readonly cost: ScryptCost
  readonly #concurrency: number
  readonly #maxWaiting: number
  readonly #waiting: Array<() => void> = []
  #running = 0
  /** What an unknown login is checked against: the same work as a real check, never a match. */
  readonly #dummy: string

  constructor ({ cost = OWASP_SCRYPT, concurrency = 2, maxWaiting = 64 }: PasswordHasherOptions = {}) {
    this.cost = { ...cost }
    this.#concurrency = concurrency
    this.#maxWaiting = maxWaiting
    this.#dummy = encode(this.cost, randomBytes(SALT_BYTES), randomBytes(KEY_BYTES))
  }

  /** A new hash with a fresh salt (the password's policy is the caller's: checkPasswordPolicy). */
  async hash (password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES)
    const key = await this.#limited(async () => await derive(password, salt, this.cost, KEY_BYTES))
    return encode(this.cost, salt, key)
  }

  /** Does the password match the stored hash? A malformed hash never matches. Compared in constant time. */
  async verify (password: string, encoded: string): Promise<boolean> {
    const decoded = decode(encoded)
    if (decoded === null) return false
    const key = await this.#limited(async () => await derive(password, decoded.salt, decoded.cost, decoded.key.length))
    return timingSafeEqual(key, decoded.key)
  }

  /** For a login that does not exist: the work of a real check, so the answer's timing does not tell. */
  async verifyNothing (password: string): Promise<false> {
    await this.verify(password, this.#dummy)
    return false
  }

  async #limited<T> (work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#maxWaiting) throw new PasswordBusyError()
      await new Promise<void>((resolve) => { this.#waiting.push(resolve) })
    } else {
      this.#running++
    }
    try {
      return await work()
    } finally {
      // Hand the slot straight to the next waiter (the count stays), or free it.
      const next = this.#waiting.shift()
      if (next !== undefined) next()
      else this.#running--
    }
  }
}
