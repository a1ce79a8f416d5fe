import { hash, timingSafeEqual } from 'node:crypto'
import { ConfigInvalidError, encodeIdentity } from '@weapp/common'

/** Shortest admin key accepted (a key is a random secret, not a password). */
export const MIN_ADMIN_KEY_LENGTH = 32
/** Longest admin key accepted; anything longer presented by a client is refused without hashing. */
export const MAX_ADMIN_KEY_LENGTH = 512

/** Key ids are labels that end up in logs and in the message log (`sentBy`): short and tame. */
const KEY_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/
/** What a bearer token may contain (RFC 6750 b64token): no spaces, commas or quotes. */
const KEY_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/

/** One configured admin key: its id and the sha256 of the key (the key itself is not kept). */
export interface AdminKey {
  readonly id: string
  readonly digest: Buffer
  /** `x-weapp-identity` for `{ kind: 'admin', keyId: id }`, encoded once. */
  readonly identityHeader: string
}

function digestOf (key: string): Buffer {
  return hash('sha256', key, 'buffer')
}

/**
 * Parses ADMIN_API_KEYS: comma-separated `id:key` pairs (spaces around entries ignored). Each id
 * `[A-Za-z0-9_.-]{1,64}`, each key at least MIN_ADMIN_KEY_LENGTH characters of a bearer token's
 * alphabet; ids and keys unique; no key equal to INTERNAL_TOKEN. Throws COMMON_CONFIG_INVALID
 * naming the entry (by position and id), never a key.
 */
export function parseAdminKeys (value: string | undefined, internalToken?: string): AdminKey[] {
  if (value === undefined) return []
  const problems: string[] = []
  const keys: AdminKey[] = []
  const ids = new Set<string>()
  const digests = new Set<string>()
  const entries = value.split(',').map((s) => s.trim())
  entries.forEach((entry, i) => {
    const where = `ADMIN_API_KEYS entry ${i + 1}`
    if (entry === '') {
      problems.push(`${where} is empty`)
      return
    }
    const colon = entry.indexOf(':')
    if (colon === -1) {
      problems.push(`${where} must be id:key`)
      return
    }
    const id = entry.slice(0, colon)
    const key = entry.slice(colon + 1)
    if (!KEY_ID_PATTERN.test(id)) {
      problems.push(`${where}: the id must be 1-64 letters, digits, '_', '.' or '-'`)
      return
    }
    const named = `${where} (${id})`
    if (key.length < MIN_ADMIN_KEY_LENGTH || key.length > MAX_ADMIN_KEY_LENGTH) {
      problems.push(`${named}: the key must be ${MIN_ADMIN_KEY_LENGTH} to ${MAX_ADMIN_KEY_LENGTH} characters`)
      return
    }
    if (!KEY_PATTERN.test(key)) {
      problems.push(`${named}: the key may contain only letters, digits and - . _ ~ + / (then = padding)`)
      return
    }
    if (internalToken !== undefined && key === internalToken) {
      problems.push(`${named}: the key must not be INTERNAL_TOKEN`)
      return
    }
    if (ids.has(id)) {
      problems.push(`${named}: the id is used twice`)
      return
    }
    const digest = digestOf(key)
    const hex = digest.toString('hex')
    if (digests.has(hex)) {
      problems.push(`${named}: the same key is configured twice`)
      return
    }
    ids.add(id)
    digests.add(hex)
    keys.push({ id, digest, identityHeader: encodeIdentity({ kind: 'admin', keyId: id }) })
  })
  if (problems.length > 0) throw new ConfigInvalidError(problems.join('; '))
  return keys
}

/**
 * The configured admin keys. A presented key is hashed once and its digest compared with every
 * configured digest in constant time (timingSafeEqual, no early exit): neither the comparison nor
 * the number of keys compared depends on how much of a key was right.
 */
export class AdminKeyring {
  readonly #keys: readonly AdminKey[]

  constructor (keys: readonly AdminKey[]) {
    this.#keys = keys
  }

  /** False when no key is configured: admin routes answer 503 GATEWAY_ADMIN_DISABLED. */
  get enabled (): boolean { return this.#keys.length > 0 }

  get ids (): string[] { return this.#keys.map((k) => k.id) }

  /** The key `presented` is, or undefined. */
  match (presented: string): AdminKey | undefined {
    if (presented.length === 0 || presented.length > MAX_ADMIN_KEY_LENGTH) return undefined
    const digest = digestOf(presented)
    let found: AdminKey | undefined
    for (const key of this.#keys) {
      if (timingSafeEqual(digest, key.digest) && found === undefined) found = key
    }
    return found
  }
}
