import { createHash, randomBytes } from 'node:crypto'
import type { SessionKind } from '@weapp/common'

/** What a client presents: one of the three credential forms (docs/internals.md, /internal/resolve). */
export type Credential =
  | { kind: 'bearer', token: string }
  | { kind: 'wafer1', id: string, skey: string }
  | { kind: 'wafer2', skey: string }

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

function sha256Hex (value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex')
}

/**
 * The only form in which a credential is stored or sent between services (docs/internals.md):
 * sha256 hex of "bearer:" + token, "wafer1:" + id + ":" + skey or "wafer2:" + skey.
 */
export function credentialHash (credential: Credential): string {
  switch (credential.kind) {
    case 'bearer': return sha256Hex(`bearer:${credential.token}`)
    case 'wafer1': return sha256Hex(`wafer1:${credential.id}:${credential.skey}`)
    case 'wafer2': return sha256Hex(`wafer2:${credential.skey}`)
  }
}
