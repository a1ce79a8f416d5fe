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
