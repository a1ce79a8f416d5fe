import { randomBytes } from 'node:crypto'
import { credentialHash, type SessionCredential, type SessionKind } from '@weapp/common'

/** What a client presents: one of the three credential forms (docs/internals.md, /internal/resolve). */
export type Credential = SessionCredential
export { credentialHash }

export type CredentialOf<K extends SessionKind> = Extract<Credential, { kind: K }>

/** Bytes of randomness in each credential part: every credential carries at least 160 bits. */
export const BEARER_BYTES = 32
export const WAFER1_ID_BYTES = 32
export const WAFER_SKEY_BYTES = 20

/** A fresh credential of the given kind. bearer: base64url of 32 bytes; wafer ids and skeys: lower-case hex. */
export function generateCredential<K extends SessionKind> (kind: K): CredentialOf<K> {
  let credential: Credential
  switch (kind) {
    case 'bearer': credential = { kind, token: randomBytes(BEARER_BYTES).toString('base64url') }; break
    case 'wafer1': credential = { kind, id: randomBytes(WAFER1_ID_BYTES).toString('hex'), skey: randomBytes(WAFER_SKEY_BYTES).toString('hex') }; break
    default: credential = { kind: 'wafer2', skey: randomBytes(WAFER_SKEY_BYTES).toString('hex') }
  }
  return credential as CredentialOf<K>
}
