import type { Identity } from './types.js'
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
  if (typeof parsed !== 'object' || parsed === null) throw new IdentityMalformedError()
  const id = parsed as Record<string, unknown>
  if (id.kind === 'user' && typeof id.openid === 'string' && typeof id.sessionId === 'string' && typeof id.via === 'string') return id as unknown as Identity
  if (id.kind === 'admin' && typeof id.keyId === 'string') return id as unknown as Identity
  throw new IdentityMalformedError()
}
