// Requests to an app under test through Fastify's inject. A service behind the gateway is called in one of
// two ways, and the helper's name says which: as the gateway forwards (internal credential, and the
// identity it resolved) or as anyone else (no credential at all).
import { IDENTITY_HEADER, INTERNAL_TOKEN_HEADER, encodeIdentity, type Identity } from '@weapp/common'

/** The part of fastify's InjectOptions these helpers send. */
export interface InjectRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS'
  url: string
  headers: Record<string, string>
  payload?: string | Buffer | object
}

/** A Fastify instance (or anything with its `inject`); the response type is the app's own. */
export interface Injectable<R> { inject (opts: InjectRequest): Promise<R> }

export interface PublicCall {
  method?: InjectRequest['method']
  url: string
  /** A JSON body (objects), or a raw one (a string or Buffer: malformed JSON, multipart). */
  payload?: string | Buffer | object
  headers?: Record<string, string>
}

export interface InternalCall extends PublicCall {
  /** The INTERNAL_TOKEN the app was configured with. */
  token: string
  /** The identity the gateway resolved (none: an unauthenticated route). */
  identity?: Identity
}

/** The headers the gateway adds on the internal hop. */
export function internalHeaders (token: string, identity?: Identity): Record<string, string> {
  return { [INTERNAL_TOKEN_HEADER]: token, ...(identity !== undefined ? { [IDENTITY_HEADER]: encodeIdentity(identity) } : {}) }
}

/** A request as the gateway forwards it: `x-internal-token`, and `x-weapp-identity` when `identity` is given. */
export async function callInternal<R> (app: Injectable<R>, { token, identity, ...call }: InternalCall): Promise<R> {
  return await callPublic(app, { ...call, headers: { ...call.headers, ...internalHeaders(token, identity) } })
}

/** A request with no internal credential and no identity: only the headers given. */
export async function callPublic<R> (app: Injectable<R>, { method = 'GET', url, payload, headers = {} }: PublicCall): Promise<R> {
  return await app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}) })
}
