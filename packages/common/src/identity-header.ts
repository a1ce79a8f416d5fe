import { isIdentity, type Identity } from './contracts/identity.js'
import { IdentityMalformedError } from './errors.js'

/** Header names on the internal hop from the gateway to a service. Clients never set these. */
export const INTERNAL_TOKEN_HEADER = 'x-internal-token'
export const IDENTITY_HEADER = 'x-weapp-identity'
export const REQUEST_ID_HEADER = 'x-request-id'

export function encodeIdentity (identity: Identity): string {
  return Buffer.from(JSON.stringify(identity)).toString('base64url')
}

export function decodeIdentity (value: string): Identity {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))
  } catch {
    throw new IdentityMalformedError()
  }
  if (!isIdentity(parsed)) throw new IdentityMalformedError()
  return parsed
}

/** How many decoded identities an IdentityDecoder keeps by default: a few hundred bytes each. */
export const IDENTITY_DECODER_MAX = 1024

/**
 * decodeIdentity with a bounded memory of the header values it decoded: the gateway sends the same
 * encoded identity with every request of a session (it caches it with the session), so a busy session
 * costs a Map lookup instead of base64 + JSON.parse + the schema check on every request. A value maps to
 * one identity whatever the time, so remembering it changes no answer; malformed values are never kept.
 * The identities handed out are frozen (shared by every request that presents the same value). When
 * full, the oldest value is forgotten first.
 */
export class IdentityDecoder {
  readonly #decoded = new Map<string, Identity>()
  readonly #max: number

  constructor (max = IDENTITY_DECODER_MAX) {
    if (!Number.isInteger(max) || max < 1) throw new Error('IdentityDecoder: max must be a positive integer')
    this.#max = max
  }

  get size (): number { return this.#decoded.size }

  decode (value: string): Identity {
    const known = this.#decoded.get(value)
    if (known !== undefined) return known
    const identity = Object.freeze(decodeIdentity(value))
    if (this.#decoded.size >= this.#max) this.#decoded.delete(this.#decoded.keys().next().value as string)
    this.#decoded.set(value, identity)
    return identity
  }
}
