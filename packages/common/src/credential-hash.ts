import { hash } from 'node:crypto'

/** The three credential forms a client can present (docs/internals.md). */
export type SessionCredential =
  | { kind: 'bearer', token: string }
  | { kind: 'wafer1', id: string, skey: string }
  | { kind: 'wafer2', skey: string }

/**
 * sha256 hex of `"bearer:" + token`, `"wafer1:" + id + ":" + skey` or `"wafer2:" + skey`: the only form in
 * which the session service stores a credential, the key of the gateway's auth cache, and what
 * `session.revoked` names. One definition, so the two sides can never drift apart.
 */
export function credentialHash (credential: SessionCredential): string {
  switch (credential.kind) {
    case 'bearer': return hash('sha256', 'bearer:' + credential.token, 'hex')
    case 'wafer1': return hash('sha256', 'wafer1:' + credential.id + ':' + credential.skey, 'hex')
    case 'wafer2': return hash('sha256', 'wafer2:' + credential.skey, 'hex')
  }
}
