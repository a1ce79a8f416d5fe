import type { IncomingHttpHeaders } from 'node:http'
import { credentialHash } from '../credential-hash.js'

/** A credential as presented by a client, with its credentialHash (docs/internals.md). */
export type Credential =
  | { readonly kind: 'bearer', readonly token: string, readonly hash: string }
  | { readonly kind: 'wafer1', readonly id: string, readonly skey: string, readonly hash: string }
  | { readonly kind: 'wafer2', readonly skey: string, readonly hash: string }

export type CredentialKind = Credential['kind']

/**
 * The agent console's cookie (docs/console.md#sessions): resolved by the session service's agent route,
 * accepted by `agent` routes only, never taken for any other policy's credential.
 */
export interface ConsoleCookieCredential { readonly kind: 'console', readonly token: string, readonly hash: string }

/** Any credential the auth cache keys. */
export type CachedCredential = Credential | ConsoleCookieCredential

/**
 * The shapes the session service issues (generateCredential in services/session/src/sessions/credentials.ts):
 * a bearer token is the base64url of 32 random bytes, a wafer id the hex of 32, a skey the hex of 20.
 * Anything else cannot be a session: it is refused as malformed before any lookup or hashing.
 */
export const CREDENTIAL_SHAPES = {
  bearer: /^[A-Za-z0-9_-]{43}$/,
  waferId: /^[0-9a-f]{64}$/,
  skey: /^[0-9a-f]{40}$/
} as const

const { bearer: BEARER_SHAPE, waferId: WAFER_ID_SHAPE, skey: SKEY_SHAPE } = CREDENTIAL_SHAPES

function wafer1Shaped (id: string, skey: string): boolean {
  return WAFER_ID_SHAPE.test(id) && SKEY_SHAPE.test(skey)
}

function header (headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return typeof value === 'string' ? value : undefined
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), or undefined. */
export function bearerToken (headers: IncomingHttpHeaders): string | undefined {
  const value = headers.authorization
  if (value === undefined || value.length < 8) return undefined
  // "Bearer " compared without allocating; the scheme is case-insensitive (RFC 9110 11.1).
  if ((value.charCodeAt(0) | 0x20) !== 0x62 || value.slice(1, 7).toLowerCase() !== 'earer ') return undefined
  const token = value.slice(7).trim()
  return token.length === 0 || token.includes(' ') ? undefined : token
}

export function bearerCredential (token: string): Credential {
  return { kind: 'bearer', token, hash: credentialHash({ kind: 'bearer', token }) }
}

export function wafer1Credential (id: string, skey: string): Credential {
  return { kind: 'wafer1', id, skey, hash: credentialHash({ kind: 'wafer1', id, skey }) }
}

export function wafer2Credential (skey: string): Credential {
  return { kind: 'wafer2', skey, hash: credentialHash({ kind: 'wafer2', skey }) }
}

export function consoleCookieCredential (token: string): ConsoleCookieCredential {
  return { kind: 'console', token, hash: credentialHash({ kind: 'console', token }) }
}

function decode (value: string): string | undefined {
  if (!value.includes('%') && !value.includes('+')) return value
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

/**
 * `X-WX-Id` / `X-WX-Skey` from the query string, names case-insensitive (how wafer gen 1 clients
 * authenticated WebSocket upgrades, and what wafer-node-session accepted on every route).
 */
export function waferQueryCredentials (url: string): { id?: string, skey?: string } {
  const q = url.indexOf('?')
  const found: { id?: string, skey?: string } = {}
  if (q === -1) return found
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=')
    if (eq === -1) continue
    const name = pair.slice(0, eq).toLowerCase()
    if (name !== 'x-wx-id' && name !== 'x-wx-skey') continue
    const value = decode(pair.slice(eq + 1))
    if (value === undefined) continue
    if (name === 'x-wx-id') found.id ??= value
    else found.skey ??= value
  }
  return found
}

/**
 * A credential was presented but cannot be one (not the shape of any the session service issues):
 * refused without a lookup, in the shape its kind of client understands.
 */
export interface Malformed { readonly malformed: true, readonly kind: CredentialKind }

/** One value per kind (compare with ===, or test `isMalformed`). */
export const MALFORMED: Readonly<Record<CredentialKind, Malformed>> = {
  bearer: Object.freeze({ malformed: true, kind: 'bearer' }),
  wafer1: Object.freeze({ malformed: true, kind: 'wafer1' }),
  wafer2: Object.freeze({ malformed: true, kind: 'wafer2' })
}

export function isMalformed (value: Credential | Malformed | null): value is Malformed {
  return value !== null && 'malformed' in value
}

/**
 * The credential a request presents, null when it presents none, or MALFORMED. For `user` routes:
 * Bearer, else wafer headers (id+skey is generation 1, skey alone generation 2). For `wafer1` routes:
 * id+skey from headers, else from the query. For `wafer2` routes: the skey header.
 */
export function extractCredential (policy: 'user' | 'wafer1' | 'wafer2' | 'anyUser', headers: IncomingHttpHeaders, url: string): Credential | Malformed | null {
  if (policy === 'anyUser') {
    // What `user` takes, else wafer generation 1's query parameters (its WebSocket upgrades and tunnel).
    const fromHeaders = extractCredential('user', headers, url)
    if (fromHeaders !== null) return fromHeaders
    const fromQuery = waferQueryCredentials(url)
    if (fromQuery.id === undefined || fromQuery.skey === undefined) return null
    return wafer1Shaped(fromQuery.id, fromQuery.skey) ? wafer1Credential(fromQuery.id, fromQuery.skey) : MALFORMED.wafer1
  }
  if (policy === 'user' && headers.authorization !== undefined) {
    const token = bearerToken(headers)
    if (token !== undefined) return BEARER_SHAPE.test(token) ? bearerCredential(token) : MALFORMED.bearer
  }
  const skey = header(headers, 'x-wx-skey')
  if (policy === 'wafer2') {
    if (skey === undefined) return null
    return SKEY_SHAPE.test(skey) ? wafer2Credential(skey) : MALFORMED.wafer2
  }
  const id = header(headers, 'x-wx-id')
  if (id !== undefined && skey !== undefined) return wafer1Shaped(id, skey) ? wafer1Credential(id, skey) : MALFORMED.wafer1
  if (policy === 'user') {
    if (skey === undefined) return null
    return SKEY_SHAPE.test(skey) ? wafer2Credential(skey) : MALFORMED.wafer2
  }
  // wafer1: the client sends both or neither; without both headers, look at the query.
  if (id !== undefined || skey !== undefined) return null
  const fromQuery = waferQueryCredentials(url)
  if (fromQuery.id === undefined || fromQuery.skey === undefined) return null
  return wafer1Shaped(fromQuery.id, fromQuery.skey) ? wafer1Credential(fromQuery.id, fromQuery.skey) : MALFORMED.wafer1
}
