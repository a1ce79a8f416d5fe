import { hash } from 'node:crypto'

/** The three credential forms a client can present (docs/internals.md). */
export type SessionCredential =
  | { kind: 'bearer', token: string }
  | { kind: 'wafer1', id: string, skey: string }
  | { kind: 'wafer2', skey: string }

/** The agent console's cookie value (docs/console.md#sessions): resolved by its own route, never by /internal/resolve. */
export interface ConsoleCredential { kind: 'console', token: string }

/**
 * sha256 hex of `"bearer:" + token`, `"wafer1:" + id + ":" + skey`, `"wafer2:" + skey` or `"console:" + token`:
 * the only form in which the session service stores a credential, the key of the gateway's auth cache, and
 * what `session.revoked` and `agent.sessions.ended` name. One definition, so the two sides can never drift apart.
 */
export function credentialHash (credential: SessionCredential | ConsoleCredential): string {
  switch (credential.kind) {
    case 'bearer': return hash('sha256', 'bearer:' + credential.token, 'hex')
    case 'wafer1': return hash('sha256', 'wafer1:' + credential.id + ':' + credential.skey, 'hex')
    case 'wafer2': return hash('sha256', 'wafer2:' + credential.skey, 'hex')
    case 'console': return hash('sha256', 'console:' + credential.token, 'hex')
  }
}
