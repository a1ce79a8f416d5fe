import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import type { SessionCredential } from '../credential-hash.js'
import { UserIdentitySchema } from './identity.js'

// `POST /internal/resolve` (docs/internals.md#session-service-internal-routes): the gateway turns a client
// credential into a trusted identity. The session service validates the request and serialises the answer
// with these schemas; the gateway builds the request and checks the answer with them.

export const RESOLVE_PATH = '/internal/resolve'

const CredentialPart = Type.String({ minLength: 1, maxLength: 512 })

// Exactly one credential form. Each branch caps its property count instead of using additionalProperties:
// false, so the union means the same whatever Ajv's removeAdditional setting (which strips properties
// while trying branches of an anyOf).
export const ResolveRequestSchema = Type.Union([
  Type.Object({ bearer: CredentialPart }, { maxProperties: 1 }),
  Type.Object({ waferId: CredentialPart, waferSkey: CredentialPart }, { maxProperties: 2 }),
  Type.Object({ skey: CredentialPart }, { maxProperties: 1 })
])

/** 200: the session's user and when the session ends unless used again (its idle expiry). */
export const ResolveResponseSchema = Type.Object({
  identity: UserIdentitySchema,
  expiresAt: Type.String({ format: 'date-time' })
})

export type ResolveRequest = Static<typeof ResolveRequestSchema>
export type ResolveResponse = Static<typeof ResolveResponseSchema>

/** The request body for a credential (what the gateway sends). */
export function resolveRequestOf (credential: SessionCredential): ResolveRequest {
  switch (credential.kind) {
    case 'bearer': return { bearer: credential.token }
    case 'wafer1': return { waferId: credential.id, waferSkey: credential.skey }
    case 'wafer2': return { skey: credential.skey }
  }
}

/** The credential a validated request body names (what the session service looks up). */
export function credentialOfResolveRequest (body: ResolveRequest): SessionCredential {
  if ('bearer' in body) return { kind: 'bearer', token: body.bearer }
  if ('waferId' in body) return { kind: 'wafer1', id: body.waferId, skey: body.waferSkey }
  return { kind: 'wafer2', skey: body.skey }
}

const responseCheck = Compile(ResolveResponseSchema)

/** A 200 body as the contract says, or null (then the session service answered something else: a 502). */
export function parseResolveResponse (value: unknown): ResolveResponse | null {
  return responseCheck.Check(value) ? value : null
}
